"""Suppression: keyed hashes of erased addresses, so a later create or import cannot re-add them.

Only the blind index is kept (the address cannot be read back from it). Re-adding an
address needs the person's new consent, recorded by `lift_suppression`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from candor.core.errors import Conflict, InvalidInput
from candor.ledger import audit
from candor.store.rights_tables import suppression
from candor.store.sql import in_batch


def kind_of(channel: str) -> str:
    """The blind-index kind of a channel (SMS and WhatsApp numbers share `phone`)."""
    return "phone" if channel in ("sms", "whatsapp") else channel


def suppressed(conn: Connection, indexes: Iterable[str]) -> set[str]:
    """Which of these blind indexes belong to erased addresses (one query per 10,000).

    in_batch: PostgreSQL gets each chunk as one array parameter; SQLite's IN list stays
    below its 32,766 parameters.
    """
    wanted = sorted(set(indexes))
    found: set[str] = set()
    for start in range(0, len(wanted), 10_000):
        chunk = wanted[start : start + 10_000]
        rows = conn.execute(
            select(suppression.c.blind_index).where(in_batch(suppression.c.blind_index, chunk))
        )
        found.update(rows.scalars())
    return found


def refuse_suppressed(
    conn: Connection,
    items: list[tuple[str, str]],
    blind_index: Callable[[str, str], str],
    path: str = "addresses",
) -> None:
    """Conflict naming `addresses[i].value` when an address was erased on request.

    `items` are (channel, normalised value); `blind_index` is the vault's method.
    """
    indexes = [blind_index(channel, value) for channel, value in items]
    hit = suppressed(conn, indexes)
    for position, index in enumerate(indexes):
        if index in hit:
            raise Conflict(
                f"{path}[{position}].value: this address was erased on the person's request; "
                "re-adding it needs their new consent (lift the suppression first)"
            )


def suppress(conn: Connection, entries: Iterable[tuple[str, str]], at: datetime) -> int:
    """Store (kind, blind index) pairs not yet present; returns how many were new."""
    rows = {index: kind for kind, index in entries}
    present = suppressed(conn, rows)
    new = [
        {"blind_index": index, "kind": kind, "reason": "erasure", "created_at": at}
        for index, kind in rows.items()
        if index not in present
    ]
    if new:
        conn.execute(insert(suppression), new)
    return len(new)


def lift_suppression(
    conn: Connection, blind_index: str, *, reason: str, actor: str, at: datetime
) -> None:
    """Remove one suppression entry because the person gave new consent (audited)."""
    if not reason:
        raise InvalidInput("reason", "is required (the new consent that allows re-adding)")
    deleted = conn.execute(delete(suppression).where(suppression.c.blind_index == blind_index))
    if not deleted.rowcount:
        raise InvalidInput("address", "is not suppressed")
    audit.record(
        conn,
        actor=actor,
        action="suppression.lift",
        object_type="suppression",
        object_id=blind_index[:12],
        at=at,
    )


SUPPRESSED_PROBLEM = (
    "address was erased on the person's request; re-adding it needs their new consent"
)


def drop_suppressed(
    conn: Connection, batch: list[Any], reject: Callable[[Any, str], None]
) -> list[Any]:
    """Drop import candidates (with `.addresses` of (channel, value, index)) re-adding an
    erased address; `reject(candidate, channel)` reports each."""
    hit = suppressed(conn, [index for c in batch for _, _, index in c.addresses])
    if not hit:
        return batch
    kept = []
    for candidate in batch:
        clash = next((ch for ch, _, index in candidate.addresses if index in hit), None)
        if clash is None:
            kept.append(candidate)
        else:
            reject(candidate, clash)
    return kept
