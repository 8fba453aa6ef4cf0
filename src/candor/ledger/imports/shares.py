"""One import over several processes (PostgreSQL): each importer takes its share of the rows.

A row's share is a digest of its external_id, so one person always falls to the same
importer (idempotency on external_id holds); where two rows of different shares name the
same address, the batch that loses the race is written again and reports the address as
taken, as one importer would have (import_rows' `concurrent`). Each
process reads the file, validates, seals and writes its share in batches while the others
do the same, so one process's Python runs while another waits on the server. Reports are
merged: counts added, rejected rows in line order. SQLite has one writer: one process.
"""

from __future__ import annotations

import csv
import multiprocessing
import zlib
from collections.abc import Iterator
from datetime import datetime
from multiprocessing.queues import SimpleQueue
from pathlib import Path

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.imports.importer import import_rows
from candor.ledger.imports.plan import ImportReport, plan_header
from candor.store.engine import is_sqlite

Outcome = tuple[ImportReport | None, str | None]  # a share's report, or why it failed


def share_of(external_id: str, shares: int) -> int:
    """The importer that takes this person's row (the same in every process)."""
    return zlib.crc32(external_id.strip().encode()) % shares


def import_csv_in_processes(
    cx: Candor,
    path: Path,
    *,
    processes: int,
    actor: str,
    at: datetime,
    batch_size: int = 2000,
) -> ImportReport:
    """Import the file with `processes` importers at once; one merged report."""
    if processes > 1 and is_sqlite(cx.engine):
        raise InvalidInput("processes", "more than one importer needs PostgreSQL")
    with path.open(newline="", encoding="utf-8-sig") as handle, cx.engine.connect() as conn:
        plan_header(conn, list(csv.DictReader(handle).fieldnames or []))  # refuse before forking
    cx.dispose()  # no pooled connection may cross the fork
    context = multiprocessing.get_context("fork")
    results: SimpleQueue[Outcome] = context.SimpleQueue()
    children = [
        context.Process(
            target=_share,
            args=(cx, path, (share, processes), actor, at, batch_size, results),
            name=f"candor-import-{share}",
        )
        for share in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    outcomes: list[Outcome] = []
    while not results.empty():
        outcomes.append(results.get())
    failed = [why for _, why in outcomes if why] + [
        f"{c.name} exited {c.exitcode}" for c in children if c.exitcode
    ]
    if failed or len(outcomes) != processes:
        raise RuntimeError(f"an importer failed: {'; '.join(failed) or 'no report'}")
    return _merged([report for report, _ in outcomes if report is not None])


def _share(
    cx: Candor,
    path: Path,
    share: tuple[int, int],
    actor: str,
    at: datetime,
    batch_size: int,
    results: SimpleQueue[Outcome],
) -> None:
    """One importer process: fresh connections, its rows only, its report to the parent."""
    cx.engine.dispose(close=False)
    cx.vault.keystore.dispose(close=False)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            with cx.engine.connect() as conn:
                plan = plan_header(conn, list(reader.fieldnames or []))
            rows = _rows_of(reader, *share)
            report = import_rows(
                cx.engine,
                cx.vault,
                plan,
                rows,
                actor=actor,
                at=at,
                batch_size=batch_size,
                concurrent=True,
            )
        results.put((report, None))
    except Exception as exc:  # the parent raises; no personal data in the type name
        results.put((None, type(exc).__name__))
    finally:
        cx.dispose()


def _rows_of(
    reader: csv.DictReader[str], share: int, shares: int
) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        if share_of(row.get("external_id") or "", shares) == share:
            yield reader.line_num, row


def _merged(reports: list[ImportReport]) -> ImportReport:
    out = ImportReport()
    for report in reports:
        out.imported += report.imported
        out.existing += report.existing
        out.rejected += report.rejected
        out.consent_events += report.consent_events
        out.rejections += report.rejections
    out.rejections.sort(key=lambda r: r.line)
    return out
