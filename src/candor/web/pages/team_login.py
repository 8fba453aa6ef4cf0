"""Team login as oneself: e-mail and password, the one-time set-password link, logout, and the
member's own account page (password, time zone). Thin: each POST calls one accounts verb."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from candor.accounts import members
from candor.accounts.login import Attempt, LoginResult, log_in
from candor.accounts.sessions import end_session, session_for
from candor.core.errors import CandorError, InvalidInput
from candor.web.pages.access import (
    SESSION_COOKIE,
    clear_session_cookie,
    current_session,
    set_session_cookie,
    team,
)
from candor.web.pages.render import cx_of, render
from candor.web.pages.security import Session, check_csrf, client_ip, form_text, page_key
from candor.web.pages.times import readable

router = APIRouter(tags=["team pages"], include_in_schema=False)
Account = Annotated[Session, Depends(team("account"))]
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
NOTICES = {"password": "Your password is set. Log in with it.", "out": "You are logged out."}


@router.get("/team/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return render(request, "team_login.html", notice=notice)


def _refusal(result: LoginResult, at: datetime) -> tuple[int, str]:
    if result.refused == "wrong":
        return 401, "Wrong e-mail or password."
    assert result.until is not None
    minutes = max(1, round((result.until - at).total_seconds() / 60))
    until = readable(result.until, "UTC")
    if result.refused == "locked":
        return 429, (
            f"This login is locked after ten wrong passwords. Try again after {until} "
            f"(in about {minutes} minutes), or ask an admin for a new set-password link."
        )
    return 429, f"Too many wrong passwords from your network. Try again after {until}."


@router.post("/team/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    """Check e-mail and password; on success a server-side session and its cookie."""
    cx = cx_of(request)
    form = await request.form()
    request.state.session = None
    check_csrf(cx, request, form)
    email = form_text(form, "email", 320).strip()
    attempt = Attempt(email, form_text(form, "password", 300), client_ip(request) or "unknown")
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        result = log_in(conn, attempt, pepper=page_key(cx, "login"), at=now)
    if result.token is None:
        status, problem = _refusal(result, now)
        refused = render(request, "team_login.html", status, problem=problem, email=email)
        if result.until is not None:
            wait = max(1, int((result.until - now).total_seconds()))
            refused.headers["Retry-After"] = str(wait)
        return refused
    response = RedirectResponse("/team/mission-control", status_code=303)
    set_session_cookie(response, request, result.token)
    return response


@router.post("/team/logout", response_class=HTMLResponse)
async def logout(request: Request) -> Response:
    """End the session in the database (the cookie is worthless from now on) and drop it."""
    cx = cx_of(request)
    session = current_session(request)
    form = await request.form()
    check_csrf(cx, request, form)
    token = request.cookies.get(SESSION_COOKIE, "")
    with cx.engine.begin() as conn:
        found = session_for(conn, token, at=cx.clock.now()) if session else None
        if found is not None:
            end_session(conn, found, at=cx.clock.now())
    response = RedirectResponse("/team/login?done=out", status_code=303)
    clear_session_cookie(response, request)
    return response


@router.get("/team/set-password/{token}", response_class=HTMLResponse)
def set_password_form(request: Request, token: str) -> HTMLResponse:
    cx = cx_of(request)
    request.state.session = None
    try:
        with cx.engine.begin() as conn:
            member = members.member_by_link(conn, token[:200], at=cx.clock.now())
    except InvalidInput as exc:
        return render(request, "team_message.html", 410, title="Link not valid", text=exc.problem)
    return render(request, "team_password.html", member=member)


@router.post("/team/set-password/{token}", response_class=HTMLResponse)
async def set_password(request: Request, token: str) -> Response:
    """Set the password from the link; the link is spent and the member logs in with it."""
    cx = cx_of(request)
    form = await request.form()
    request.state.session = None
    check_csrf(cx, request, form)
    password = form_text(form, "password", 300)
    try:
        with cx.engine.begin() as conn:
            member = members.member_by_link(conn, token[:200], at=cx.clock.now())
            if password != form_text(form, "repeat", 300):
                raise InvalidInput("repeat", "the two passwords differ")
            members.set_password_with_link(conn, token[:200], password, at=cx.clock.now())
    except InvalidInput as exc:
        if exc.field == "link":
            return render(request, "team_message.html", 410, title="Link not valid", text="")
        return render(request, "team_password.html", 422, member=member, problem=exc.problem)
    return RedirectResponse("/team/login?done=password", status_code=303)


@router.get("/team/account", response_class=HTMLResponse)
def account(request: Request, session: Account) -> HTMLResponse:
    done = request.query_params.get("done")
    notice = {"password": "Password changed.", "zone": "Time zone saved."}.get(done or "")
    return render(request, "team_account.html", zones=ZONES, notice=notice)


@router.post("/team/account/{what}", response_class=HTMLResponse)
async def account_change(request: Request, what: str, session: Account) -> Response:
    """Change one's own password (other sessions end) or time zone."""
    cx = cx_of(request)
    form = await request.form()
    check_csrf(cx, request, form)
    try:
        with cx.engine.begin() as conn:
            if what == "password":
                new = form_text(form, "password", 300)
                if new != form_text(form, "repeat", 300):
                    raise InvalidInput("repeat", "the two passwords differ")
                current = form_text(form, "current", 300)
                members.change_password(
                    conn,
                    session.member_id,
                    current,
                    new,
                    keep_session=session.nonce,
                    at=cx.clock.now(),
                )
            elif what == "zone":
                zone = form_text(form, "time_zone", 64)
                members.set_time_zone(conn, session.member_id, zone, at=cx.clock.now())
            else:
                return render(request, "team_message.html", 404, title="Unknown action", text="")
    except CandorError as exc:
        problem = str(exc)
        return render(request, "team_account.html", 422, zones=ZONES, problem=problem)
    return RedirectResponse(f"/team/account?done={what}", status_code=303)
