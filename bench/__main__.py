"""`make bench`: run every benchmark and print one JSON document with the figures and sizes.

Sizes come from environment variables (CANDOR_BENCH_CONTACTS, CANDOR_BENCH_IMPORT, ...);
PostgreSQL is measured too when CANDOR_BENCH_POSTGRES_URL or CANDOR_TEST_POSTGRES_URL is set.
Pass benchmark names to run only some: `python -m bench gate api`.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
import time
from typing import Any

BENCHMARKS = (
    "gate",
    "audience",
    "api",
    "intake",
    "journeys",
    "delivery",
    "deliverability",
    "rights",
    "mission_control",
    "always_on",
)
# Run only when named (long): `python -m bench scale`, `python -m bench campaign`.
ON_REQUEST = ("scale", "campaign", "import_copy")


def main(names: list[str]) -> None:
    report: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            "platform": platform.platform(),
            "calibration_seconds": _calibration(),
        },
    }
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        report[name] = module.run()
        report[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
        print(f"{name}: {json.dumps(report[name], default=str)}", file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2, default=str))


def _calibration() -> float:
    """Seconds for a fixed pure-Python loop: tells runs on a slower or busier machine apart."""
    started = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return round(time.perf_counter() - started, 2)


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main(sys.argv[1:])
