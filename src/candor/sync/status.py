"""Sync figures for `candor sync status`, the API and Mission Control; erasure acknowledgements.

Counts per connector and status are the sums the writers keep (figures.change_counts: publish,
delivery, replay and erasure insert their deltas), not a GROUP BY over every delivery ever
made; dead letters are listed (newest first, on the primary key) with ids, types, attempts
and the last HTTP status, never with the person's identifiers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from candor.figures import change_counts as kept
from candor.ledger.connector_settings import load_settings
from candor.store.sync_tables import sync_deliveries, sync_events

DEAD_LETTER_LIMIT = 100


def sync_status(conn: Connection, *, limit: int = DEAD_LETTER_LIMIT) -> dict[str, Any]:
    """Per connector: pending, delivered, dead; plus the newest dead letters."""
    d = sync_deliveries
    counts: dict[str, dict[str, int]] = {
        c.id: {"pending": 0, "delivered": 0, "dead": 0} for c in load_settings(conn).webhooks
    }
    for (connector, status), n in kept.sums(conn, kept.SYNC).items():
        counts.setdefault(connector, {"pending": 0, "delivered": 0, "dead": 0})[status] = n
    rows = conn.execute(
        select(
            d.c.id,
            d.c.connector,
            d.c.attempts,
            d.c.last_status,
            d.c.last_error,
            d.c.last_attempt_at,
            sync_events.c.event_id,
            sync_events.c.type,
            sync_events.c.contact_id,
        )
        .join(sync_events, sync_events.c.id == d.c.event_row)
        .where(d.c.status == "dead")
        .order_by(d.c.id.desc())
        .limit(limit)
    )
    dead = [
        {
            "delivery": r.id,
            "connector": r.connector,
            "event_id": r.event_id,
            "type": r.type,
            "contact": r.contact_id,
            "attempts": r.attempts,
            "last_status": r.last_status,
            "last_error": r.last_error,
            "last_attempt_at": r.last_attempt_at.isoformat() if r.last_attempt_at else None,
        }
        for r in rows
    ]
    connectors = [{"connector": k, **v} for k, v in sorted(counts.items())]
    return {"connectors": connectors, "dead_letters": dead}


def sync_figures(conn: Connection) -> dict[str, Any]:
    """Mission Control: counts per connector and the dead letters per connector."""
    status = sync_status(conn, limit=20)
    per: dict[str, list[dict[str, Any]]] = {}
    for letter in status["dead_letters"]:
        per.setdefault(letter["connector"], []).append(letter)
    return {
        "connectors": [
            {**c, "dead_letters": per.get(c["connector"], [])} for c in status["connectors"]
        ]
    }
