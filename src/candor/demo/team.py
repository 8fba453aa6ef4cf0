"""The demo's last step: an admin member and the one-time link to set its password, so the
team pages can be opened right after `make demo`."""

from __future__ import annotations

from candor.accounts import members
from candor.core.context import Candor

ADMIN_EMAIL = "admin@candor.example"
LOCAL_URL = "http://127.0.0.1:8000"  # where `candor serve` listens by default


def create_demo_admin(cx: Candor, base_url: str = LOCAL_URL) -> str:
    """Add the demo admin (or give the existing one a new link); returns the one-time link."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        existing = members.member_by_email(conn, ADMIN_EMAIL)
        if existing is None:
            link = members.add_member(
                conn, ADMIN_EMAIL, "admin", name="Demo Admin", actor="demo", at=now
            )
        else:
            link = members.issue_password_link(conn, existing.id, actor="demo", at=now)
    return link.url(base_url)
