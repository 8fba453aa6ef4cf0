"""Shared set-up for benchmarks: throwaway databases, peak memory, JSON output."""

from __future__ import annotations

import os
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.config import apply_config, load_config_file
from candor.store.engine import make_engine
from candor.store.keystore import init_keystore
from candor.store.migrate import upgrade
from candor.store.vault import generate_master_key

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "examples" / "candor.yaml"


def postgres_url() -> str | None:
    """CANDOR_BENCH_POSTGRES_URL, else CANDOR_TEST_POSTGRES_URL; None skips PostgreSQL."""
    return os.environ.get("CANDOR_BENCH_POSTGRES_URL") or os.environ.get("CANDOR_TEST_POSTGRES_URL")


def backends() -> list[str]:
    return ["sqlite", *(["postgres"] if postgres_url() else [])]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's VmHWM first: ru_maxrss survives fork and exec, so a benchmark run in a child
    process would report its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


@contextmanager
def database_url(backend: str, workdir: str | Path) -> Iterator[str]:
    """A throwaway database: a SQLite file in `workdir`, or a PostgreSQL schema dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/bench.db"
        return
    base = postgres_url()
    assert base is not None
    schema = f"candor_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def fresh_candor(backend: str) -> Iterator[Candor]:
    """A migrated, configured product on a throwaway SQLite file or PostgreSQL schema."""
    os.environ.setdefault("CANDOR_MASTER_KEY", generate_master_key())
    with tempfile.TemporaryDirectory() as tmp, database_url(backend, tmp) as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        cx = Candor.open(url, keystore=f"sqlite:///{tmp}/keys.db", clock=ManualClock())
        init_keystore(cx.vault.keystore)
        with cx.engine.begin() as conn:
            apply_config(conn, load_config_file(CONFIG), actor="bench", at=cx.clock.now())
        try:
            yield cx
        finally:
            cx.dispose()


class Timer:
    """Wall-clock seconds of a block."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def seeded_runs(
    n: int, goal: str, seed: Callable[[Candor, int], None], measure: Callable[[Candor], Any]
) -> dict[str, Any]:
    """For each database: a fresh product seeded with n contacts, then measured (JSON dict)."""
    out: dict[str, Any] = {"contacts": n, "goal": goal}
    for backend in backends():
        with fresh_candor(backend) as cx:
            with Timer() as seeding:
                seed(cx, n)
            result: dict[str, Any] = measure(cx)
            result["seed_seconds"] = round(seeding.seconds, 1)
            result["peak_rss_mb"] = peak_rss_mb()
            out[backend] = result
    return out
