"""Telling triggered journeys what happened, in the writer's transaction.

A verb that changes what a trigger listens to (a consent event, a new contact, a changed
attribute, a form submission, a custom event) calls `signal` beside its own writes: one
journey_events row per running journey listening and person, committed or rolled back with
the change itself. With nobody listening a call costs one indexed read of journeys. The
worker (journeys.runtime.entry) lets the people in through the gate; PostgreSQL wakes it at
commit (store.wakeup).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from candor.store.journey_tables import journey_events, journeys
from candor.store.sql import bulk_insert
from candor.store.wakeup import notify

# Ledger statuses and the trigger each fires (a pending grant fires none: it is no consent).
CONSENT_SIGNALS: Mapping[str, str] = {
    "granted": "consent.granted",
    "confirmed": "consent.confirmed",
    "withdrawn": "consent.withdrawn",
}


@dataclass(frozen=True)
class Listener:
    """A running journey listening to one kind of happening, and the fields it may keep."""

    journey_id: str
    key: str
    fields: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Heard:
    """One happening about one person: the trigger key (purpose, form, field, event name)."""

    contact_id: int
    key: str
    occurred_at: datetime
    properties: Mapping[str, Any] = field(default_factory=dict)
    ref: str | None = None


def listeners(
    conn: Connection, on: str, keys: Iterable[str], *, with_fields: bool = False
) -> dict[str, list[Listener]]:
    """The running journeys listening to `on` for each of `keys`, by key."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    j = journeys
    columns = [j.c.id, j.c.trigger_key] + ([j.c.definition] if with_fields else [])
    query = select(*columns).where(
        j.c.trigger_on == on, j.c.trigger_key.in_(wanted), j.c.state == "running"
    )
    found: dict[str, list[Listener]] = {}
    for row in conn.execute(query.order_by(j.c.id)):
        kept = frozenset(row.definition.get("fields") or ()) if with_fields else frozenset()
        found.setdefault(row.trigger_key, []).append(Listener(row.id, row.trigger_key, kept))
    return found


def signal(
    conn: Connection,
    on: str,
    heard: Sequence[Heard],
    at: datetime,
    found: dict[str, list[Listener]] | None = None,
) -> int:
    """Store what each listening running journey heard; returns the rows stored.

    An event's properties are kept only where the journey declared them in `fields`
    (data minimization at the door); `found` passes listeners the caller already read.
    """
    if not heard:
        return 0
    if found is None:
        found = listeners(conn, on, {h.key for h in heard}, with_fields=on == "event")
    rows = [
        {
            "journey_id": listener.journey_id,
            "contact_id": h.contact_id,
            "kind": on,
            "name": h.key,
            "ref": h.ref,
            "properties": {k: v for k, v in h.properties.items() if k in listener.fields},
            "occurred_at": h.occurred_at,
            "received_at": at,
            "status": "pending",
        }
        for h in heard
        for listener in found.get(h.key, ())
    ]
    if rows:
        bulk_insert(conn, journey_events, rows)
        notify(conn)
    return len(rows)


def consents_changed(conn: Connection, rows: Sequence[Mapping[str, Any]], at: datetime) -> int:
    """Signal the consent triggers for stored ledger events (single or bulk)."""
    by_kind: dict[str, list[Heard]] = {}
    for row in rows:
        kind = CONSENT_SIGNALS.get(row["status"])
        if kind is not None:
            heard = Heard(row["contact_id"], row["purpose_id"], row["occurred_at"])
            by_kind.setdefault(kind, []).append(heard)
    return sum(signal(conn, kind, heard, at) for kind, heard in by_kind.items())


def contacts_created(conn: Connection, contact_ids: Iterable[int], at: datetime) -> int:
    """Signal `contact.created` for each new contact."""
    return signal(conn, "contact.created", [Heard(cid, "", at) for cid in contact_ids], at)


def attributes_changed(
    conn: Connection, contact_id: int, names: Iterable[str], at: datetime
) -> int:
    """Signal `attribute.changed` once per changed attribute."""
    heard = [Heard(contact_id, name, at) for name in sorted(set(names))]
    return signal(conn, "attribute.changed", heard, at)
