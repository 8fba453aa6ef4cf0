"""Who is logged in and may see which team page: the one place pages get their session.

The cookie holds a random token; the session behind it lives in the database (accounts.sessions),
so logout, disabling a member or changing a role ends it on the very next request. A page
needs only `Depends(team("page"))` (roles per page below) or `Depends(member_with("dpo"))`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request, Response

from candor.accounts.sessions import VALID_FOR, MemberSession, session_for
from candor.web.pages.render import cx_of
from candor.web.pages.roles import PAGE_ROLES, may
from candor.web.pages.security import PageRefused, Session, is_https

SESSION_COOKIE: Final = "candor_session"


class LoginRequired(Exception):
    """No valid session: pages send the browser to the login page."""


def _session(found: MemberSession) -> Session:
    return Session(
        found.principal, found.token_digest, found.member_id, found.email, found.time_zone
    )


def current_session(request: Request) -> Session | None:
    """The live session behind the cookie (also kept on request.state for templates and CSRF)."""
    cached = getattr(request.state, "session", None)
    if isinstance(cached, Session):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    session = None
    if token:
        cx = cx_of(request)
        with cx.engine.begin() as conn:
            found = session_for(conn, token, at=cx.clock.now())
        session = _session(found) if found is not None else None
    request.state.session = session
    return session


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure over https, gone with the session."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(VALID_FOR.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=is_https(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )


def member_with(*roles: str) -> Callable[[Request], Session]:
    """A dependency: the session of a member with one of `roles`, else login or 403."""

    def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            raise LoginRequired()
        if session.principal.role not in roles:
            raise PageRefused(403, f"the {session.principal.role} role may not see this page")
        return session

    return dependency


def team(page: str) -> Callable[[Request], Session]:
    """A dependency: the session of a role allowed to see `page` (PAGE_ROLES)."""
    return member_with(*PAGE_ROLES[page])


__all__ = ["PAGE_ROLES", "LoginRequired", "current_session", "may", "member_with", "team"]
