"""How browser tests become a team member: the ONE place that creates a member and logs in.

Today a member is an API key pasted on /team/login; when team accounts arrive, only this
module changes (create an account with a password, fill the account form).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from candor.accounts.api_keys import create_api_key
from candor.core.context import Candor


@dataclass(frozen=True)
class Member:
    """A team member a test logs in as: the role and what the login form needs."""

    role: str
    name: str
    credential: str


def team_member(cx: Candor, role: str, name: str | None = None) -> Member:
    """Create a member with `role` (today: an API key of that role)."""
    name = name or f"{role.title()} Member"
    with cx.engine.begin() as conn:
        key = create_api_key(conn, role, name, actor="test", at=cx.clock.now())
    return Member(role, name, key)


def log_in(page: Any, base: str, member: Member) -> None:
    """Log the page in as `member` through the login form; returns on Mission Control."""
    page.goto(f"{base}/team/login")
    page.get_by_label("API key").fill(member.credential)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/team/mission-control")
