"""An import candidate's identifying data encrypted under a new key of its own, ahead of time.

Sealing needs no database, so the importer does it while PostgreSQL is busy with the batch
before (importer.NextBatch.fill) and otherwise when the batch is written. The key is only
stored for candidates that are written (Vault.store_keys); the others' keys and blobs are
simply dropped. Field names are those of the ordinary write paths, so Vault.decrypt reads
everything back (external_ids, contacts, consents).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from candor.store.vault import PendingKey

if TYPE_CHECKING:
    from candor.ledger.imports.plan import Candidate, ConsentColumn

_EVIDENCE_JSON = json.JSONEncoder(sort_keys=True)  # = json.dumps(..., sort_keys=True)


class PlannedEvent(NamedTuple):
    """One consent event of a candidate, its evidence already sealed."""

    column: ConsentColumn
    status: str
    occurred_at: datetime
    evidence: bytes


class Sealed(NamedTuple):
    """A candidate's encrypted values, in the order of its addresses and events."""

    key: PendingKey
    external_id: bytes
    identity: bytes
    addresses: list[bytes]
    events: list[PlannedEvent]


def seal(c: Candidate, key: PendingKey, at: datetime) -> Sealed:
    """Encrypt the candidate's identifying data and consent evidence under `key`."""
    imported_at = at.isoformat()
    events = []
    for col, value in c.consents:
        evidence = {**c.evidence, "column": col.column, "imported_at": imported_at}
        plain = _EVIDENCE_JSON.encode(evidence).encode()
        for status, when in statuses(col, value, c, at):  # each event sealed on its own
            events.append(PlannedEvent(col, status, when, key.encrypt("evidence", plain)))
    return Sealed(
        key=key,
        external_id=key.encrypt("external_id", c.external_id.encode()),
        identity=key.encrypt("identity", json.dumps(c.identity).encode()),
        addresses=[key.encrypt(f"address:{ch}", value.encode()) for ch, value, _ in c.addresses],
        events=events,
    )


def sealed_of(c: Candidate) -> Sealed:
    """The candidate's sealed values (ValueError if it was not sealed: a programming error)."""
    if c.sealed is None:
        raise ValueError(f"candidate of line {c.line} was not sealed")
    return c.sealed


def statuses(
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
