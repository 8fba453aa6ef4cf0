"""Set-based CSV intake: validate in Python, write each batch with a few bulk statements.

Idempotent on external_id (rows already present are skipped), rejected rows are reported
with line, field and problem, and the valid rows are imported. Identifying data is
encrypted per contact before it reaches the database.

Modules: imports.plan (the header and each row, no database), imports.seal (a candidate's
data encrypted under a new key), imports.writes (one batch against the database, in bulk),
imports.consents and imports.chain (the batch's consent events and their hash chains).
On PostgreSQL the next batch is validated and sealed while the server works on the current
one (NextBatch.fill); on SQLite, which has no such waits, everything runs in turn.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from candor.core.errors import InvalidInput
from candor.ledger.imports.plan import (
    ADDRESS_COLUMNS,
    CONSENT_VALUES,
    EVIDENCE_COLUMNS,
    PLAIN_COLUMNS,
    Candidate,
    ConsentColumn,
    ImportReport,
    Plan,
    Rejection,
    parse_row,
    plan_header,
)
from candor.ledger.imports.seal import seal
from candor.ledger.imports.writes import write_batch
from candor.store.sql import unique_conflicts
from candor.store.vault import Vault

__all__ = [
    "ADDRESS_COLUMNS",
    "CONSENT_VALUES",
    "EVIDENCE_COLUMNS",
    "PLAIN_COLUMNS",
    "Candidate",
    "ConsentColumn",
    "ImportReport",
    "NextBatch",
    "Plan",
    "Rejection",
    "import_csv",
    "import_rows",
    "parse_row",
    "plan_header",
]


def import_csv(
    engine: Engine,
    vault: Vault,
    path: Path,
    *,
    actor: str,
    at: datetime,
    batch_size: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV file in batches; returns counts and the rejected rows."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        with engine.connect() as conn:
            plan = plan_header(conn, list(reader.fieldnames or []))
        return import_rows(
            engine,
            vault,
            plan,
            _numbered(reader),
            actor=actor,
            at=at,
            batch_size=batch_size,
            on_progress=on_progress,
        )


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        yield reader.line_num, row


def import_rows(
    engine: Engine,
    vault: Vault,
    plan: Plan,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    actor: str,
    at: datetime,
    batch_size: int = 2000,
    on_progress: Callable[[int], None] | None = None,
    concurrent: bool = False,
) -> ImportReport:
    """Validate and write rows batch by batch; memory stays flat however long the input.

    While PostgreSQL works on a batch, the rows of the next one are validated (see
    write_batch's `fill`); rejections and errors still come in the order of the rows.
    `concurrent`: other importers write at the same time (imports.shares); a batch that
    collides with one of theirs on a unique key is written again, and its checks then see
    their rows (the address taken, the person present) and report them as such.
    """
    report = ImportReport()
    upcoming = NextBatch(plan, rows, vault, at, batch_size)
    with paused_gc():
        while (item := upcoming.take()) is not None:
            rejected, batch = item
            for line, column, problem in rejected:
                report.reject(line, column, problem)
            if batch:
                _write(engine, vault, batch, report, actor, at, upcoming, concurrent)
                if on_progress:
                    on_progress(len(batch))
    return report


def _write(
    engine: Engine,
    vault: Vault,
    batch: list[Candidate],
    report: ImportReport,
    actor: str,
    at: datetime,
    upcoming: NextBatch,
    concurrent: bool,
) -> None:
    if not concurrent:
        write_batch(engine, vault, batch, report, actor, at, fill=upcoming.fill)
        return
    before = replace(report, rejections=list(report.rejections))
    try:
        write_batch(engine, vault, batch, report, actor, at, fill=upcoming.fill)
    except unique_conflicts():
        for name in ("imported", "existing", "rejected", "consent_events", "rejections"):
            setattr(report, name, getattr(before, name))
        for candidate in batch:
            candidate.sealed = None  # its keys were stored: the retry seals under new ones
        write_batch(engine, vault, batch, report, actor, at)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (process-wide) for the duration of a bulk import.

    An import allocates millions of short-lived objects without reference cycles (reference
    counting frees them); the collector's full passes over the live batches found nothing
    and cost about 15% of the run. The previous state is restored afterwards.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


Problem = tuple[int, str, str]  # line, column, problem


class NextBatch:
    """The next batch of valid candidates, validated row by row whenever there is time.

    `fill` validates rows while a wait lasts; `take` completes the batch and hands it over
    with the rows rejected before it. An error of the input (not a rejected row) is kept
    and raised by `take`, so it surfaces after the batches before it were written.
    """

    def __init__(
        self,
        plan: Plan,
        rows: Iterable[tuple[int, dict[str, str]]],
        vault: Vault,
        at: datetime,
        batch_size: int,
    ) -> None:
        self._plan, self._rows, self._vault, self._at = plan, iter(rows), vault, at
        self._size = batch_size
        self._seen: set[str] = set()
        self._rejected: list[Problem] = []
        self._batch: list[Candidate] = []
        self._error: Exception | None = None
        self._ended = False
        self._sealed = 0  # candidates of the batch sealed ahead

    def fill(self, waiting: Callable[[], bool]) -> None:
        """Validate rows while `waiting()` is True and the batch is not full; then seal
        its candidates (imports.seal) while there is still time.

        Never raises for the input: errors wait for `take`, and a candidate that cannot be
        sealed now is sealed (or fails) when its batch is written.
        """
        while waiting() and self._open():
            self._step()
        while waiting() and self._error is None and self._sealed < len(self._batch):
            c = self._batch[self._sealed]
            try:
                (key,) = self._vault.new_keys(1)
                c.sealed = seal(c, key, self._at)
            except Exception:
                return
            self._sealed += 1

    def take(self) -> tuple[list[Problem], list[Candidate]] | None:
        """The next batch (full, or the last one) and the rows rejected before it; None
        when nothing is left."""
        while self._open():
            self._step()
        if self._error is not None:
            raise self._error
        if self._ended and not self._batch and not self._rejected:
            return None
        item = (self._rejected, self._batch)
        self._rejected, self._batch, self._sealed = [], [], 0
        return item

    def _open(self) -> bool:
        return len(self._batch) < self._size and not self._ended and self._error is None

    def _step(self) -> None:
        try:
            found = next(self._rows, None)
        except Exception as exc:  # a malformed file: raised by take, in order
            self._error = exc
            return
        if found is None:
            self._ended = True
            return
        line, row = found
        try:
            candidate = parse_row(self._plan, line, row, self._vault, self._at)
        except InvalidInput as exc:
            self._rejected.append((line, exc.field, exc.problem))
            return
        except Exception as exc:
            self._error = exc
            return
        if candidate.external_id in self._seen:
            self._rejected.append((line, "external_id", "appears more than once in the file"))
            return
        self._seen.add(candidate.external_id)
        self._batch.append(candidate)
