"""Contact blocks (advertising blocks): set, list, lift (a new recorded act)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import Connection

from candor.accounts.api_keys import Principal
from candor.core.context import Candor
from candor.ledger.blocks import lift_block, list_blocks, set_block
from candor.ledger.contacts import contact_row
from candor.store.engine import reading
from candor.web.api_communications import check_communication
from candor.web.deps import (
    AddressValue,
    Body,
    Channel,
    Cx,
    Ident,
    Note,
    PathId,
    Reader,
    RowId,
    Writer,
)

router = APIRouter(prefix="/api/v1", tags=["blocks"])


class BlockIn(Body):
    channel: Channel | None = None
    address: AddressValue | None = None
    theme: Ident | None = None
    reason: Note
    communication_id: RowId | None = None
    # How the person asked (form, wording version, time, IP, user agent): sealed with the
    # contact's key, shown only to callers who see identifying data.
    evidence: dict[str, Any] = Field(default_factory=dict)


class LiftIn(Body):
    reason: Note | None = None
    communication_id: RowId | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


def stored_block(
    cx: Candor, conn: Connection, contact_id: int, block_id: int, principal: Principal
) -> dict[str, Any]:
    """The block as stored, its evidence decrypted only for callers who see identity."""
    vault = cx.vault if principal.sees_identity else None
    return next(b for b in list_blocks(conn, contact_id, vault) if b["id"] == block_id)


@router.post("/contacts/{contact_id}/blocks", status_code=201)
def post_block(contact_id: PathId, body: BlockIn, cx: Cx, principal: Writer) -> dict[str, Any]:
    """Set a block; with no channel, address or theme it is a complete advertising block."""
    with cx.engine.begin() as conn:
        check_communication(conn, contact_id, body.communication_id)
        block_id = set_block(
            conn,
            cx.vault,
            contact_id,
            reason=body.reason,
            source="api",
            channel=body.channel,
            address=body.address,
            theme=body.theme,
            communication_id=body.communication_id,
            evidence=body.evidence,
            actor=principal.actor,
            at=cx.clock.now(),
        )
        return stored_block(cx, conn, contact_id, block_id, principal)


@router.get("/contacts/{contact_id}/blocks")
def get_blocks(contact_id: PathId, cx: Cx, principal: Reader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        contact_row(conn, contact_id)
        vault = cx.vault if principal.sees_identity else None
        return {"items": list_blocks(conn, contact_id, vault)}


@router.delete("/blocks/{block_id}")
def delete_block(
    block_id: PathId,
    cx: Cx,
    principal: Writer,
    body: LiftIn | None = None,
    reason: Annotated[Note | None, Query()] = None,
) -> dict[str, Any]:
    """Lift a block: the block stays, the lift is recorded beside it."""
    lift_reason = (body.reason if body is not None else None) or reason or ""
    communication_id = body.communication_id if body is not None else None
    with cx.engine.begin() as conn:
        lifted = lift_block(
            conn,
            cx.vault,
            block_id,
            reason=lift_reason,
            source="api",
            communication_id=communication_id,
            evidence=body.evidence if body is not None else None,
            actor=principal.actor,
            at=cx.clock.now(),
        )
        check_communication(conn, lifted["contact"], communication_id)
        return stored_block(cx, conn, lifted["contact"], block_id, principal)
