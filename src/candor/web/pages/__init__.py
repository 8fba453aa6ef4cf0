"""The faces of Candor: customer pages, team pages and Mission Control, with their security."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from candor.web import api_mission_control
from candor.web.pages import (
    contact_actions,
    forms,
    studio_audiences,
    studio_content,
    studio_journeys,
    studio_reports,
    subject,
    team,
    team_contacts,
    team_login,
    team_members,
    team_requests,
)
from candor.web.pages.access import LoginRequired
from candor.web.pages.render import STATIC, render
from candor.web.pages.security import PageRefused, RateLimit, RateLimiter, SecurityHeaders


def _rate_limiter() -> RateLimiter:
    """CANDOR_PUBLIC_RATE="burst/per_second" (default 60/1) per client address."""
    burst, _, rate = os.environ.get("CANDOR_PUBLIC_RATE", "60/1").partition("/")
    try:
        return RateLimiter(float(burst), float(rate or 1))
    except ValueError:
        return RateLimiter()


async def _login_required(request: Request, _: Exception) -> Response:
    if request.url.path.endswith("/stream"):
        return HTMLResponse("login required", status_code=401)
    return RedirectResponse("/team/login", status_code=303)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageRefused)
    title = {401: "Login needed", 422: "Not accepted"}.get(exc.status, "Not allowed")
    return render(request, "team_message.html", exc.status, title=title, text=exc.message)


def install_pages(app: FastAPI) -> None:
    """Routers, static assets, security headers and public rate limits for the pages."""
    limiter = _rate_limiter()
    app.state.pages_limiter = limiter
    app.include_router(subject.router)
    app.include_router(forms.router)
    app.include_router(team_login.router)
    # The studio first: /team/journeys/new must not be read as a journey called "new".
    for studio in (studio_journeys, studio_content, studio_audiences, studio_reports):
        app.include_router(studio.router)
    app.include_router(team.router)
    app.include_router(team_members.router)
    app.include_router(team_contacts.router)
    app.include_router(contact_actions.router)
    app.include_router(team_requests.router)
    app.include_router(api_mission_control.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageRefused, _refused)
    app.add_middleware(RateLimit, limiter=limiter)
    app.add_middleware(SecurityHeaders)


__all__ = ["install_pages"]
