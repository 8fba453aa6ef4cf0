"""One-click unsubscribe (RFC 8058): GET shows a confirm page, POST withdraws at once.

No login, no cookie, no redirect. The POST answers 200 and is idempotent: a second POST finds
the permission already withdrawn and records nothing new. A bad or expired link gets a plain
page without details. The pages speak the person's language (English or German) and, like
the other customer pages, record a Global Privacy Control signal once.
"""

from __future__ import annotations

from contextlib import suppress
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from candor.channels.links import UnsubscribeClaims, read_unsubscribe
from candor.core import tokens
from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.journey_tables import outbox
from candor.web.pages.i18n import LANGUAGES
from candor.web.pages.render import render
from candor.web.pages.subject import gpc_signal

router = APIRouter(tags=["subject pages"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<link rel="stylesheet" href="/static/candor.css"></head>
<body class="subject"><main><h1>{title}</h1>{body}</main></body></html>
"""
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A minimal English page for machine-facing endpoints (no scripts, no cookies)."""
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body), status_code=status, headers=_HEADERS
    )


def _show(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    """The person's language (Accept-Language or ?lang=), and no cookie set (RFC 8058)."""
    response = render(request, "unsubscribe.html", status, cookies=False, **context)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _invalid(request: Request) -> HTMLResponse:
    return _show(request, 400, title_key="bad_link", text_key="bad_link_help")


def _claims(cx: Candor, token: str) -> UnsubscribeClaims | None:
    try:
        return read_unsubscribe(cx.vault.signing_key, token, cx.clock.now())
    except tokens.TokenError:
        return None


@router.get("/u/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """The confirm page: one button that POSTs back here. Unsubscribes nothing by itself."""
    cx: Candor = request.app.state.cx
    claims = _claims(cx, token)
    if claims is None:
        return _invalid(request)
    gpc = None
    with suppress(CandorError):  # an erased person: nothing to record the signal against
        gpc = gpc_signal(request, claims.contact_id, page="unsubscribe")
    lang = request.query_params.get("lang")
    action = f"/u/{token}" + (f"?lang={lang}" if lang in LANGUAGES else "")
    return _show(request, title_key="unsub_title", text_key="unsub_text", action=action, gpc=gpc)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """Withdraw the permission the link names, at once (idempotent)."""
    cx: Candor = request.app.state.cx
    claims = _claims(cx, token)
    if claims is None:
        return _invalid(request)
    evidence = {
        "method": "one-click",
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent", "")[:500],
        "outbox_id": claims.outbox_id,
    }
    # An erased contact or a purpose no longer declared: nothing is left to stop.
    with suppress(CandorError):
        withdraw(cx, claims, evidence)
    return _show(request, title_key="unsub_done_title", text_key="unsub_done")


def withdraw(cx: Candor, claims: UnsubscribeClaims, evidence: dict[str, Any]) -> int | None:
    """Record `withdrawn` for the token's scope unless it is already withdrawn; the event id."""
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        purpose = purpose_facts(conn, claims.purpose_id)
        theme = theme_ref(conn, claims.theme) if claims.theme else None
        current = decide_for(
            conn, claims.contact_id, purpose, claims.channel, claims.address_id, theme, at
        )
        if current.reason == "withdrawn":
            return None
        communication = None
        if claims.outbox_id is not None:
            communication = conn.execute(
                select(outbox.c.communication_id).where(
                    outbox.c.id == claims.outbox_id, outbox.c.contact_id == claims.contact_id
                )
            ).scalar()
        recorded = record_consent(
            conn,
            cx.vault,
            claims.contact_id,
            ConsentInput(
                purpose=claims.purpose_id,
                status="withdrawn",
                source="unsubscribe",
                theme=claims.theme,
                channel=claims.channel,
                evidence={**evidence, "at": at.isoformat(), "communication_id": communication},
                communication_id=communication,
            ),
            actor="subject",
            at=at,
        )
        return int(recorded.event["id"])
