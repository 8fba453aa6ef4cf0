"""Tamper evidence: each contact's consent events form a hash chain, checked by verify.

Chaining per contact keeps the rest verifiable after an erasure removes one person's
events; ledger_heads holds each chain's last link so a removed newest event is noticed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from candor.store.tables import consent_events, contacts, ledger_heads

HASHED_FIELDS = (
    "contact_id",
    "seq",
    "purpose_id",
    "purpose_version",
    "theme",
    "channel",
    "address_id",
    "status",
    "source",
    "occurred_at",
    "recorded_at",
    "evidence",
    "communication_id",
    "confirms_event_id",
    "prev_hash",
)


def event_hash(values: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an event's stored fields (evidence as ciphertext)."""
    canonical: dict[str, Any] = {}
    for name in HASHED_FIELDS:
        value = values.get(name)
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        elif isinstance(value, datetime):
            value = (
                (value.astimezone(UTC) if value.tzinfo else value).replace(tzinfo=None).isoformat()
            )
        canonical[name] = value
    return hashlib.sha256(
        json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


@dataclass(frozen=True)
class BadEvent:
    contact_id: int
    event_id: int | None
    problem: str


def verify_ledger(conn: Connection) -> Iterator[BadEvent]:
    """Yield every broken link: altered events, gaps, and heads that do not match."""
    heads = {row.contact_id: row for row in conn.execute(select(ledger_heads))}
    known = contacts.c.id.label("known_contact")  # no foreign key (migration 0014)
    query = (
        select(consent_events, known)
        .outerjoin(contacts, contacts.c.id == consent_events.c.contact_id)
        .order_by(consent_events.c.contact_id, consent_events.c.seq)
    )
    current: int | None = None
    prev_hash, expected_seq, last_id = "", 1, None
    rows = conn.execution_options(stream_results=True, yield_per=5000).execute(query).mappings()
    for row in rows:
        if row["contact_id"] != current:
            if current is not None:
                yield from _check_head(
                    heads.pop(current, None), current, expected_seq - 1, prev_hash, last_id
                )
            current, prev_hash, expected_seq = row["contact_id"], "", 1
        if row["known_contact"] is None:
            yield BadEvent(row["contact_id"], row["id"], "names a contact that does not exist")
        if row["seq"] != expected_seq:
            yield BadEvent(
                row["contact_id"],
                row["id"],
                f"sequence gap: expected {expected_seq}, found {row['seq']}",
            )
        elif row["prev_hash"] != prev_hash:
            yield BadEvent(row["contact_id"], row["id"], "previous-hash link broken")
        elif event_hash(dict(row)) != row["hash"]:
            yield BadEvent(row["contact_id"], row["id"], "content does not match its hash")
        prev_hash, expected_seq, last_id = row["hash"], row["seq"] + 1, row["id"]
    if current is not None:
        yield from _check_head(
            heads.pop(current, None), current, expected_seq - 1, prev_hash, last_id
        )
    for contact_id, head in heads.items():
        yield BadEvent(
            contact_id,
            int(head.last_event_id),
            f"all {head.event_count} events of the chain are missing",
        )


def _check_head(
    head: Any, contact_id: int, count: int, last_hash: str, last_id: int | None
) -> Iterator[BadEvent]:
    if head is None:
        yield BadEvent(contact_id, last_id, "chain has no head record")
    elif head.event_count != count or head.last_hash != last_hash:
        yield BadEvent(
            contact_id,
            int(head.last_event_id),
            f"newest events missing: head says {head.event_count}, found {count}",
        )
