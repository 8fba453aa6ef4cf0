"""Consent columns of a CSV import: chained events, heads and projection rows in bulk."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from candor.ledger.chain import event_hash
from candor.ledger.vault import Vault
from candor.store.sql import bulk_insert, insert_returning_ids
from candor.store.tables import consent_events, consent_state, ledger_heads

if TYPE_CHECKING:
    from candor.ledger.importer import Candidate, ConsentColumn


def write_consents(
    conn: Connection,
    vault: Vault,
    ids: list[int],
    key_ids: list[str],
    batch: list[Candidate],
    at: datetime,
) -> int:
    """Chain and insert the batch's consent events, their heads and projection rows in bulk."""
    events: list[dict[str, Any]] = []
    for contact_id, key_id, c in zip(ids, key_ids, batch, strict=True):
        prev, seq = "", 0
        for col, value in c.consents:
            for status, when in _statuses(col, value, c, at):
                seq += 1
                evidence = {**c.evidence, "column": col.column, "imported_at": at.isoformat()}
                event = {
                    "contact_id": contact_id,
                    "seq": seq,
                    "purpose_id": col.purpose.id,
                    "purpose_version": col.purpose.current_version,
                    "theme": col.theme,
                    "channel": col.channel,
                    "address_id": None,
                    "status": status,
                    "source": c.source,
                    "occurred_at": when,
                    "recorded_at": at,
                    "communication_id": None,
                    "confirms_event_id": None,
                    "prev_hash": prev,
                    "evidence": vault.encrypt(
                        key_id, "evidence", json.dumps(evidence, sort_keys=True).encode()
                    ),
                }
                event["hash"] = prev = event_hash(event)
                events.append(event)
    if not events:
        return 0
    event_ids = insert_returning_ids(conn, consent_events, events)
    heads: dict[int, dict[str, Any]] = {}
    state: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event_id, e in zip(event_ids, events, strict=True):
        heads[e["contact_id"]] = {
            "contact_id": e["contact_id"],
            "last_event_id": event_id,
            "last_hash": e["hash"],
            "event_count": e["seq"],
        }
        key = (e["contact_id"], e["purpose_id"], e["theme"] or "", e["channel"] or "", 0)
        state[key] = {
            "contact_id": key[0],
            "purpose_id": key[1],
            "scope_theme": key[2],
            "scope_channel": key[3],
            "scope_address": 0,
            "event_id": event_id,
            "status": e["status"],
            "occurred_at": e["occurred_at"],
            "purpose_version": e["purpose_version"],
        }
    bulk_insert(conn, ledger_heads, list(heads.values()))
    bulk_insert(conn, consent_state, list(state.values()))
    return len(events)


def _statuses(
    col: ConsentColumn, value: str, c: Candidate, at: datetime
) -> list[tuple[str, datetime]]:
    """A granted column on a double opt-in channel is pending, then confirmed if evidenced."""
    when = c.consent_at or at
    doi = col.purpose.double_opt_in and (
        col.channel is None or col.channel in col.purpose.double_opt_in
    )
    if value != "granted" or not doi:
        return [(value, when)]
    if c.confirmed_at is None:
        return [("pending", when)]
    return [("pending", when), ("confirmed", max(c.confirmed_at, when))]
