"""Import beside the machine's bare COPY of the same file: `python -m bench import_copy`.

For each size (CANDOR_BENCH_IMPORT_SIZES, default 100000,1000000,10000000) one CSV of
synthetic contacts (bench.intake's) is written, then on PostgreSQL, in the same run:
- bare COPY: the file into a one-table scratch schema (every column text, no index), what
  the server takes when nothing is validated, sealed or chained;
- `contacts import` in one process, and with `--processes P` (CANDOR_BENCH_PROCESSES,
  default 2: P importers at once, each taking its share of the rows).
Reported: contacts/s of each and the import's ratio to the bare COPY.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.common import Timer, fresh_candor, postgres_url
from bench.intake import write_csv
from candor.ledger.imports.importer import import_csv
from candor.ledger.imports.shares import import_csv_in_processes
from candor.store.engine import make_engine


def bare_copy(path: Path) -> float:
    """Seconds to COPY the file into a one-table scratch schema (dropped after)."""
    base = postgres_url()
    assert base is not None
    engine = make_engine(base)
    schema = f"candor_copy_{uuid.uuid4().hex[:8]}"
    with path.open(newline="") as handle:
        header = next(csv.reader(handle))
    columns = ", ".join(f'"{name}" text' for name in header)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(text(f'CREATE TABLE "{schema}".people ({columns})'))
        with Timer() as timer, engine.begin() as conn:
            raw = conn.connection.driver_connection
            statement = f'COPY "{schema}".people FROM STDIN WITH (FORMAT csv, HEADER true)'
            with raw.cursor() as cursor, cursor.copy(statement) as copy, path.open("rb") as data:
                while chunk := data.read(1 << 20):
                    copy.write(chunk)
        return timer.seconds
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def imported(path: Path, processes: int) -> float:
    """Seconds to import the file into a fresh product (`contacts import --processes`)."""
    with fresh_candor("postgres") as cx, Timer() as timer:
        if processes == 1:
            import_csv(cx.engine, cx.vault, path, actor="bench", at=cx.clock.now())
        else:
            import_csv_in_processes(cx, path, processes=processes, actor="bench", at=cx.clock.now())
    return timer.seconds


def measure(n: int, processes: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="candor-import-") as tmp:
        path = Path(tmp) / "people.csv"
        write_csv(path, n)
        copy_seconds = bare_copy(path)
        one = imported(path, 1)
        many = imported(path, processes) if processes > 1 else one
        size_mb = round(path.stat().st_size / 2**20, 1)
    return {
        "rows": n,
        "file_mb": size_mb,
        "bare_copy_per_s": round(n / copy_seconds),
        "import_one_process_per_s": round(n / one),
        f"import_{processes}_processes_per_s": round(n / many),
        "ratio_to_bare_copy": round(copy_seconds / many, 4),
    }


def run() -> dict[str, Any]:
    sizes = os.environ.get("CANDOR_BENCH_IMPORT_SIZES", "100000,1000000,10000000")
    processes = int(os.environ.get("CANDOR_BENCH_PROCESSES", "2"))
    out: dict[str, Any] = {"goal": ">= 10,000 contacts/s on PostgreSQL with two processes"}
    if postgres_url() is None:
        return {**out, "skipped": "needs CANDOR_BENCH_POSTGRES_URL or CANDOR_TEST_POSTGRES_URL"}
    out["postgres"] = [measure(int(n), processes) for n in sizes.split(",") if n.strip()]
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(), indent=2) + "\n")
