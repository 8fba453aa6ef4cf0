"""One erasure of a typical contact at a given database size: `python -m bench.erasure_check N`.

Seeds N contacts (bench.scale_seed) on PostgreSQL, makes 15 typical contacts through the
product (bench.scale_steps) and erases them one by one; prints the median and the runs as
one JSON line. Run it on two checkouts in turn (PYTHONPATH=<checkout>/src:<checkout>) to
compare erasure code on the same machine within minutes.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import candor
from bench.common import fresh_candor
from bench.scale_seed import seed
from bench.scale_steps import _typical
from candor.rights.erasure import erase_contact

RUNS = 15


def measure(n: int) -> dict[str, Any]:
    with fresh_candor("postgres") as cx:
        seed(cx, n)
        people = [_typical(cx, i) for i in range(RUNS)]
        seconds = []
        for person in people:
            started = time.perf_counter()
            erase_contact(cx, person, actor="bench", reason="bench")
            seconds.append(time.perf_counter() - started)
    return {
        "code": candor.__file__,
        "contacts": n,
        "erasure_median_ms": round(statistics.median(seconds) * 1000, 1),
        "runs_ms": [round(s * 1000) for s in seconds],
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
