"""Mission Control benchmark: one refresh (web.figures.compute) at a million contacts.

Seeds n contacts set-based with consents to three purposes (several rows per contact for
some, versions below a re-consent floor, agreed times spread over about three years so that
events' P2Y validity makes some expire), 3% of them blocked, then counts the tallies once
(ledger.tallies.rebuild, as migration 0010 does for existing data). Measured: the median and
p95 of several refreshes, each figure's share, and the consent figures by the old full scan
(tests/web/figures_oracle.py) for comparison; both must agree.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from tests.web.figures_oracle import purpose_figures_by_scan

from bench.common import Timer, backends, fresh_candor
from candor.ledger import tallies
from candor.runtime import Candor
from candor.store.engine import reading
from candor.store.tables import purposes
from candor.sync.status import sync_figures
from candor.web import figures

SERIES = {
    "sqlite": "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) ",
    "postgresql": "WITH s(g) AS (SELECT generate_series(1, :n)) ",
}
# g days and hours before :now, in the store's naive UTC text (SQLite) or timestamp.
AGO = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S', :now, '-' || ({d}) || ' days', "
    "'-' || ({h}) || ' hours') || '.000000'",
    "postgresql": "CAST(:now AS timestamp) - make_interval(days => {d}, hours => {h})",
}


def _state(series: str, ago: str, purpose: str, channel: str, status: str, where: str) -> str:
    return (
        series + "INSERT INTO consent_state "
        "(contact_id, purpose_id, scope_theme, scope_channel, scope_address, "
        "event_id, status, occurred_at, purpose_version) "
        f"SELECT g, '{purpose}', '', '{channel}', 0, g, {status}, "
        f"{ago.format(d='g % 1100', h='g % 24')}, 1 + g % 3 FROM s WHERE {where}"
    )


def seed(cx: Candor, n: int) -> None:
    """n contacts; newsletter (e-mail and SMS rows, some pending), events, profiling."""
    dialect = cx.engine.dialect.name
    series, ago = SERIES[dialect], AGO[dialect]
    now = cx.clock.now().replace(tzinfo=None)
    agreed = (
        "CASE WHEN g % 10 < 6 THEN 'confirmed' WHEN g % 10 = 6 THEN 'withdrawn' ELSE 'pending' END"
    )
    statements = [
        series + "INSERT INTO contacts "
        "(id, key_id, attributes, language, timezone, source, created_at, updated_at) "
        "SELECT g, 'k' || g, '{}', 'en', 'UTC', 'bench', :now, :now FROM s",
        _state(series, ago, "newsletter", "email", agreed, "g % 10 < 8"),
        _state(series, ago, "newsletter", "sms", "'granted'", "g % 4 = 0"),
        _state(series, ago, "events", "", "'granted'", "g % 3 = 0"),
        _state(series, ago, "profiling", "", "'refused'", "g % 5 = 0"),
        series
        + "INSERT INTO blocks (contact_id, kind, channel, theme, reason, source, created_at) "
        "SELECT g, 'theme', NULL, 'weekly', 'bench', 'bench', :now FROM s WHERE g % 33 = 0",
    ]
    bound = now.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else now
    with cx.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql), {"n": n, "now": bound})
        conn.execute(
            update(purposes)
            .where(purposes.c.id.in_(["newsletter", "events"]))
            .values(current_version=3, reconsent_floor=2)
        )
        tallies.rebuild(conn)
    with cx.engine.connect() as conn:
        if dialect == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")


def _sections(conn: Any, at: datetime, tally: figures.SendTally) -> dict[str, float]:
    parts = {
        "journeys": lambda: figures.journey_figures(conn),
        "purposes": lambda: figures.purpose_figures(conn, at),
        "blocks": lambda: figures.block_figures(conn),
        "sends": lambda: tally.figures(conn, at),
        "requests": lambda: figures.request_figures(conn, at),
        "sync": lambda: sync_figures(conn),
    }
    out = {}
    for name, part in parts.items():
        with Timer() as timer:
            part()
        out[name] = round(timer.seconds * 1000, 1)
    return out


def measure(cx: Candor, refreshes: int = 15, scans: int = 3) -> dict[str, Any]:
    """Refreshes (median, p95, per figure) and the old full-scan consent figures."""
    at = cx.clock.now() + timedelta(hours=5)  # the lapse instant falls inside a seeded day
    tally = figures.SendTally()
    seconds, sections = [], []
    with reading(cx.engine) as conn:
        figures.compute(conn, at, tally)  # warm: the send tally's first read, caches
        for _ in range(refreshes):
            with Timer() as timer:
                fast = figures.compute(conn, at, tally)
            seconds.append(timer.seconds)
            sections.append(_sections(conn, at, tally))
        scan_seconds = []
        for _ in range(scans):
            with Timer() as timer:
                old = purpose_figures_by_scan(conn, at)
            scan_seconds.append(timer.seconds)
    assert fast["purposes"] == old, "the tallies must give the full scan's figures"
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "refresh_ms_median": round(statistics.median(seconds) * 1000, 1),
        "refresh_ms_p95": round(p95 * 1000, 1),
        "refreshes": refreshes,
        "per_figure_ms_median": {
            name: statistics.median(s[name] for s in sections) for name in sections[0]
        },
        "purposes_by_full_scan_ms_median": round(statistics.median(scan_seconds) * 1000, 1),
        "purposes": fast["purposes"],
    }


def run(n: int | None = None) -> dict[str, Any]:
    n = n or int(os.environ.get("CANDOR_BENCH_MISSION_CONTROL", "1000000"))
    out: dict[str, Any] = {
        "contacts": n,
        "goal": "a refresh at 1M contacts does no full scan (figures from tallies and indexes)",
    }
    for backend in backends():
        with fresh_candor(backend) as cx:
            with Timer() as seeding:
                seed(cx, n)
            result = measure(cx)
            result["seed_seconds"] = round(seeding.seconds, 1)
            out[backend] = result
    return out
