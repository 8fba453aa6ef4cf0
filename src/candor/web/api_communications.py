"""Communications: every message in or out, so consents and blocks can point to one."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import Connection

from candor.core.errors import InvalidInput
from candor.ledger.communications import list_communications, record_communication
from candor.ledger.contacts import contact_row
from candor.ledger.registry import purpose_facts, theme_scope
from candor.store.engine import reading
from candor.web.deps import AddressValue, Body, Channel, Cx, Ident, Note, PathId, Reader, Writer

router = APIRouter(prefix="/api/v1", tags=["communications"])


class CommunicationIn(Body):
    channel: Channel
    direction: Literal["in", "out"]
    address: AddressValue | None = None
    theme: Ident | None = None
    purpose: Ident | None = None
    content_ref: Note = ""


def check_communication(conn: Connection, contact_id: int, communication_id: int | None) -> None:
    """A communication named as evidence must be one of this contact's own."""
    if communication_id is None:
        return
    contact_row(conn, contact_id)
    if all(c["id"] != communication_id for c in list_communications(conn, contact_id)):
        raise InvalidInput("communication_id", "not a communication of this contact")


@router.post("/contacts/{contact_id}/communications", status_code=201)
def post_communication(
    contact_id: PathId, body: CommunicationIn, cx: Cx, principal: Writer
) -> dict[str, Any]:
    with cx.engine.begin() as conn:
        contact_row(conn, contact_id)
        # record_communication stores theme and purpose unchecked; refuse undeclared ones here.
        if body.purpose is not None:
            purpose_facts(conn, body.purpose)
        theme_scope(conn, body.theme)
        comm_id = record_communication(
            conn,
            cx.vault,
            contact_id,
            channel=body.channel,
            direction=body.direction,
            address=body.address,
            theme=body.theme,
            purpose=body.purpose,
            content_ref=body.content_ref,
            actor=principal.actor,
            at=cx.clock.now(),
        )
    return {"id": comm_id}


@router.get("/contacts/{contact_id}/communications")
def get_communications(contact_id: PathId, cx: Cx, principal: Reader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        contact_row(conn, contact_id)
        return {"items": list_communications(conn, contact_id)}
