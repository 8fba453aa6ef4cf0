"""Seeding for the growth curves: n contacts of the same shape at every size, as generated rows.

Per contact: an e-mail address (every third also a mobile number), a newsletter consent for
eight in ten (six confirmed, one withdrawn, one pending) and an events consent for every
third, each with its ledger event in a valid hash chain and the chain's head, a theme block
for every 33rd, one earlier communication; half live in DE. PostgreSQL takes the rows by COPY
(not the importer), SQLite by executemany of the same rows; memory stays flat (chunks).
Identity is not sealed (the key ids name no key): the people whose rights are measured are
created through the product beside the population (bench.scale).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert

from candor.core.context import Candor
from candor.ledger.chain import event_hash
from candor.store.journey_tables import outbox
from candor.store.tables import (
    addresses,
    blocks,
    communications,
    consent_events,
    consent_state,
    contacts,
    ledger_heads,
)

CHUNK = 50_000
BLOB = b"\x00" * 40
STATUS = {6: "withdrawn", 7: "pending"}  # g % 10; below 6 confirmed, 8 and 9 no consent


def _event(g: int, seq: int, purpose: str, status: str, prev: str, at: datetime) -> dict[str, Any]:
    event = {
        "id": 2 * g - (1 if purpose == "newsletter" else 0),
        "contact_id": g,
        "seq": seq,
        "purpose_id": purpose,
        "purpose_version": 1,
        "theme": None,
        "channel": "email" if purpose == "newsletter" else None,
        "address_id": None,
        "status": status,
        "source": "import",
        "occurred_at": at,
        "recorded_at": at,
        "evidence": None,
        "communication_id": None,
        "confirms_event_id": None,
        "prev_hash": prev,
    }
    event["hash"] = event_hash(event)
    return event


def rows(n: int, at: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table name, row) for every contact 1..n, in id order."""
    attrs = [{"country": c, "customer_value": 100} for c in ("DE", "AT")]
    for g in range(1, n + 1):
        yield (
            "contacts",
            {
                "id": g,
                "key_id": f"k{g}",
                "attributes": attrs[g % 2],
                "language": "en",
                "timezone": "UTC",
                "source": "bench",
                "created_at": at,
                "updated_at": at,
            },
        )
        yield "addresses", _address(g, g, "email", f"e{g}", at)
        if g % 3 == 0:
            yield "addresses", _address(n + g, g, "sms", f"p{g}", at)
        events = []
        if g % 10 < 8:
            events.append(("newsletter", "email", STATUS.get(g % 10, "confirmed")))
        if g % 3 == 0:
            events.append(("events", "", "granted"))
        prev = ""
        for seq, (purpose, channel, status) in enumerate(events, start=1):
            event = _event(g, seq, purpose, status, prev, at)
            prev = event["hash"]
            yield "consent_events", event
            yield (
                "consent_state",
                {
                    "contact_id": g,
                    "purpose_id": purpose,
                    "scope_theme": "",
                    "scope_channel": channel,
                    "scope_address": 0,
                    "event_id": event["id"],
                    "status": status,
                    "occurred_at": at,
                    "purpose_version": 1,
                },
            )
        if events:
            yield (
                "ledger_heads",
                {
                    "contact_id": g,
                    "last_event_id": event["id"],
                    "last_hash": prev,
                    "event_count": len(events),
                },
            )
        if g % 33 == 0:
            yield (
                "blocks",
                {
                    "contact_id": g,
                    "kind": "theme",
                    "theme": "weekly",
                    "reason": "bench",
                    "source": "bench",
                    "created_at": at,
                },
            )
        yield (
            "communications",
            {
                "id": g,
                "contact_id": g,
                "channel": "email",
                "direction": "out",
                "purpose_id": "newsletter",
                "occurred_at": at,
                "content_ref": f"newsletter-{g % 12}",
            },
        )


def _address(i: int, g: int, channel: str, index: str, at: datetime) -> dict[str, Any]:
    return {
        "id": i,
        "contact_id": g,
        "channel": channel,
        "blind_index": index,
        "value": BLOB,
        "deliverable": True,
        "created_at": at,
    }


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        contacts,
        addresses,
        consent_events,
        consent_state,
        ledger_heads,
        blocks,
        communications,
    )
}
SEQUENCES = ("contacts", "addresses", "consent_events", "blocks", "communications", outbox.name)


def seed(cx: Candor, n: int) -> None:
    """Write the n contacts' rows (COPY on PostgreSQL), then analyse."""
    write_rows(cx, rows(n, cx.clock.now().replace(microsecond=0)))


def write_rows(cx: Candor, generated: Iterator[tuple[str, dict[str, Any]]]) -> None:
    """Write generated (table, row) pairs in chunks, move the id sequences past them, analyse."""
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    for count, (name, row) in enumerate(generated, start=1):
        pending[name].append(row)
        if count % CHUNK == 0:
            _flush(cx, pending)
    _flush(cx, pending)
    with cx.engine.connect() as conn:
        if cx.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in SEQUENCES:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(TABLES)}")  # this schema's only
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def _flush(cx: Candor, pending: dict[str, list[dict[str, Any]]]) -> None:
    with cx.engine.begin() as conn:
        for name, batch in pending.items():
            if not batch:
                continue
            table = TABLES[name]
            if conn.dialect.name == "postgresql":
                _copy(conn, table, batch)
            else:
                conn.execute(insert(table), batch)
            batch.clear()


def _copy(conn: Any, table: Table, batch: list[dict[str, Any]]) -> None:
    """COPY the rows (naive UTC timestamps, JSON as text) through psycopg."""
    names = list(batch[0])
    raw = conn.connection.driver_connection
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in batch:
            copy.write_row([_plain(row[k]) for k in names])


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, dict):
        return json.dumps(value)
    return value
