"""Consent columns of a CSV import: chained events, heads and projection rows in bulk.

The events were planned and their evidence sealed with the candidate (imports.seal); here
they get ids, are linked into each contact's hash chain and written. Building the chains
is pure Python, done while the database stores the batch's addresses; the events go in
last so the caller's next piece of work can run while PostgreSQL checks them. Connectors
that want consent.changed hear of the imported consents in the same transaction (with none
configured this costs one settings read).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from candor.figures import consent_tallies as tallies
from candor.ledger.events import publish_consents, targets
from candor.ledger.imports.chain import EVENT_COLUMNS, OCCURRED, EventRows
from candor.ledger.imports.seal import sealed_of
from candor.store.sql import Work, insert_driver_rows, reserve_ids
from candor.store.tables import consent_events, consent_state, ledger_heads

if TYPE_CHECKING:
    from candor.ledger.imports.plan import Candidate

HEAD_COLUMNS = ("contact_id", "last_event_id", "last_hash", "event_count")
STATE_COLUMNS = (
    "contact_id",
    "purpose_id",
    "scope_theme",
    "scope_channel",
    "scope_address",
    "event_id",
    "status",
    "occurred_at",
    "purpose_version",
)


class ConsentBatch:
    """The consent events of a batch of new contacts: ids, chains, rows."""

    def __init__(
        self, conn: Connection, ids: list[int], batch: list[Candidate], at: datetime
    ) -> None:
        """Reserve the events' ids (a query: so not while a COPY is open)."""
        self.contacts = [(i, c, sealed_of(c)) for i, c in zip(ids, batch, strict=True)]
        self.total = sum(len(s.events) for *_, s in self.contacts)
        self.event_ids = reserve_ids(conn, consent_events, self.total)
        self.rows = EventRows(conn, at)
        self.at = at
        self.events: list[tuple[Any, ...]] = []
        self.heads: list[tuple[Any, ...]] = []
        self.state: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self.tally: Counter[tallies.Key] = Counter()  # the new pairs' signatures
        self._built = False

    def build(self) -> None:
        """Link each contact's chain from seq 1 and collect heads and projection (once).

        The projection keeps per exact scope the contact's last event; the head its newest;
        the tally counts each new (contact, purpose) pair's signature (figures.consent_tallies).
        """
        if self._built:
            return
        self._built = True
        ids, rows, state, tally = iter(self.event_ids), self.rows, self.state, self.tally
        for contact_id, c, sealed in self.contacts:
            prev, seq, event_id = "", 0, 0
            mine: dict[tuple[Any, ...], tallies.Row] = {}
            for e in sealed.events:
                seq, event_id, col = seq + 1, next(ids), e.column
                event = rows.event(
                    event_id,
                    contact_id,
                    seq,
                    col,
                    e.status,
                    c.source,
                    e.occurred_at,
                    e.evidence,
                    prev,
                )
                prev = event[-1]
                self.events.append(event)
                scope = (contact_id, col.purpose.id, col.theme or "", col.channel or "", 0)
                version = col.purpose.current_version
                state[scope] = (*scope, event_id, e.status, event[OCCURRED], version)
                mine[scope] = (e.status, version, e.occurred_at)
            if seq:
                self.heads.append((contact_id, event_id, prev, seq))
                by_purpose: dict[str, list[tallies.Row]] = {}
                for scope, row in mine.items():
                    by_purpose.setdefault(scope[1], []).append(row)
                for purpose_id, pair_rows in by_purpose.items():
                    key = tallies.signature(purpose_id, pair_rows)
                    if key is not None:
                        tally[key] += 1

    def write(self, conn: Connection, fill: Work | None = None) -> int:
        """Insert heads, projection and events; returns the number of events.

        `fill` is the caller's work for the waits on PostgreSQL (store.sql.while_waiting).
        """
        self.build()
        insert_driver_rows(conn, ledger_heads, HEAD_COLUMNS, self.heads)
        insert_driver_rows(conn, consent_state, STATE_COLUMNS, list(self.state.values()), fill)
        insert_driver_rows(conn, consent_events, EVENT_COLUMNS, self.events, fill)
        if self.total and targets(conn, "consent.changed"):
            publish_consents(conn, list(self.published()), self.at)
        return self.total

    def published(self) -> Iterator[dict[str, Any]]:
        """The batch's events as publish_consents reads them (imports scope no address)."""
        for contact_id, _, sealed in self.contacts:
            for e in sealed.events:
                yield {
                    "contact_id": contact_id,
                    "purpose_id": e.column.purpose.id,
                    "theme": e.column.theme,
                    "channel": e.column.channel,
                    "address_id": None,
                    "status": e.status,
                    "occurred_at": e.occurred_at,
                }
