"""Journey partitions before and after: `python -m bench.partition_check N` (PostgreSQL).

Seeds N contacts (bench.scale_seed), launches and runs two journeys with two worker
processes, reads one person's transitions (median over 50 people) and archives the second
journey. Run it on two checkouts in turn (PYTHONPATH=<checkout>/src:<checkout>) to compare
code with and without the partitions; it prints one JSON line.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import yaml
from sqlalchemy import select

import candor
from bench.common import fresh_candor
from bench.scale_seed import seed
from bench.scale_steps import JOURNEY
from candor.journeys import load_journey
from candor.journeys.runtime import archive_journey, launch
from candor.journeys.runtime.processes import run_in_processes
from candor.store.journey_tables import journey_transitions


def measure(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {"code": candor.__file__, "contacts": n}
    with fresh_candor("postgres") as cx:
        seed(cx, n)
        for journey_id in ("earlier", "scale"):  # the first one's rows stay beside
            defn = load_journey(yaml.safe_dump({**JOURNEY, "id": journey_id}), "j.yaml")
            started = time.perf_counter()
            launch(cx, defn, actor="bench")
            out[f"launch_{journey_id}"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            run_in_processes(cx, 2, dispatch=False, once=True)
            out[f"run_{journey_id}"] = round(time.perf_counter() - started, 2)
        with cx.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE journey_transitions, journey_contacts")
            conn.commit()
            seconds = []
            for contact in range(2, 2000, 40):
                started = time.perf_counter()
                query = select(journey_transitions).where(
                    journey_transitions.c.contact_id == contact
                )
                conn.execute(query).all()
                seconds.append(time.perf_counter() - started)
            out["one_person_transitions_ms"] = round(statistics.median(seconds) * 1000, 3)
        started = time.perf_counter()
        result = archive_journey(cx, "scale", actor="bench", reason="stopped")
        out["archive_s"] = round(time.perf_counter() - started, 2)
        out["purged"] = result["purged"]
    return out


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)))
