"""Bulk append of consent events for a batch of contacts (journey steps, mass opt-outs).

Same semantics as ledger.consents.append_event, set-based: the batch's chain heads are read
in one query, each contact's hash chain is extended in Python with chain.event_hash, the
events go in with one executemany (RETURNING ids), and ledger_heads and the consent_state
projection are updated in bulk with latest-wins per exact scope; the projection's change
goes into Mission Control's tallies (figures.consent_tallies) from the rows it read anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from candor.figures import consent_tallies as tallies
from candor.ledger import triggers
from candor.ledger.chain import event_hash
from candor.ledger.events import publish_consents
from candor.policy.decide import DECISIVE_STATUSES
from candor.store.engine import is_sqlite
from candor.store.tables import consent_events, consent_state, contacts, ledger_heads
from candor.store.vault import Vault

STATE_KEY = ("contact_id", "purpose_id", "scope_theme", "scope_channel", "scope_address")


@dataclass(frozen=True)
class NewEvent:
    """One event to append: its scope, status, source and (clear) evidence."""

    contact_id: int
    purpose_id: str
    purpose_version: int
    status: str
    source: str
    occurred_at: datetime
    theme: str | None = None
    channel: str | None = None
    address_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    communication_id: int | None = None
    confirms_event_id: int | None = None


def lock_contacts(conn: Connection, contact_ids: Sequence[int]) -> dict[int, str]:
    """Lock the batch's contacts (ordered, so writers never deadlock); id -> key id.

    Erased contacts are left out: nothing may be written for them any more.
    """
    query = select(contacts.c.id, contacts.c.key_id).where(
        contacts.c.id.in_(sorted(contact_ids)), contacts.c.erased_at.is_(None)
    )
    if not is_sqlite(conn.engine):
        query = query.order_by(contacts.c.id).with_for_update()
    return {row.id: row.key_id for row in conn.execute(query)}


def append_events(
    conn: Connection, vault: Vault, events: Sequence[NewEvent], at: datetime
) -> list[int]:
    """Chain, store and project the events (in list order per contact); returns their ids."""
    if not events:
        return []
    ids = sorted({e.contact_id for e in events})
    keys = lock_contacts(conn, ids)
    vault.load(keys.values())
    heads = {
        row.contact_id: (row.event_count, row.last_hash)
        for row in conn.execute(select(ledger_heads).where(ledger_heads.c.contact_id.in_(ids)))
    }
    known = set(heads)
    rows = [_chained(e, heads, keys, vault, at) for e in events]
    event_ids = list(
        conn.execute(
            insert(consent_events).returning(consent_events.c.id, sort_by_parameter_order=True),
            rows,
        ).scalars()
    )
    _write_heads(conn, rows, event_ids, known)
    project(conn, [{**r, "id": i} for r, i in zip(rows, event_ids, strict=True)])
    publish_consents(conn, rows, at)  # one INSERT of events for the batch
    triggers.consents_changed(conn, rows, at)  # triggered journeys listening to them
    return event_ids


def _chained(
    e: NewEvent, heads: dict[int, tuple[int, str]], keys: dict[int, str], vault: Vault, at: datetime
) -> dict[str, Any]:
    """The stored row of one event, linked to its contact's current head (which it becomes)."""
    key_id = keys.get(e.contact_id)
    if key_id is None:
        raise LookupError(f"contact {e.contact_id} does not exist or was erased")
    count, prev = heads.get(e.contact_id, (0, ""))
    sealed = vault.encrypt_json(key_id, "evidence", e.evidence)
    row: dict[str, Any] = {
        "contact_id": e.contact_id,
        "seq": count + 1,
        "purpose_id": e.purpose_id,
        "purpose_version": e.purpose_version,
        "theme": e.theme,
        "channel": e.channel,
        "address_id": e.address_id,
        "status": e.status,
        "source": e.source,
        "occurred_at": e.occurred_at,
        "recorded_at": at,
        "evidence": sealed,
        "communication_id": e.communication_id,
        "confirms_event_id": e.confirms_event_id,
        "prev_hash": prev,
    }
    row["hash"] = event_hash(row)
    heads[e.contact_id] = (row["seq"], row["hash"])
    return row


def _write_heads(
    conn: Connection, rows: list[dict[str, Any]], event_ids: list[int], known: set[int]
) -> None:
    """Move each touched chain's head to its newest event (update existing, insert new)."""
    last: dict[int, dict[str, Any]] = {}
    for row, event_id in zip(rows, event_ids, strict=True):
        last[row["contact_id"]] = {
            "cid": row["contact_id"],
            "last_event_id": event_id,
            "last_hash": row["hash"],
            "event_count": row["seq"],
        }
    old = [v for k, v in last.items() if k in known]
    new = [{**v, "contact_id": v.pop("cid")} for k, v in last.items() if k not in known]
    if old:
        stmt = update(ledger_heads).where(ledger_heads.c.contact_id == bindparam("cid"))
        conn.execute(stmt, old)
    if new:
        conn.execute(insert(ledger_heads), new)


def _scope(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["contact_id"],
        row["purpose_id"],
        row["theme"] or "",
        row["channel"] or "",
        row["address_id"] or 0,
    )


def project(conn: Connection, events: list[dict[str, Any]]) -> None:
    """consent_state: per exact scope the latest decisive event wins (ties: higher id).

    The touched (contact, purpose) pairs' rows are all read here, so their tally delta is
    worked out in Python and written with one executemany.
    """
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for e in events:
        if e["status"] not in DECISIVE_STATUSES:
            continue
        key = _scope(e)
        if key not in latest or _order(latest[key]) < _order(e):
            latest[key] = e
    if not latest:
        return
    cs = consent_state
    pairs = {key[:2] for key in latest}
    current: dict[tuple[Any, ...], tuple[datetime, int]] = {}
    before: dict[tallies.Pair, dict[tuple[Any, ...], tallies.Row]] = {}
    for r in conn.execute(
        select(cs).where(
            cs.c.contact_id.in_(sorted({k[0] for k in latest})),
            cs.c.purpose_id.in_(sorted({k[1] for k in latest})),
        )
    ).mappings():
        key = tuple(r[k] for k in STATE_KEY)
        current[key] = (r["occurred_at"], r["event_id"])
        if key[:2] in pairs:
            before.setdefault(key[:2], {})[key] = (
                r["status"],
                r["purpose_version"],
                r["occurred_at"],
            )
    after = {pair: dict(rows) for pair, rows in before.items()}
    inserts, updates = [], []
    for key, e in latest.items():
        values = {
            "event_id": e["id"],
            "status": e["status"],
            "occurred_at": e["occurred_at"],
            "purpose_version": e["purpose_version"],
        }
        if key not in current:
            inserts.append({**dict(zip(STATE_KEY, key, strict=True)), **values})
        elif current[key] < _order(e):
            updates.append({**{f"k_{n}": v for n, v in zip(STATE_KEY, key, strict=True)}, **values})
        else:
            continue
        after.setdefault(key[:2], {})[key] = (e["status"], e["purpose_version"], e["occurred_at"])
    if inserts:
        conn.execute(insert(cs), inserts)
    if updates:
        where = [cs.c[name] == bindparam(f"k_{name}") for name in STATE_KEY]
        conn.execute(update(cs).where(*where), updates)
    tallies.write(
        conn,
        tallies.changed(
            {p: list(rows.values()) for p, rows in before.items()},
            {p: list(rows.values()) for p, rows in after.items()},
        ),
    )


def _order(e: dict[str, Any]) -> tuple[datetime, int]:
    return (e["occurred_at"], e["id"])
