"""Reading delivery reports: a person's (for their contact page), and those held for review.

Held reports are the ones no message of ours matched or no parser could read. They are
listed by id and reason, read one at a time (the raw message, opened with its own key), and
discarded by destroying that key: the row stays as a record that a report came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select, update

from candor.channels.reports import EVIDENCE, RAW_FIELD, Unreadable
from candor.core.errors import NotFound
from candor.ledger import audit
from candor.store.channel_tables import delivery_reports
from candor.store.tables import contacts
from candor.store.vault import Vault

RAW_LIMIT: Final = 256 * 1024  # of a report kept for review: enough for any real DSN or ARF


@dataclass(frozen=True)
class HeldReport:
    """One report waiting for a reviewer (no personal data: the raw message is apart)."""

    id: int
    channel: str
    problem: str
    received_at: datetime
    readable: bool  # False once discarded


def held_reports(conn: Connection, limit: int = 200) -> list[HeldReport]:
    """Reports held for review, oldest first."""
    d = delivery_reports
    query = (
        select(d.c.id, d.c.channel, d.c.detail, d.c.received_at, d.c.raw)
        .where(d.c.state == "review")
        .order_by(d.c.id)
        .limit(limit)
    )
    return [
        HeldReport(r.id, r.channel, r.detail or "", r.received_at, r.raw is not None)
        for r in conn.execute(query)
    ]


def read_held(conn: Connection, vault: Vault, report_id: int, *, actor: str, at: datetime) -> bytes:
    """The raw message of a held report (audited: a reviewer read it)."""
    d = delivery_reports
    row = conn.execute(
        select(d.c.raw, d.c.key_id).where(d.c.id == report_id, d.c.state == "review")
    ).first()
    raw = vault.decrypt(row.key_id, RAW_FIELD, row.raw) if row and row.key_id else None
    if raw is None:
        raise NotFound("held report", report_id)
    audit.record(
        conn,
        actor=actor,
        action="delivery_report.read",
        object_type="delivery_report",
        object_id=report_id,
        at=at,
    )
    return raw


def discard_held(
    conn: Connection, vault: Vault, report_id: int, *, actor: str, at: datetime
) -> None:
    """Destroy a held report's key and raw message; the row remains as the record."""
    d = delivery_reports
    row = conn.execute(select(d.c.key_id).where(d.c.id == report_id, d.c.state == "review")).first()
    if row is None or row.key_id is None:
        raise NotFound("held report", report_id)
    conn.execute(update(d).where(d.c.id == report_id).values(raw=None, key_id=None))
    vault.destroy([row.key_id])
    audit.record(
        conn,
        actor=actor,
        action="delivery_report.discard",
        object_type="delivery_report",
        object_id=report_id,
        at=at,
    )


@dataclass(frozen=True)
class ContactReport:
    """A delivery report about one of a person's messages, as their contact page shows it."""

    id: int
    received_at: datetime
    channel: str
    kind: str
    outcome: str
    effect: str
    detail: str | None
    communication_id: int | None
    address_id: int | None
    evidence: dict[str, object] | None


def reports_of(conn: Connection, vault: Vault, contact_id: int) -> list[ContactReport]:
    """A person's delivery reports, newest first, evidence opened with their key."""
    d = delivery_reports
    key_id = conn.execute(select(contacts.c.key_id).where(contacts.c.id == contact_id)).scalar()
    rows = conn.execute(select(d).where(d.c.contact_id == contact_id).order_by(d.c.id.desc()))
    return [
        ContactReport(
            r.id,
            r.received_at,
            r.channel,
            r.kind,
            r.outcome,
            r.effect,
            r.detail,
            r.communication_id,
            r.address_id,
            vault.decrypt_json(key_id, EVIDENCE, r.evidence) if key_id else None,
        )
        for r in rows
    ]


def hold_for_review(
    vault: Vault, items: Sequence[Unreadable], at: datetime
) -> list[dict[str, Any]]:
    """Rows keeping unreadable or unmatched reports, each sealed under a key of its own
    (destroyed when the reviewer discards it): they may name a person we cannot tell."""
    if not items:
        return []
    pending = vault.new_keys(len(items))
    vault.store_keys(pending)
    return [
        {
            "contact_id": None,
            "communication_id": None,
            "outbox_id": None,
            "address_id": None,
            "channel": item.channel,
            "kind": "unreadable",
            "outcome": "failed",
            "effect": "none",
            "detail": item.problem[:64],
            "state": "review",
            "received_at": at,
            "evidence": None,
            "raw": key.encrypt(RAW_FIELD, item.raw[:RAW_LIMIT]),
            "key_id": key.key_id,
        }
        for key, item in zip(pending, items, strict=True)
    ]
