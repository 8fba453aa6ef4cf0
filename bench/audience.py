"""Audience benchmark: the studio's live count (who may be reached, and why not) at scale.

The count is what the audience builder asks on every edit: the group's filter compiled to
SQL and decided by the SQL twin, counted by reason in the database (count_audience).
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from sqlalchemy import text

from bench.common import Timer, seeded_runs
from bench.gate import seed as seed_gate
from candor.core.context import Candor
from candor.journeys.runtime.audiences import Audience, count_audience

GERMANS = {"field": "country", "op": "eq", "value": "DE"}
STILL_SUBSCRIBED = {
    "all": [
        GERMANS,
        {"not": {"decision": {"purpose": "newsletter", "channel": "email", "reason": "withdrawn"}}},
    ]
}


def seed(cx: Candor, n: int) -> None:
    """The gate benchmark's ledger (60% granted, 10% withdrawn, 3% blocked), three in four
    contacts in DE and the rest in AT."""
    seed_gate(cx, n)
    json_text = "CAST(:{} AS JSON)" if cx.engine.dialect.name == "postgresql" else ":{}"
    with cx.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE contacts SET attributes = CASE WHEN id % 4 = 0 THEN "
                f"{json_text.format('at')} ELSE {json_text.format('de')} END"
            ),
            {"at": '{"country": "AT"}', "de": '{"country": "DE"}'},
        )
    if cx.engine.dialect.name == "postgresql":
        with cx.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _median_count(cx: Candor, audience: Audience, runs: int) -> dict[str, Any]:
    seconds = []
    counted = None
    with cx.engine.connect() as conn:
        for _ in range(runs):
            with Timer() as timer:
                counted = count_audience(conn, audience, cx.clock.now())
            seconds.append(timer.seconds)
    assert counted is not None
    return {
        "seconds": round(statistics.median(seconds), 3),
        "runs_seconds": [round(s, 3) for s in seconds],
        "total": counted.total,
        "reachable": counted.reachable,
        "by_reason": counted.by_reason,
    }


def measure(cx: Candor, runs: int = 3) -> dict[str, Any]:
    """The live count for Germans (newsletter by e-mail about the weekly theme), and the
    same group less those whose newsletter consent was withdrawn (a gate condition: the twin
    decides twice)."""
    base = {"purpose": "newsletter", "channel": "email", "theme": "weekly"}
    by_field = Audience.model_validate({"id": "de", "name": "DE", "filter": GERMANS, **base})
    by_decision = Audience.model_validate(
        {"id": "de_kept", "name": "DE kept", "filter": STILL_SUBSCRIBED, **base}
    )
    return {
        "attribute_filter": _median_count(cx, by_field, runs),
        "with_gate_condition": _median_count(cx, by_decision, runs),
    }


def run(n: int | None = None) -> dict[str, Any]:
    n = n or int(os.environ.get("CANDOR_BENCH_CONTACTS", "1000000"))
    goal = "live count at 1M contacts <= 1 s on PostgreSQL, <= 3 s on SQLite"
    return seeded_runs(n, goal, seed, measure)
