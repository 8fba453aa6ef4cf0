"""Custom events (`POST /api/v1/events`): declared in candor.yaml, heard by triggered journeys.

`events` declares each event's name and its properties with their types and data
categories, like attributes: anything undeclared is refused at the door. An event is kept
only as journey-scoped data of the running journeys that listen to it (ledger.triggers),
with only the properties each declared in `fields`; an event nobody listens to is counted
(figure_counts: "events", name, unheard) and not stored.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationError
from sqlalchemy import Connection, select

from candor.core.errors import InvalidInput
from candor.figures import change_counts as counts
from candor.ledger import audit, triggers
from candor.ledger.contacts import IDENTITY_FIELDS
from candor.ledger.external_ids import external_index
from candor.ledger.profile import coerce_value
from candor.ledger.registry import setting
from candor.ledger.spec_base import IDENT, Strict
from candor.store.sql import in_batch
from candor.store.tables import contacts
from candor.store.vault import Vault

EVENT_NAME = r"^[a-z][a-z0-9_.\-]{0,63}$"
FIGURE = "events"


class PropertySpec(Strict):
    """One property of an event: its type and data category (as for attributes)."""

    type: Literal["string", "number", "integer", "boolean", "date"]
    category: str = Field(pattern=IDENT)
    description: str = ""


class EventSpec(Strict):
    """A custom event: what it means and the properties it may carry."""

    description: str = ""
    properties: dict[str, PropertySpec] = Field(default_factory=dict)


def event_problems(events: dict[str, EventSpec], attributes: set[str]) -> list[tuple[str, str]]:
    """Problems of the `events` section, each with its key path."""
    problems = []
    taken = attributes | set(IDENTITY_FIELDS)
    for name, spec in events.items():
        if not re.fullmatch(EVENT_NAME, name):
            msg = "name must be lower case letters, digits, '.', '_' or '-'"
            problems.append((f"events.{name}", msg))
        for prop in spec.properties:
            where = f"events.{name}.properties.{prop}"
            if not re.fullmatch(IDENT, prop):
                problems.append((where, "name must be lower case letters, digits, _ or -"))
            elif prop in taken:
                msg = "is an attribute's name: a journey's fields name both, choose another"
                problems.append((where, msg))
    return problems


def declared_events(conn: Connection) -> dict[str, EventSpec]:
    """The events `config apply` stored, by name."""
    out: dict[str, EventSpec] = {}
    for name, raw in (setting(conn, "events", {}) or {}).items():
        try:
            out[name] = EventSpec.model_validate(raw)
        except ValidationError:
            continue  # stored by an apply that validated it
    return out


@dataclass(frozen=True)
class EventIn:
    """One event as a caller sends it: whose (Candor id or external id), what, when."""

    name: str
    occurred_at: datetime
    contact_id: int | None = None
    external_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EventsRecorded:
    """What became of a batch: received, rows stored for listening journeys, unheard."""

    received: int
    stored: int
    unheard: int


def record_events(
    conn: Connection,
    vault: Vault,
    items: Sequence[EventIn],
    *,
    actor: str,
    at: datetime,
    path: str = "events",
) -> EventsRecorded:
    """Check every event (all or nothing), hand them to the journeys listening, count them."""
    declared = declared_events(conn)
    where = (lambda i: f"{path}[{i}]") if path else (lambda i: "")
    properties = [_checked(item, declared, where(i)) for i, item in enumerate(items)]
    people = _resolve(conn, vault, items, where)
    found = triggers.listeners(conn, "event", {i.name for i in items}, with_fields=True)
    heard = [
        triggers.Heard(person, item.name, item.occurred_at, props)
        for item, person, props in zip(items, people, properties, strict=True)
        if item.name in found
    ]
    stored = triggers.signal(conn, "event", heard, at, found)
    tally = Counter((FIGURE, i.name, "heard" if i.name in found else "unheard") for i in items)
    counts.write(conn, tally)
    unheard = sum(n for (_, _, state), n in tally.items() if state == "unheard")
    if items:
        audit.record(
            conn,
            actor=actor,
            action="events.record",
            object_type="event",
            object_id=items[0].name if len({i.name for i in items}) == 1 else "(batch)",
            at=at,
            received=len(items),
            stored=stored,
            unheard=unheard,
        )
    return EventsRecorded(len(items), stored, unheard)


def _prefixed(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _checked(item: EventIn, declared: dict[str, EventSpec], prefix: str) -> dict[str, Any]:
    """The event's properties typed by its declaration, or InvalidInput naming the field."""
    spec = declared.get(item.name)
    if spec is None:
        raise InvalidInput(_prefixed(prefix, "name"), "not an event declared in candor.yaml")
    out = {}
    for name, value in item.properties.items():
        where = _prefixed(prefix, f"properties.{name}")
        prop = spec.properties.get(name)
        if prop is None:
            raise InvalidInput(where, f"not a declared property of {item.name!r}")
        if isinstance(value, str) and "\x00" in value:
            raise InvalidInput(where, "must not contain NUL characters")
        out[name] = None if value is None else coerce_value(value, prop.type, where)
    return out


def _resolve(conn: Connection, vault: Vault, items: Sequence[EventIn], where: Any) -> list[int]:
    """Each event's contact id (live contacts only), or InvalidInput naming the item."""
    ids = sorted({i.contact_id for i in items if i.contact_id is not None})
    live: set[int] = set()
    if ids:
        query = select(contacts.c.id).where(
            in_batch(contacts.c.id, ids), contacts.c.erased_at.is_(None)
        )
        live = set(conn.execute(query).scalars())
    indexes = {i.external_id: external_index(vault, i.external_id) for i in items if i.external_id}
    by_index: dict[str, int] = {}
    if indexes:
        c = contacts
        query = select(c.c.external_index, c.c.id).where(
            in_batch(c.c.external_index, sorted(set(indexes.values()))), c.c.erased_at.is_(None)
        )
        by_index = {row.external_index: int(row.id) for row in conn.execute(query)}
    people = []
    for index, item in enumerate(items):
        person = item.contact_id if item.contact_id in live else None
        if item.external_id is not None:
            person = by_index.get(indexes[item.external_id])
        if person is None:
            raise InvalidInput(_prefixed(where(index), "contact"), "no such contact")
        people.append(person)
    return people
