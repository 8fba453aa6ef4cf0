"""The consent ledger: record events, confirm double opt-ins, read the history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, Field
from sqlalchemy import Connection

from candor.accounts.api_keys import Principal
from candor.core.context import Candor
from candor.core.errors import InvalidInput, NotFound
from candor.ledger.consents import ConsentInput, confirm_doi, consent_history, record_consent
from candor.ledger.receipts import consent_receipt
from candor.store.engine import reading
from candor.web.api_communications import check_communication
from candor.web.deps import (
    AddressValue,
    Body,
    Channel,
    Cx,
    Ident,
    PathId,
    Reader,
    RowId,
    Source,
    Writer,
)

router = APIRouter(prefix="/api/v1", tags=["consents"])

# How far ahead of our clock a caller's occurred_at may be (clock skew), no more.
FUTURE_TOLERANCE = timedelta(minutes=5)


class ConsentIn(Body):
    purpose: Ident
    theme: Ident | None = None
    channel: Channel | None = None
    address: AddressValue | None = None
    status: Literal["granted", "refused", "withdrawn"]
    source: Source
    evidence: dict[str, Any] = Field(default_factory=dict)
    communication_id: RowId | None = None
    occurred_at: AwareDatetime | None = None


class ConfirmIn(Body):
    token: str


def stored_event(
    cx: Candor, conn: Connection, contact_id: int, event_id: int, principal: Principal
) -> dict[str, Any]:
    """The event as stored (consents.event_view), evidence only for callers who see identity."""
    history = consent_history(conn, cx.vault, contact_id, identifying=principal.sees_identity)
    return next(e for e in reversed(history) if e["id"] == event_id)


@router.post("/contacts/{contact_id}/consents", status_code=201)
def post_consent(contact_id: PathId, body: ConsentIn, cx: Cx, principal: Writer) -> dict[str, Any]:
    """Record one event; a grant that needs double opt-in comes back `pending` with a token."""
    now = cx.clock.now()
    if body.occurred_at is not None and body.occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("occurred_at", "lies in the future")
    data = ConsentInput(
        purpose=body.purpose,
        status=body.status,
        source=body.source,
        theme=body.theme,
        channel=body.channel,
        address=body.address,
        evidence=body.evidence,
        communication_id=body.communication_id,
        occurred_at=body.occurred_at,
    )
    with cx.engine.begin() as conn:
        check_communication(conn, contact_id, body.communication_id)
        recorded = record_consent(conn, cx.vault, contact_id, data, actor=principal.actor, at=now)
        event = stored_event(cx, conn, contact_id, recorded.event["id"], principal)
    if recorded.confirmation_token is not None:
        event["confirmation_token"] = recorded.confirmation_token
    return event


@router.post("/consents/confirm")
def post_confirm(body: ConfirmIn, request: Request, cx: Cx, principal: Writer) -> dict[str, Any]:
    """Confirm a pending double opt-in; the confirming request is the evidence."""
    now = cx.clock.now()
    evidence = {
        "ip": request.client.host if request.client else None,
        "user_agent": request.headers.get("user-agent"),
        "confirmed_at": now.isoformat(),
    }
    with cx.engine.begin() as conn:
        try:
            event = confirm_doi(conn, cx.vault, body.token, evidence, actor=principal.actor, at=now)
        except NotFound as exc:
            if exc.kind != "token":
                raise
            raise InvalidInput("token", "unknown token") from None
        return stored_event(cx, conn, event["contact_id"], event["id"], principal)


@router.get("/contacts/{contact_id}/consents")
def get_consents(contact_id: PathId, cx: Cx, principal: Reader) -> dict[str, Any]:
    """The whole history, oldest first, with evidence for callers who see identity."""
    with reading(cx.engine) as conn:
        items = consent_history(conn, cx.vault, contact_id, identifying=principal.sees_identity)
    return {"items": items}


@router.get("/consents/{event_id}/receipt")
def get_receipt(event_id: PathId, cx: Cx, principal: Reader) -> dict[str, Any]:
    """The event's consent receipt (Kantara / ISO/IEC 27560 shape; pseudonymous ids only)."""
    with reading(cx.engine) as conn:
        return consent_receipt(conn, event_id)
