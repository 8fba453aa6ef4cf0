"""Jinja2 rendering of the pages (autoescaped), with language, CSRF token and no-store caching."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from candor.core.context import Candor
from candor.web.pages.i18n import LANG_COOKIE, LANGUAGES, choose_language, translator
from candor.web.pages.roles import may
from candor.web.pages.security import csrf_token, is_https, remember_csrf_seed
from candor.web.pages.times import when

HERE: Final = Path(__file__).parent
TEMPLATES: Final = HERE / "templates"
STATIC: Final = HERE / "static"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["when"] = when
env.globals["may"] = may  # every team page's navigation asks it


def cx_of(request: Request) -> Candor:
    cx: Candor = request.app.state.cx
    return cx


def render(
    request: Request, name: str, status: int = 200, *, cookies: bool = True, **context: Any
) -> HTMLResponse:
    """Render a template with the person's language, a CSRF token and strict caching.

    cookies=False sets none (no CSRF seed, no language cookie): for pages that must work
    without cookies, such as the RFC 8058 unsubscribe page.
    """
    cx = cx_of(request)
    lang = choose_language(request)
    other = "de" if lang == "en" else "en"
    html = env.get_template(name).render(
        lang=lang,
        t=translator(lang),
        csrf=csrf_token(cx, request) if cookies else "",
        switch_href=f"{request.url.path}?lang={other}",
        session=getattr(request.state, "session", None),
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if not cookies:
        return response
    remember_csrf_seed(request, response)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=31536000,
            samesite="strict",
            secure=is_https(request),
            httponly=True,
            path="/",
        )
    return response
