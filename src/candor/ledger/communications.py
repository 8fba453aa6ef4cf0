"""Communications: every message in or out, so consents and blocks can point to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from candor.core.errors import InvalidInput
from candor.ledger import audit
from candor.ledger.addresses import CHANNELS
from candor.ledger.contacts import address_id_for, contact_row
from candor.ledger.registry import purpose_facts, theme_scope
from candor.store.tables import communications
from candor.store.vault import Vault


def record_communication(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    channel: str,
    direction: str,
    address: str | None = None,
    theme: str | None = None,
    purpose: str | None = None,
    content_ref: str = "",
    occurred_at: datetime | None = None,
    actor: str,
    at: datetime,
) -> int:
    """Record one message (direction in or out) and return its id."""
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"unknown channel {channel!r}")
    if direction not in ("in", "out"):
        raise InvalidInput("direction", "must be 'in' or 'out'")
    contact_row(conn, contact_id)
    if purpose is not None:
        purpose_facts(conn, purpose)
    theme_scope(conn, theme)
    address_id = address_id_for(conn, vault, contact_id, channel, address)
    comm_id = int(
        conn.execute(
            insert(communications)
            .values(
                contact_id=contact_id,
                channel=channel,
                address_id=address_id,
                direction=direction,
                theme=theme,
                purpose_id=purpose,
                occurred_at=occurred_at or at,
                content_ref=content_ref,
            )
            .returning(communications.c.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action="communication.record",
        object_type="communication",
        object_id=comm_id,
        at=at,
        contact=contact_id,
        direction=direction,
    )
    return comm_id


def check_communication(conn: Connection, contact_id: int, communication_id: int | None) -> None:
    """Evidence may only point to a communication of the same contact."""
    if communication_id is None:
        return
    owner = conn.execute(
        select(communications.c.contact_id).where(communications.c.id == communication_id)
    ).scalar()
    if owner != contact_id:
        raise InvalidInput("communication_id", "not a communication of this contact")


def list_communications(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """The contact's communications, oldest first, with their decision and delivery state."""
    rows = conn.execute(
        select(communications)
        .where(communications.c.contact_id == contact_id)
        .order_by(communications.c.id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "channel": r["channel"],
            "direction": r["direction"],
            "address_id": r["address_id"],
            "theme": r["theme"],
            "purpose": r["purpose_id"],
            "occurred_at": r["occurred_at"].isoformat(),
            "content_ref": r["content_ref"],
            "delivery": None
            if r["delivery_status"] is None
            else {
                "status": r["delivery_status"],
                "detail": r["delivery_detail"],
                "at": r["delivery_at"].isoformat() if r["delivery_at"] else None,
                "encoding": r["encoding"],
                "segments": r["segments"],
            },
            "decision": None
            if r["decision_reason"] is None
            else {
                "reason": r["decision_reason"],
                "basis": r["decision_basis"],
                "event": r["decision_event_id"],
            },
        }
        for r in rows
    ]
