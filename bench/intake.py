"""Import benchmark: contacts/s through `contacts import` (validation, encryption, bulk writes)."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Timer, backends, fresh_candor, peak_rss_mb
from candor.demo.population import synthetic_rows
from candor.ledger.imports.importer import import_csv


def write_csv(path: Path, n: int) -> None:
    rows = synthetic_rows(n, seed=3)
    first = next(rows)[1]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(first))
        writer.writeheader()
        writer.writerow(first)
        for _, row in rows:
            writer.writerow(row)


def run(n: int | None = None) -> dict[str, Any]:
    n = n or int(os.environ.get("CANDOR_BENCH_IMPORT", "50000"))
    out: dict[str, Any] = {"rows": n, "goal": ">= 50,000 contacts/s on PostgreSQL"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "people.csv"
        write_csv(path, n)
        for backend in backends():
            with fresh_candor(backend) as cx, Timer() as timer:
                report = import_csv(
                    cx.engine, cx.vault, path, actor="bench", at=cx.clock.now(), batch_size=5000
                )
            out[backend] = {
                "imported": report.imported,
                "consent_events": report.consent_events,
                "seconds": round(timer.seconds, 2),
                "contacts_per_s": round(report.imported / timer.seconds),
                "peak_rss_mb": peak_rss_mb(),
            }
    return out
