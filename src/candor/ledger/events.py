"""Publishing domain events into the sync outbox, in the caller's transaction.

Each verb that changes a person's consent, blocks, profile or rights status calls one of the
publish_* functions beside its own writes: the event and one delivery per interested
connector commit or roll back with the change. With no connector configured a call costs one
settings read per transaction. Changes applied on a connector's word (`origin`) are never
sent back to that connector.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from candor.figures import change_counts as counts
from candor.ledger.connector_settings import WebhookConnector, load_settings
from candor.ledger.event_data import (
    IDENTITY_CHANGES,
    SHARED_STATUSES,
    block_data,
    consent_data,
    holders,
    identifiers,
)
from candor.store.sync_tables import sync_deliveries, sync_events
from candor.store.tables import contacts
from candor.store.vault import Vault

_origin: ContextVar[str | None] = ContextVar("candor_sync_origin", default=None)
SEALED_FIELD = "sync"


@contextmanager
def origin(connector_id: str) -> Iterator[None]:
    """Within this block, published events came from `connector_id` (not echoed to it)."""
    token = _origin.set(connector_id)
    try:
        yield
    finally:
        _origin.reset(token)


def targets(conn: Connection, event_type: str) -> list[WebhookConnector]:
    """The connectors that want this event type, except the one it came from."""
    came_from = _origin.get()
    return [c for c in load_settings(conn).webhooks if c.wants(event_type) and c.id != came_from]


def publish(
    conn: Connection, event_type: str, contact_id: int, data: dict[str, Any], *, at: datetime
) -> int:
    """Publish one event about one contact; returns the number of events stored (0 or 1)."""
    return publish_many(conn, event_type, [(contact_id, data)], at=at)


def publish_many(
    conn: Connection,
    event_type: str,
    items: Sequence[tuple[int, dict[str, Any]]],
    *,
    at: datetime,
    sealed: dict[int, tuple[str, bytes]] | None = None,
    able: dict[str, set[int]] | None = None,
) -> int:
    """Publish a batch: one INSERT of events, one of deliveries; returns events stored.

    A connector gets a delivery only for contacts that have its kind of identifier.
    `sealed` maps a contact to (key id, ciphertext) stored with its event; `able` says who
    has which kind of identifier when the contact rows can no longer tell (erasure).
    """
    wanted = targets(conn, event_type) if items else []
    if not wanted:
        return 0
    ids = sorted({cid for cid, _ in items})
    if able is None:
        able = {kind: holders(conn, ids, kind) for kind in {c.identifier for c in wanted}}
    rows, per_event = [], []
    came_from = _origin.get()
    for cid, data in items:
        receivers = [c.id for c in wanted if cid in able[c.identifier]]
        if not receivers:
            continue
        key_id, blob = (sealed or {}).get(cid, (None, None))
        rows.append(
            {
                "event_id": str(uuid.uuid4()),
                "type": event_type,
                "contact_id": cid,
                "origin": came_from,
                "occurred_at": at,
                "key_id": key_id,
                "data": data,
                "sealed": blob,
            }
        )
        per_event.append((cid, receivers))
    if not rows:
        return 0
    event_rows = conn.execute(
        insert(sync_events).returning(sync_events.c.id, sort_by_parameter_order=True), rows
    ).scalars()
    deliveries = [
        {
            "event_row": row_id,
            "connector": connector,
            "contact_id": cid,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": at,
            "created_at": at,
        }
        for row_id, (cid, receivers) in zip(list(event_rows), per_event, strict=True)
        for connector in receivers
    ]
    conn.execute(insert(sync_deliveries), deliveries)
    published: dict[counts.Moved, int] = {}
    for d in deliveries:  # Mission Control's counts per connector, same transaction
        key = (d["connector"], None, "pending")
        published[key] = published.get(key, 0) + 1
    counts.deliveries_moved(conn, published)
    return len(rows)


# ------------------------------------------------------------------ hooks of the verbs


def publish_consents(conn: Connection, rows: Sequence[dict[str, Any]], at: datetime) -> int:
    """consent.changed for stored ledger events (single or bulk) a receiver can act on."""
    items = [(r["contact_id"], consent_data(r)) for r in rows if r["status"] in SHARED_STATUSES]
    return publish_many(conn, "consent.changed", items, at=at) if items else 0


def publish_blocks(
    conn: Connection, rows: Sequence[dict[str, Any]], ids: Sequence[int], at: datetime
) -> int:
    """block.set for stored blocks (rows as inserted, with their new ids)."""
    items = [
        (r["contact_id"], block_data(i, r["channel"], r["address_id"], r["theme"]))
        for r, i in zip(rows, ids, strict=True)
    ]
    return publish_many(conn, "block.set", items, at=at)


def publish_block(
    conn: Connection,
    block_id: int,
    contact_id: int,
    channel: str | None,
    address_id: int | None,
    theme: str | None,
    at: datetime,
) -> int:
    """block.set for one stored block."""
    data = block_data(block_id, channel, address_id, theme)
    return publish(conn, "block.set", contact_id, data, at=at)


def publish_lift(conn: Connection, block_id: int, contact_id: int, at: datetime) -> int:
    """block.lifted: the id the receiver linked to its own block."""
    return publish(conn, "block.lifted", contact_id, {"block_id": str(block_id)}, at=at)


def publish_status(conn: Connection, event_type: str, contact_id: int, at: datetime) -> int:
    """contact.restricted, contact.restriction_lifted or contact.objected: the fact alone."""
    return publish(conn, event_type, contact_id, {}, at=at)


def publish_rectified(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    changed: list[str],
    changes: dict[str, Any],
    at: datetime,
) -> int:
    """contact.rectified: changed profile values in clear, identity changes sealed."""
    if not changed or not targets(conn, "contact.rectified"):
        return 0
    row = conn.execute(
        select(
            contacts.c.key_id, contacts.c.attributes, contacts.c.language, contacts.c.timezone
        ).where(contacts.c.id == contact_id)
    ).one()
    plain: dict[str, Any] = {}
    identity: dict[str, Any] = {}
    for name in changed:
        if name.startswith("attributes."):
            plain[name] = row.attributes.get(name.removeprefix("attributes."))
        elif name in ("language", "timezone"):
            plain[name] = getattr(row, name)
        elif name in IDENTITY_CHANGES:
            value = changes.get(name) if name != "addresses.email" else _new_emails(changes)
            identity[name] = value
    sealed = None
    if identity:
        blob = vault.encrypt(row.key_id, SEALED_FIELD, json.dumps(identity).encode())
        sealed = {contact_id: (row.key_id, blob)}
    data = {"changes": plain, "identity_changed": sorted(identity)}
    return publish_many(conn, "contact.rectified", [(contact_id, data)], at=at, sealed=sealed)


def _new_emails(changes: dict[str, Any]) -> list[str]:
    added = [a["value"] for a in changes.get("addresses") or [] if a.get("channel") == "email"]
    fixed = [c["value"] for c in changes.get("corrections") or [] if c.get("channel") == "email"]
    return added + fixed


def erasure_subjects(
    conn: Connection, vault: Vault, contact_ids: Sequence[int]
) -> dict[int, dict[str, str]]:
    """The shared identifiers of people about to be erased (read BEFORE their data goes)."""
    wanted = targets(conn, "contact.erased")
    if not wanted:
        return {}
    return identifiers(conn, vault, contact_ids, {c.identifier for c in wanted})


def publish_erasures(
    conn: Connection, vault: Vault, subjects: dict[int, dict[str, str]], at: datetime
) -> dict[int, list[str]]:
    """contact.erased per person, the identifier sealed under a key of its own; who is told."""
    people = [cid for cid, ids in subjects.items() if ids]
    if not people:
        return {}
    keys = vault.create_keys(len(people))
    sealed = {
        cid: (key, vault.encrypt(key, SEALED_FIELD, json.dumps(subjects[cid]).encode()))
        for cid, key in zip(people, keys, strict=True)
    }
    able = {
        kind: {cid for cid in people if kind in subjects[cid]} for kind in ("email", "external_id")
    }
    items: list[tuple[int, dict[str, Any]]] = [(cid, {}) for cid in people]
    publish_many(conn, "contact.erased", items, at=at, sealed=sealed, able=able)
    wanted = targets(conn, "contact.erased")
    return {cid: [c.id for c in wanted if c.identifier in subjects[cid]] for cid in people}


def erasure_acknowledgements(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """Per connector told of the contact's erasure: event id, status, acknowledgement time."""
    d = sync_deliveries
    rows = conn.execute(
        select(d.c.connector, d.c.status, d.c.acknowledged_at, sync_events.c.event_id)
        .join(sync_events, sync_events.c.id == d.c.event_row)
        .where(sync_events.c.contact_id == contact_id, sync_events.c.type == "contact.erased")
        .order_by(d.c.connector)
    )
    return [
        {
            "connector": r.connector,
            "event_id": r.event_id,
            "status": r.status,
            "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
        }
        for r in rows
    ]
