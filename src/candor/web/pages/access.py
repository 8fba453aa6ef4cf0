"""Who may see which team page: the session's role, checked by a dependency per page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request

from candor.web.pages.render import cx_of
from candor.web.pages.security import PageRefused, Session, read_session

# Page -> roles that may see it; everyone else gets 403.
PAGE_ROLES: Final[dict[str, tuple[str, ...]]] = {
    "mission_control": ("admin", "marketer", "dpo", "auditor"),
    "journeys": ("admin", "marketer", "dpo", "auditor"),
    "journey_actions": ("admin", "marketer"),
    "studio": ("admin", "marketer"),
    "reports": ("admin", "marketer", "dpo", "auditor"),
    "contacts": ("admin", "dpo"),
    "requests": ("admin", "dpo"),
}


class LoginRequired(Exception):
    """No valid session: pages send the browser to the login page."""


def current_session(request: Request) -> Session | None:
    """The session (also kept on request.state for templates and CSRF)."""
    session = read_session(cx_of(request), request)
    request.state.session = session
    return session


def team(page: str) -> Callable[[Request], Session]:
    """A dependency: the session of a role allowed to see `page`, else login or 403."""
    roles = PAGE_ROLES[page]

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise LoginRequired()
        if session.principal.role not in roles:
            raise PageRefused(403, f"the {session.principal.role} role may not see this page")
        return session

    return dependency


def may(session: Session | None, page: str) -> bool:
    """Whether the session's role may see `page` (for navigation links and buttons)."""
    return session is not None and session.principal.role in PAGE_ROLES[page]
