"""One-click unsubscribe (RFC 8058): GET shows a confirm page, POST withdraws at once.

No login, no cookie, no redirect. The POST answers 200 and is idempotent: a second POST finds
the permission already withdrawn and records nothing new. A bad or expired link gets a plain
page without details.
"""

from __future__ import annotations

from contextlib import suppress
from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from candor import tokens
from candor.channels.links import UnsubscribeClaims, read_unsubscribe
from candor.errors import CandorError
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.runtime import Candor
from candor.store.journey_tables import outbox

router = APIRouter(tags=["subject pages"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A minimal subject-facing HTML page (no scripts, no cookies, not cached)."""
    return HTMLResponse(
        _PAGE.format(title=escape(title), body=body), status_code=status, headers=_HEADERS
    )


def _invalid() -> HTMLResponse:
    return page("Link not valid", "<p>This link is not valid or has expired.</p>", 400)


def _claims(cx: Candor, token: str) -> UnsubscribeClaims | None:
    try:
        return read_unsubscribe(cx.vault.signing_key, token, cx.clock.now())
    except tokens.TokenError:
        return None


@router.get("/u/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> HTMLResponse:
    """The confirm page: one button that POSTs back here. Changes nothing."""
    cx: Candor = request.app.state.cx
    if _claims(cx, token) is None:
        return _invalid()
    action = escape(f"/u/{token}")
    body = (
        "<p>Do you want to stop receiving these messages?</p>"
        f'<form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return page("Unsubscribe", body)


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str) -> HTMLResponse:
    """Withdraw the permission the link names, at once (idempotent)."""
    cx: Candor = request.app.state.cx
    claims = _claims(cx, token)
    if claims is None:
        return _invalid()
    evidence = {
        "method": "one-click",
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent", "")[:500],
        "outbox_id": claims.outbox_id,
    }
    # An erased contact or a purpose no longer declared: nothing is left to stop.
    with suppress(CandorError):
        withdraw(cx, claims, evidence)
    return page(
        "Unsubscribed", "<p>You are unsubscribed. You will not get these messages again.</p>"
    )


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
