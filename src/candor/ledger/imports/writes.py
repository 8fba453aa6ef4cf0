"""CSV intake, second half: one batch of candidates checked against the database and written.

Rows already present (by external_id), addresses taken by another contact and erased
(suppressed) addresses are dropped and reported; the rest is encrypted under new contact
keys and goes in with one bulk statement per table (store.sql.insert_driver_rows: COPY on
PostgreSQL, a plain executemany on SQLite), all in one transaction with its audit entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from candor.figures import consent_tallies as tallies
from candor.ledger import audit
from candor.ledger.imports.consents import ConsentBatch
from candor.ledger.imports.plan import ADDRESS_COLUMNS, Candidate, ImportReport
from candor.ledger.imports.seal import seal, sealed_of
from candor.ledger.suppression import SUPPRESSED_PROBLEM as SUPPRESSED
from candor.ledger.suppression import drop_suppressed
from candor.store.sql import (
    Work,
    bind_processors,
    in_batch,
    insert_driver_rows,
    reserve_ids,
    to_driver,
)
from candor.store.tables import addresses, contacts
from candor.store.vault import Vault

CONTACT_COLUMNS = (
    "id",
    "external_index",
    "external_id",
    "key_id",
    "identity",
    "attributes",
    "language",
    "timezone",
    "source",
    "created_at",
    "updated_at",
)
ADDRESS_ROW_COLUMNS = ("contact_id", "channel", "blind_index", "deliverable", "value", "created_at")
COLUMN_OF_CHANNEL = {channel: name for name, channel in ADDRESS_COLUMNS.items()}
# Values per look-up: one array parameter on PostgreSQL (fewer, larger queries are cheaper),
# bound variables on SQLite (at most 32766 of them).
CHUNK = 10_000


def write_batch(
    engine: Engine,
    vault: Vault,
    batch: list[Candidate],
    report: ImportReport,
    actor: str,
    at: datetime,
    fill: Work | None = None,
) -> None:
    """Drop what may not go in (reported), then write the rest in one transaction.

    Only the written candidates' keys are stored. `fill(waiting)` is the caller's next
    piece of work (it must not use this database): on PostgreSQL it runs while the server
    finishes a COPY (store.sql.while_waiting); consent chains are built in such a wait too.
    """
    with engine.begin() as conn:
        fresh = _admissible(conn, batch, report)
        if not fresh:
            return
        seal_all(vault, fresh, at)
        vault.store_keys([sealed_of(c).key for c in fresh])
        ids = reserve_ids(conn, contacts, len(fresh))
        consents = ConsentBatch(conn, ids, fresh, at)
        insert_driver_rows(
            conn, contacts, CONTACT_COLUMNS, contact_rows(conn, ids, fresh, at), fill
        )
        rows = address_rows_of(conn, ids, fresh, at)
        insert_driver_rows(conn, addresses, ADDRESS_ROW_COLUMNS, rows, _then(consents.build, fill))
        report.consent_events += consents.write(conn, fill)
        tallies.write(conn, consents.tally, live=len(fresh))  # Mission Control's counts
        report.imported += len(fresh)
        audit.record(
            conn,
            actor=actor,
            action="contacts.import",
            object_type="import",
            object_id=ids[0],
            at=at,
            contacts=len(fresh),
            addresses=sum(len(c.addresses) for c in fresh),
        )


def seal_all(vault: Vault, batch: list[Candidate], at: datetime) -> None:
    """Seal the candidates not sealed ahead, each under a new key of its own."""
    unsealed = [c for c in batch if c.sealed is None]
    for c, key in zip(unsealed, vault.new_keys(len(unsealed)), strict=True):
        c.sealed = seal(c, key, at)


def _then(first: Callable[[], None], fill: Work | None) -> Work:
    """Work that does `first`, then `fill` for the rest of the wait."""

    def work(waiting: Callable[[], bool]) -> None:
        first()
        if fill is not None:
            fill(waiting)

    return work


def _admissible(conn: Connection, batch: list[Candidate], report: ImportReport) -> list[Candidate]:
    """The candidates that may go in; the others are counted or rejected in `report`."""
    fresh = drop_existing(conn, batch, report)
    fresh = drop_taken_addresses(conn, fresh, report)
    return drop_suppressed(
        conn, fresh, lambda c, ch: report.reject(c.line, COLUMN_OF_CHANNEL[ch], SUPPRESSED)
    )


def drop_existing(
    conn: Connection, batch: list[Candidate], report: ImportReport
) -> list[Candidate]:
    """Skip (and count) candidates whose external_id is already imported."""
    wanted = [c.external_index for c in batch]
    present: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        query = select(contacts.c.external_index).where(in_batch(contacts.c.external_index, chunk))
        present.update(conn.execute(query).scalars())
    report.existing += sum(1 for c in batch if c.external_index in present)
    return [c for c in batch if c.external_index not in present]


def drop_taken_addresses(
    conn: Connection, batch: list[Candidate], report: ImportReport
) -> list[Candidate]:
    """Reject candidates with an address of another contact (stored, or earlier in the batch)."""
    indexes = sorted({index for c in batch for _, _, index in c.addresses})
    if not indexes:
        return batch
    taken: set[tuple[str, str]] = set()
    for start in range(0, len(indexes), CHUNK):
        query = select(addresses.c.channel, addresses.c.blind_index).where(
            in_batch(addresses.c.blind_index, indexes[start : start + CHUNK])
        )
        taken.update((row.channel, row.blind_index) for row in conn.execute(query))
    kept: list[Candidate] = []
    claimed: set[tuple[str, str]] = set()
    for c in batch:
        clash = next(
            ((ch, i) for ch, _, i in c.addresses if (ch, i) in taken or (ch, i) in claimed), None
        )
        if clash is not None:
            column = COLUMN_OF_CHANNEL[clash[0]]
            report.reject(c.line, column, "address already belongs to another contact")
            continue
        claimed.update((ch, i) for ch, _, i in c.addresses)
        kept.append(c)
    return kept


def contact_rows(
    conn: Connection, ids: list[int], batch: list[Candidate], at: datetime
) -> Iterator[tuple[Any, ...]]:
    """Driver-ready contacts rows (CONTACT_COLUMNS) of sealed candidates."""
    when = to_driver(conn, contacts.c.created_at, at)
    (attributes,) = bind_processors(conn, contacts, ["attributes"])
    for contact_id, c in zip(ids, batch, strict=True):
        sealed = sealed_of(c)
        yield (
            contact_id,
            c.external_index,
            sealed.external_id,
            sealed.key.key_id,
            sealed.identity,
            attributes(c.attributes),
            c.language,
            c.timezone,
            "import",
            when,
            when,
        )


def address_rows_of(
    conn: Connection, ids: list[int], batch: list[Candidate], at: datetime
) -> Iterator[tuple[Any, ...]]:
    """Driver-ready addresses rows (ADDRESS_ROW_COLUMNS) of sealed candidates."""
    when = to_driver(conn, addresses.c.created_at, at)
    deliverable = to_driver(conn, addresses.c.deliverable, True)
    for contact_id, c in zip(ids, batch, strict=True):
        values = sealed_of(c).addresses
        for (channel, _, index), value in zip(c.addresses, values, strict=True):
            yield (contact_id, channel, index, deliverable, value, when)
