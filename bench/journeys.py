"""Journey benchmark: launch -> consent gate -> send -> wait -> send -> end, no transport.

Each size runs in its own process so peak RSS shows whether memory stays flat as the target
group grows. Contacts are seeded set-based (SQL), the journey through the real runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from resource import RUSAGE_CHILDREN, getrusage
from typing import Any

import yaml
from sqlalchemy import func, select, text

from bench.common import ROOT, Timer, backends, fresh_candor, peak_rss_mb
from bench.gate import SERIES
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import RunStats, launch, run_until_idle
from candor.journeys.runtime.processes import run_in_processes
from candor.store.journey_tables import journey_transitions

UNSUB = "{{ unsubscribe_url }}"
JOURNEY = {
    "id": "bench",
    "name": "Benchmark journey",
    "purpose": "newsletter",
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "fields": ["country"],
    "ends_at": "2030-01-01T00:00:00Z",
    "templates": {"news": {"email": {"subject": "News", "text": f"Hello. Unsubscribe: {UNSUB}"}}},
    "steps": [
        {
            "id": "ask",
            "type": "consent",
            "channel": "email",
            "template": "news",
            "theme": "weekly",
            "timeout": "P7D",
            "on_refused": "done",
            "on_timeout": "done",
        },
        {"id": "first", "type": "send", "channel": "email", "template": "news", "theme": "weekly"},
        {"id": "pause", "type": "wait", "duration": "P3D"},
        {"id": "second", "type": "send", "channel": "email", "template": "news", "theme": "weekly"},
        {"id": "done", "type": "end"},
    ],
}


def seed(cx: Candor, n: int) -> None:
    """n contacts in DE with an e-mail address, all with a confirmed newsletter consent."""
    series = SERIES[cx.engine.dialect.name]
    now = cx.clock.now().replace(tzinfo=None)
    statements = [
        "INSERT INTO contacts "
        "(id, key_id, attributes, language, timezone, source, created_at, updated_at) "
        "SELECT g, 'k' || g, '{\"country\": \"DE\"}', 'en', 'UTC', 'bench', :now, :now FROM s",
        "INSERT INTO addresses "
        "(id, contact_id, channel, blind_index, value, deliverable, created_at) "
        "SELECT g, g, 'email', 'b' || g, :blob, true, :now FROM s",
        "INSERT INTO consent_state "
        "(contact_id, purpose_id, scope_theme, scope_channel, scope_address, "
        "event_id, status, occurred_at, purpose_version) "
        "SELECT g, 'newsletter', '', 'email', 0, g, 'confirmed', :now, 1 FROM s",
    ]
    with cx.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(series + sql), {"n": n, "now": now, "blob": b"\x00" * 40})
    if cx.engine.dialect.name == "postgresql":
        with cx.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def measure(backend: str, n: int, processes: int = 1) -> dict[str, Any]:
    with fresh_candor(backend) as cx:
        seed(cx, n)
        cx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
        defn = load_journey(yaml.safe_dump(JOURNEY), "bench.yaml")
        with Timer() as total:
            with Timer() as launching:
                report = launch(cx, defn, actor="bench")
            first = _until_idle(cx, processes)
            cx.clock.advance(timedelta(days=3, minutes=1))  # type: ignore[attr-defined]
            second = _until_idle(cx, processes)
        with cx.engine.connect() as conn:
            transitions = conn.execute(
                select(func.count()).select_from(journey_transitions)
            ).scalar_one()
    return {
        "contacts": n,
        "processes": processes,
        "entered": report.entered,
        "transitions": transitions,
        "launch_seconds": round(launching.seconds, 2),
        "seconds": round(total.seconds, 2),
        "transitions_per_s": round(transitions / total.seconds),
        "advance_rounds": first.rounds + second.rounds,
        "peak_rss_mb": peak_rss_mb(),
        "worker_peak_rss_mb": round(getrusage(RUSAGE_CHILDREN).ru_maxrss / 1024, 1) or None,
    }


def _until_idle(cx: Candor, processes: int) -> RunStats:
    """The whole journey's due work, by this process or by `candor worker --processes`."""
    if processes == 1:
        return run_until_idle(cx)
    return run_in_processes(cx, processes, dispatch=False, once=True)


def run() -> dict[str, Any]:
    sizes = [
        int(s) for s in os.environ.get("CANDOR_BENCH_JOURNEY_SIZES", "100000,1000000").split(",")
    ]
    out: dict[str, Any] = {
        "goal": ">= 50,000 transitions/s on PostgreSQL; peak RSS <= 300 MB, flat with size",
        "journey": "consent gate -> send -> wait P3D -> send -> end (outbox rows, no transport)",
    }
    # PostgreSQL also with one worker process per core (candor worker --processes).
    spread = int(os.environ.get("CANDOR_BENCH_JOURNEY_PROCESSES", str(os.cpu_count() or 1)))
    for backend in backends():
        counts = [1] if backend == "sqlite" or spread == 1 else [1, spread]
        out[backend] = [_in_subprocess(backend, n, p) for n in sizes for p in counts]
    return out


def _in_subprocess(backend: str, n: int, processes: int) -> dict[str, Any]:
    """A fresh process per size, so peak RSS belongs to that size alone."""
    code = (
        "import json; from bench.journeys import measure; "
        f"print(json.dumps(measure({backend!r}, {n}, {processes})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={**os.environ}
    )
    if done.returncode != 0:
        return {"contacts": n, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
