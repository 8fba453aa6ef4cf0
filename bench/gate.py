"""Gate benchmark: the SQL twin of decide() over a whole target group (in SQL, streamed)."""

from __future__ import annotations

import os
import statistics
from typing import Any

from sqlalchemy import text

from bench.common import Timer, seeded_runs
from candor.core.context import Candor
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.twin import count_by_reason, decide_many, decisions

SERIES = {
    "sqlite": "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) ",
    "postgresql": "WITH s(g) AS (SELECT generate_series(1, :n)) ",
}


def seed(cx: Candor, n: int) -> None:
    """n contacts with an e-mail address; 60% granted, 10% withdrawn, 3% blocked (set-based)."""
    series = SERIES[cx.engine.dialect.name]
    now = cx.clock.now().replace(tzinfo=None)
    statements = [
        "INSERT INTO contacts "
        "(id, key_id, attributes, language, timezone, source, created_at, updated_at) "
        "SELECT g, 'k' || g, '{}', 'en', 'UTC', 'bench', :now, :now FROM s",
        "INSERT INTO addresses "
        "(id, contact_id, channel, blind_index, value, deliverable, created_at) "
        "SELECT g, g, 'email', 'b' || g, :blob, true, :now FROM s",
        "INSERT INTO consent_state "
        "(contact_id, purpose_id, scope_theme, scope_channel, scope_address, "
        "event_id, status, occurred_at, purpose_version) "
        "SELECT g, 'newsletter', '', 'email', 0, g, "
        "CASE WHEN g % 10 < 6 THEN 'confirmed' WHEN g % 10 = 6 THEN 'withdrawn' "
        "ELSE 'pending' END, "
        ":now, 1 FROM s WHERE g % 10 < 8",
        "INSERT INTO blocks (contact_id, kind, channel, theme, reason, source, created_at) "
        "SELECT g, 'theme', NULL, 'weekly', 'bench', 'bench', :now FROM s WHERE g % 33 = 0",
    ]
    with cx.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(series + sql), {"n": n, "now": now, "blob": b"\x00" * 40})
    if cx.engine.dialect.name == "postgresql":
        with cx.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    if cx.engine.dialect.name == "postgresql":
        with cx.engine.begin() as conn:
            conn.exec_driver_sql("SELECT setval('contacts_id_seq', (SELECT max(id) FROM contacts))")


def measure(cx: Candor, runs: int = 3) -> dict[str, Any]:
    """Decide for every contact (newsletter/email/weekly), in the database and streamed out.

    In the database is how the product uses the twin at scale (launch enrols with INSERT ...
    SELECT, simulate and Mission Control count by reason); the goal is read on that figure,
    the median of `runs`. Streaming every decision into Python objects is reported beside it.
    """
    with cx.engine.connect() as conn:
        purpose, theme = purpose_facts(conn, "newsletter"), theme_ref(conn, "weekly")
        query = decisions(purpose, "email", theme, cx.clock.now(), dialect=conn.dialect.name)
        in_sql: dict[str, int] = {}
        seconds = []
        for _ in range(runs):
            with Timer() as timer:
                in_sql = count_by_reason(conn, query)
            seconds.append(timer.seconds)
        reasons: dict[str, int] = {}
        with Timer() as streaming:
            for _, decision in decide_many(conn, query, batch=20_000):
                reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
    total = sum(in_sql.values())
    assert in_sql == reasons, "the twin counted in SQL must agree with the streamed decisions"
    median = statistics.median(seconds)
    return {
        "decisions": total,
        "seconds": round(median, 3),  # decided and counted inside the database
        "decisions_per_s": round(total / median),
        "runs_seconds": [round(s, 3) for s in seconds],
        "streamed_seconds": round(streaming.seconds, 3),  # every decision as a Python object
        "streamed_per_s": round(total / streaming.seconds),
        "by_reason": in_sql,
    }


def run(n: int | None = None) -> dict[str, Any]:
    n = n or int(os.environ.get("CANDOR_BENCH_CONTACTS", "1000000"))
    goal = "1M decisions <= 1 s on PostgreSQL, <= 3 s on SQLite (decided in the database)"
    return seeded_runs(n, goal, seed, measure)
