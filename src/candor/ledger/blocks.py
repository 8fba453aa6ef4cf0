"""Contact blocks (advertising blocks): complete, per channel, address, theme or a mix.

Setting a block and lifting it are separate recorded acts; a block row never changes. Each
act keeps the evidence of how it was asked for (page, wording, time, IP, user agent), sealed
with the contact's own key like consent evidence, so erasure shreds it with the key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from candor.core.errors import Conflict, InvalidInput, NotFound
from candor.figures import change_counts as counts
from candor.ledger import audit
from candor.ledger.addresses import CHANNELS
from candor.ledger.communications import check_communication
from candor.ledger.contacts import address_id_for, lock_contact
from candor.ledger.events import publish_block, publish_lift
from candor.ledger.registry import theme_scope
from candor.policy.decide import block_kind
from candor.store.tables import block_lifts, blocks, contacts
from candor.store.vault import Vault

EVIDENCE_FIELD = "block_evidence"  # the vault's associated data: not interchangeable with others


def set_block(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    reason: str,
    source: str,
    channel: str | None = None,
    address: str | None = None,
    theme: str | None = None,
    communication_id: int | None = None,
    evidence: dict[str, Any] | None = None,
    actor: str,
    at: datetime,
) -> int:
    """Record a block; with no scope it is a complete advertising block."""
    if not reason:
        raise InvalidInput("reason", "is required")
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput("channel", f"unknown channel {channel!r}")
    row = lock_contact(conn, contact_id)
    check_communication(conn, contact_id, communication_id)
    scope = theme_scope(conn, theme)
    address_id = address_id_for(conn, vault, contact_id, channel, address)
    return insert_block(
        conn,
        contact_id,
        channel,
        address_id,
        scope,
        reason,
        source,
        communication_id,
        actor,
        at,
        sealed=seal_evidence(vault, row["key_id"], evidence),
    )


def seal_evidence(vault: Vault, key_id: str, evidence: dict[str, Any] | None) -> bytes | None:
    """The evidence as JSON encrypted with the contact's key; None when there is none."""
    if not evidence:
        return None
    return vault.encrypt_json(key_id, EVIDENCE_FIELD, evidence)


def open_evidence(vault: Vault, key_id: str, sealed: bytes | None) -> dict[str, Any] | None:
    """The decrypted evidence; None when there was none or the key is destroyed (erased)."""
    opened: dict[str, Any] | None = vault.decrypt_json(key_id, EVIDENCE_FIELD, sealed)
    return opened


def insert_block(
    conn: Connection,
    contact_id: int,
    channel: str | None,
    address_id: int | None,
    theme: str | None,
    reason: str,
    source: str,
    communication_id: int | None,
    actor: str,
    at: datetime,
    *,
    sealed: bytes | None = None,
) -> int:
    """Store a validated block and its audit entry; `sealed` is seal_evidence()'s output."""
    kind = block_kind(channel, address_id, theme)
    block_id = int(
        conn.execute(
            insert(blocks)
            .values(
                contact_id=contact_id,
                kind=kind,
                channel=channel,
                address_id=address_id,
                theme=theme,
                reason=reason,
                source=source,
                communication_id=communication_id,
                created_at=at,
                evidence=sealed,
            )
            .returning(blocks.c.id)
        ).scalar_one()
    )
    counts.blocks_set(conn, {kind: 1})  # Mission Control's active blocks, same transaction
    audit.record(
        conn,
        actor=actor,
        action="block.set",
        object_type="block",
        object_id=block_id,
        at=at,
        contact=contact_id,
        kind=kind,
    )
    publish_block(conn, block_id, contact_id, channel, address_id, theme, at)
    return block_id


def lift_block(
    conn: Connection,
    vault: Vault,
    block_id: int,
    *,
    reason: str,
    source: str,
    communication_id: int | None = None,
    evidence: dict[str, Any] | None = None,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Lift a block: a new recorded act; lifting twice is a conflict."""
    row = conn.execute(select(blocks).where(blocks.c.id == block_id)).mappings().first()
    if row is None:
        raise NotFound("block", block_id)
    contact = lock_contact(conn, row["contact_id"])
    if conn.execute(
        select(block_lifts.c.block_id).where(block_lifts.c.block_id == block_id)
    ).first():
        raise Conflict("block: already lifted")
    check_communication(conn, row["contact_id"], communication_id)
    conn.execute(
        insert(block_lifts).values(
            block_id=block_id,
            lifted_at=at,
            reason=reason or "lifted",
            source=source,
            communication_id=communication_id,
            evidence=seal_evidence(vault, contact["key_id"], evidence),
        )
    )
    counts.block_lifted(conn, row["kind"])
    audit.record(
        conn,
        actor=actor,
        action="block.lift",
        object_type="block",
        object_id=block_id,
        at=at,
        contact=row["contact_id"],
    )
    publish_lift(conn, block_id, row["contact_id"], at)
    key_id = contact["key_id"]
    lift = {"lifted_at": at, "reason": reason or "lifted", "source": source, "evidence": evidence}
    return block_view(row, lift, open_evidence(vault, key_id, row["evidence"]))


def list_blocks(
    conn: Connection, contact_id: int, vault: Vault | None = None
) -> list[dict[str, Any]]:
    """The contact's blocks, oldest first, each with its lift if there was one.

    Evidence is decrypted when a vault is given (callers who may see identifying data);
    without one it stays None.
    """
    key_id = None
    if vault is not None:
        key_id = conn.execute(select(contacts.c.key_id).where(contacts.c.id == contact_id)).scalar()
    rows = conn.execute(
        select(
            blocks,
            block_lifts.c.lifted_at,
            block_lifts.c.reason.label("lift_reason"),
            block_lifts.c.source.label("lift_source"),
            block_lifts.c.evidence.label("lift_evidence"),
        )
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(blocks.c.contact_id == contact_id)
        .order_by(blocks.c.id)
    ).mappings()

    def opened(sealed: bytes | None) -> dict[str, Any] | None:
        return None if vault is None or key_id is None else open_evidence(vault, key_id, sealed)

    out = []
    for r in rows:
        lift = None
        if r["lifted_at"] is not None:
            lift = {
                "lifted_at": r["lifted_at"],
                "reason": r["lift_reason"],
                "source": r["lift_source"],
                "evidence": opened(r["lift_evidence"]),
            }
        out.append(block_view(r, lift, opened(r["evidence"])))
    return out


def block_view(
    row: Any, lift: dict[str, Any] | None, evidence: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A block as the API and the access copy show it (evidence already decrypted)."""
    return {
        "id": row["id"],
        "contact": row["contact_id"],
        "kind": row["kind"],
        "channel": row["channel"],
        "address_id": row["address_id"],
        "theme": row["theme"],
        "reason": row["reason"],
        "source": row["source"],
        "communication_id": row["communication_id"],
        "created_at": row["created_at"].isoformat(),
        "evidence": evidence,
        "lifted": None if lift is None else {**lift, "lifted_at": lift["lifted_at"].isoformat()},
    }
