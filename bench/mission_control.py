"""Mission Control benchmark: one refresh (figures.mission_control.compute) at a million contacts.

Seeds n contacts set-based with consents to three purposes (several rows per contact for
some, versions below a re-consent floor, agreed times spread over about three years so that
events' P2Y validity makes some expire), 6% of them blocked (a sixth of those lifted), a
running journey holding 60% of them at three steps (active, waiting, done), and one synced
event per contact delivered to one or two connectors (pending, delivered, a few dead), then
counts the tallies and counts once (figures.consent_tallies, figures.change_counts,
figures.step_counts rebuild, as
migrations 0010 and 0012 do for existing data). Measured: the median and p95 of several
refreshes, each figure's share, and the figures by the old full scans
(tests/figures/oracle.py) for comparison; both must agree.
"""

from __future__ import annotations

import os
import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text, update
from tests.web.figures_oracle import (
    block_figures_by_scan,
    journey_figures_by_scan,
    purpose_figures_by_scan,
    sync_counts_by_scan,
)

from bench.common import Timer, seeded_runs
from candor.core.context import Candor
from candor.figures import change_counts as counts
from candor.figures import consent_tallies as tallies
from candor.figures import mission_control as figures
from candor.figures import step_counts as here
from candor.store.engine import reading
from candor.store.tables import purposes
from candor.sync.status import sync_figures

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


def _journey(series: str) -> list[str]:
    """A running journey with 60% of the contacts: a third at each of hold (active),
    pause (waiting) and the end (done, no longer counted as there)."""
    step = "CASE g % 3 WHEN 0 THEN 'hold' WHEN 1 THEN 'pause' ELSE 'done' END"
    status = "CASE g % 3 WHEN 0 THEN 'active' WHEN 1 THEN 'waiting' ELSE 'done' END"
    return [
        "INSERT INTO journeys (id, version, name, purpose_id, definition, state, created_at, "
        "launched_at, entered) VALUES ('bench', 1, 'Bench', 'events', '{}', 'running', :now, "
        ":now, 0)",
        series + "INSERT INTO journey_contacts (journey_id, contact_id, step_id, status, due_at, "
        "entered_at, step_entered_at, data) "
        f"SELECT 'bench', g, {step}, {status}, :now, :now, :now, '{{}}' FROM s WHERE g % 10 < 6",
        "INSERT INTO journey_step_stats (journey_id, step_id, outcome, count) VALUES "
        "('bench', 'hold', 'passed', 1000), ('bench', 'pause', 'passed', 500)",
    ]


def _sync(series: str) -> list[str]:
    """One event per contact; a delivery to crm each, to shop every fourth; 2% pending,
    one in 5,000 dead, the rest delivered."""
    status = (
        "CASE WHEN g % 5000 = 7 THEN 'dead' WHEN g % 50 = 3 THEN 'pending' ELSE 'delivered' END"
    )
    deliveries = (
        "INSERT INTO sync_deliveries (event_row, connector, contact_id, status, attempts, "
        "next_attempt_at, created_at) "
        f"SELECT g, '{{c}}', g, {status}, 1, :now, :now FROM s"
    )
    return [
        series + "INSERT INTO sync_events (id, event_id, type, contact_id, occurred_at, data) "
        "SELECT g, 'e' || g, 'consent.changed', g, :now, '{}' FROM s",
        series + deliveries.format(c="crm"),
        series + deliveries.format(c="shop") + " WHERE g % 4 = 0",
    ]


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
        series
        + "INSERT INTO blocks (contact_id, kind, channel, theme, reason, source, created_at) "
        "SELECT g, 'channel', 'sms', NULL, 'bench', 'bench', :now FROM s WHERE g % 33 = 1",
        "INSERT INTO block_lifts (block_id, lifted_at, reason, source) "
        "SELECT id, :now, 'bench', 'bench' FROM blocks WHERE id % 6 = 0",
        *_journey(series),
        *_sync(series),
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
        counts.rebuild(conn)
        here.rebuild(conn)
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


def _full_scans(conn: Any, scans: int) -> dict[str, float]:
    """The old counts of blocks, sync deliveries and journey steps (before migration 0012)."""
    parts = {
        "blocks": lambda: block_figures_by_scan(conn),
        "sync_counts": lambda: sync_counts_by_scan(conn),
        "journeys": lambda: journey_figures_by_scan(conn),
    }
    out = {}
    for name, part in parts.items():
        seconds = []
        for _ in range(scans):
            with Timer() as timer:
                part()
            seconds.append(timer.seconds)
        out[name] = round(statistics.median(seconds) * 1000, 1)
    return out


def measure(cx: Candor, refreshes: int = 15, scans: int = 3) -> dict[str, Any]:
    """Refreshes (median, p95, per figure) and the old full-scan consent figures."""
    at = cx.clock.now() + timedelta(hours=5)  # the lapse instant falls inside a seeded day
    tally = figures.SendTally()
    seconds, sections = [], []
    with reading(cx.engine) as conn:
        figures.compute(conn, at, tally, sync_figures)  # warm: the send tally's first read, caches
        for _ in range(refreshes):
            with Timer() as timer:
                fast = figures.compute(conn, at, tally, sync_figures)
            seconds.append(timer.seconds)
            sections.append(_sections(conn, at, tally))
        scan_seconds = []
        for _ in range(scans):
            with Timer() as timer:
                old = purpose_figures_by_scan(conn, at)
            scan_seconds.append(timer.seconds)
        before = _full_scans(conn, scans)
        assert block_figures_by_scan(conn) == fast["blocks"]
        assert journey_figures_by_scan(conn) == fast["journeys"]
        assert sync_counts_by_scan(conn) == [
            {k: v for k, v in c.items() if k != "dead_letters"} for c in fast["sync"]["connectors"]
        ]
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
        "counts_by_full_scan_ms_median": before,
        "purposes": fast["purposes"],
    }


def run(n: int | None = None) -> dict[str, Any]:
    n = n or int(os.environ.get("CANDOR_BENCH_MISSION_CONTROL", "1000000"))
    goal = "a refresh at 1M contacts does no full scan (figures from tallies and indexes)"
    return seeded_runs(n, goal, seed, measure)
