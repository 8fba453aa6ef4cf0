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
    """Yield every broken link: altered events, gaps, and heads that do not match.

    Events and heads are both read in contact order and merged, so memory stays flat
    however many chains there are.
    """
    heads = _Heads(conn)
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
                    heads.take(current), current, expected_seq - 1, prev_hash, last_id
                )
            yield from heads.missing_before(row["contact_id"])
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
        yield from _check_head(heads.take(current), current, expected_seq - 1, prev_hash, last_id)
    yield from heads.missing_before(None)


class _Heads:
    """The chain heads in contact order, read alongside the events (a merge)."""

    def __init__(self, conn: Connection) -> None:
        query = select(ledger_heads).order_by(ledger_heads.c.contact_id)
        self._rows = iter(
            conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        )
        self._next: Any = next(self._rows, None)

    def missing_before(self, contact_id: int | None) -> Iterator[BadEvent]:
        """Heads of contacts before `contact_id` (None: all left) whose events are all gone."""
        while self._next is not None and (contact_id is None or self._next.contact_id < contact_id):
            head, self._next = self._next, next(self._rows, None)
            yield BadEvent(
                head.contact_id,
                int(head.last_event_id),
                f"all {head.event_count} events of the chain are missing",
            )

    def take(self, contact_id: int) -> Any:
        """The head of this contact's chain, or None when it has none."""
        if self._next is not None and self._next.contact_id == contact_id:
            head, self._next = self._next, next(self._rows, None)
            return head
        return None


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
