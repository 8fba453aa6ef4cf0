"""Mission Control figures, from indexed aggregates and incremental tallies (never per contact).

- journeys: the journey_step_stats aggregates the runtime maintains per running journey and
  step: passed, stopped by reason, deferred, and how many are there now (figures.step_counts);
- purposes: the consent tallies every writer of consent_state and contacts keeps in its own
  transaction (figures.consent_tallies), summed, plus one indexed count of the day on which a
  purpose's lapse instant falls; "not yet asked" is the live contacts minus the pairs
  counted for the purpose;
- blocks by kind and sync deliveries per connector and status: the counts their writers
  keep (figures.change_counts), with the few newest dead letters (sync.status);
- DSRs by status (index status, due_at), sends per minute from an in-memory tally that
  only reads communications newer than the last id it saw.

A snapshot is shared by every viewer and recomputed at most once per interval (longer when a
computation was slow), so N open dashboards cost one computation. A refresh that finds the
writers' deltas piled up folds them into one row per key (consent_tallies.fold,
change_counts.fold).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, func, select

from candor.core.context import Candor
from candor.core.durations import parse_duration, subtract
from candor.figures import change_counts as counts
from candor.figures import consent_tallies as tallies
from candor.figures import step_counts as journeys_here
from candor.figures.step_counts import ENGAGEMENT
from candor.policy.decide import DENIAL_REASONS
from candor.store.engine import reading
from candor.store.journey_tables import journey_step_stats, journeys
from candor.store.rights_tables import dsr_requests
from candor.store.tables import communications, purposes

OPEN_REQUESTS: Final = ("received", "verifying", "in_progress")
STOP_OUTCOMES: Final = frozenset(
    {*DENIAL_REASONS, "erased", "stopped", "exited", "timeout", "journey_expired"}
)
EXPIRY_WARNING: Final = timedelta(days=30)
SEND_WINDOW_MINUTES: Final = 10
BACKFILL_ROWS: Final = 20_000
FOLD_ROWS: Final = 5_000  # tally rows (deltas included) before a refresh folds them


# A journey's definition -> its step ids in flow order (the journeys package, passed in).
StepOrder = Callable[[Any], list[str]]


def journey_figures(conn: Connection, order: StepOrder | None = None) -> list[dict[str, Any]]:
    """Per running journey and step: contacts there now, passed, stopped by reason, deferred;
    the steps in flow order when `order` is given, else by id."""
    running = running_journeys(conn)
    if not running:
        return []
    st = journey_step_stats
    here, stats = journeys_here.split(
        conn.execute(
            select(st.c.journey_id, st.c.step_id, st.c.outcome, st.c.count).where(
                st.c.journey_id.in_([j.id for j in running])
            )
        ).all()
    )
    return journey_entries(running, here, stats, order)


def running_journeys(conn: Connection) -> list[Any]:
    """The running journeys (id, name, purpose_id, entered, definition), by id."""
    j = journeys
    return list(
        conn.execute(
            select(j.c.id, j.c.name, j.c.purpose_id, j.c.entered, j.c.definition)
            .where(journeys.c.state == "running")
            .order_by(journeys.c.id)
        ).all()
    )


def journey_entries(
    running: list[Any],
    here: dict[tuple[str, str], int],
    stats: dict[tuple[str, str], dict[str, int]],
    order: StepOrder | None = None,
) -> list[dict[str, Any]]:
    """Mission Control's entry per running journey from its counts per (journey, step)."""
    out = []
    for j in running:
        keys = {k[1] for k in here if k[0] == j.id} | {k[1] for k in stats if k[0] == j.id}
        rank = {s: i for i, s in enumerate(order(j.definition))} if order else {}
        steps = {
            step: step_figures(here.get((j.id, step), 0), stats.get((j.id, step), {}))
            for step in sorted(keys, key=lambda s: (rank.get(s, len(rank)), s))
        }
        out.append(
            {
                "id": j.id,
                "name": j.name,
                "purpose": j.purpose_id,
                "entered": int(j.entered or 0),
                "steps": steps,
            }
        )
    return out


def step_figures(here: int, outcomes: dict[str, int]) -> dict[str, Any]:
    """One step's figures from its outcome counters."""
    stopped = {o: n for o, n in outcomes.items() if o in STOP_OUTCOMES and n}
    deferred = sum(n for o, n in outcomes.items() if o.startswith("deferred"))
    passed = sum(
        n
        for o, n in outcomes.items()
        if o not in STOP_OUTCOMES and o not in ENGAGEMENT and not o.startswith("deferred")
    )
    return {
        "here": here,
        "passed": passed,
        "stopped": dict(sorted(stopped.items())),
        "stopped_total": sum(stopped.values()),
        "deferred": deferred,
    }


def purpose_figures(conn: Connection, at: datetime) -> list[dict[str, Any]]:
    """Per consent purpose: not yet asked, pending double opt-in, re-consent due, expiring.

    From the summed tallies (figures.consent_tallies: a row per purpose, flag, version and
    day), plus one indexed count of the day on which a purpose's lapse instant falls.
    """
    tally, _ = tallies.sums(conn)
    live = tally.get(tallies.LIVE, 0)
    by_purpose: dict[str | None, list[tuple[tallies.Key, int]]] = defaultdict(list)
    for key, n in tally.items():
        by_purpose[key[0]].append((key, n))
    rows = conn.execute(select(purposes).order_by(purposes.c.id)).mappings().all()
    out = []
    for p in rows:
        if p["legal_basis"] != "consent":
            continue
        mine = by_purpose.get(p["id"], [])
        floor = p["reconsent_floor"] or 0
        expiring = 0
        if p["consent_valid_for"]:
            lapse = subtract(at + EXPIRY_WARNING, parse_duration(p["consent_valid_for"]))
            day = tallies.utc_day(lapse)
            expiring = sum(n for k, n in mine if k[3] is not None and k[3] < day)
            if any(k[3] == day for k, _ in mine):
                expiring += tallies.agreed_within(conn, p["id"], day, lapse)
        out.append(
            {
                "id": p["id"],
                "name": p["name"],
                "not_asked": max(live - sum(n for _, n in mine), 0),
                "pending_doi": sum(n for k, n in mine if k[1]),
                "reconsent": sum(n for k, n in mine if k[2] is not None and k[2] < floor),
                "expiring": expiring,
            }
        )
    return out


def block_figures(conn: Connection) -> dict[str, int]:
    """Active (not lifted) blocks by kind: all, channel, address, theme (figures.change_counts)."""
    out = {"all": 0, "channel": 0, "address": 0, "theme": 0}
    for (kind, _), n in counts.sums(conn, counts.BLOCKS).items():
        out[kind] = n
    return out


def request_figures(conn: Connection, at: datetime) -> dict[str, Any]:
    """DSRs by status, the overdue count, and the open ones by due date with days left."""
    r = dsr_requests
    by_status = {
        s: int(n) for s, n in conn.execute(select(r.c.status, func.count()).group_by(r.c.status))
    }
    overdue = int(
        conn.execute(
            select(func.count())
            .select_from(r)
            .where(r.c.status.in_(OPEN_REQUESTS), r.c.due_at < at)
        ).scalar_one()
    )
    items = []
    for row in conn.execute(
        select(r.c.id, r.c.type, r.c.status, r.c.due_at, r.c.extended_months)
        .where(r.c.status.in_(OPEN_REQUESTS))
        .order_by(r.c.due_at, r.c.id)
        .limit(20)
    ):
        left = row.due_at - at
        items.append(
            {
                "id": row.id,
                "type": row.type,
                "status": row.status,
                "due_at": row.due_at.isoformat(),
                "days_left": left.days,
                "overdue": row.due_at < at,
                "extended_months": row.extended_months,
            }
        )
    return {"by_status": by_status, "overdue": overdue, "open": items}


class SendTally:
    """Outgoing messages per minute, read incrementally: only rows after the last id seen."""

    def __init__(self, window_minutes: int = SEND_WINDOW_MINUTES) -> None:
        self.window = window_minutes
        self.cursor: int | None = None
        self.times: deque[datetime] = deque()
        self.lock = threading.Lock()

    def figures(self, conn: Connection, at: datetime) -> dict[str, Any]:
        c = communications
        with self.lock:
            if self.cursor is None:
                top = conn.execute(select(func.max(c.c.id))).scalar() or 0
                self.cursor = max(int(top) - BACKFILL_ROWS, 0)
            rows = conn.execute(
                select(c.c.id, c.c.occurred_at)
                .where(c.c.id > self.cursor, c.c.direction == "out")
                .order_by(c.c.id)
                .limit(200_000)
            ).all()
            if rows:
                self.cursor = int(rows[-1].id)
                self.times.extend(r.occurred_at for r in rows)
            start = at.replace(second=0, microsecond=0) - timedelta(minutes=self.window - 1)
            kept = sorted(t for t in self.times if t >= start)
            self.times = deque(kept)
            per = Counter(t.replace(second=0, microsecond=0) for t in kept if t <= at)
        minutes = [start + timedelta(minutes=i) for i in range(self.window)]
        series = [{"minute": m.isoformat(), "count": per.get(m, 0)} for m in minutes]
        return {
            "per_minute": series,
            "last_minute": series[-1]["count"],
            "window_total": sum(s["count"] for s in series),
        }


SyncReader = Callable[[Connection], dict[str, Any]]


def compute(
    conn: Connection,
    at: datetime,
    tally: SendTally,
    sync_figures: SyncReader,
    order: StepOrder | None = None,
) -> dict[str, Any]:
    """Every Mission Control figure at `at`; `sync_figures` (the sync package's reader) and
    `order` (the journeys package's flow order) are passed in: both sit above this package."""
    return {
        "generated_at": at.isoformat(),
        "journeys": journey_figures(conn, order),
        "purposes": purpose_figures(conn, at),
        "blocks": block_figures(conn),
        "sends": tally.figures(conn, at),
        "requests": request_figures(conn, at),
        "sync": sync_figures(conn),  # deliveries and dead letters per connector
    }


class FiguresCache:
    """One snapshot shared by every viewer; recomputed after `min_interval` (or 10x slower)."""

    def __init__(
        self, sync_figures: SyncReader, min_interval: float = 1.0, order: StepOrder | None = None
    ) -> None:
        self.min_interval = min_interval
        self.sync_figures = sync_figures
        self.order = order
        self.tally = SendTally()
        self.snapshot: dict[str, Any] | None = None
        self.stamp = 0.0
        self.cost = 0.0
        self.version = 0
        self.folded_rows = 0
        self.folded_counts = 0
        self.lock = threading.Lock()

    def get(self, cx: Candor, *, fresh: bool = False) -> tuple[int, dict[str, Any]]:
        """(version, figures); the version changes only when some figure changed."""
        with self.lock:
            age = time.monotonic() - self.stamp
            if self.snapshot is None or fresh or age >= max(self.min_interval, 10 * self.cost):
                started = time.monotonic()
                with reading(cx.engine) as conn:
                    figures = compute(
                        conn, cx.clock.now(), self.tally, self.sync_figures, self.order
                    )
                    stored = tallies.stored_rows(conn)
                    counted = counts.stored_rows(conn)
                if stored > max(FOLD_ROWS, 2 * self.folded_rows):  # writers' deltas piled up
                    with cx.engine.begin() as conn:
                        self.folded_rows = tallies.fold(conn)
                if counted > max(FOLD_ROWS, 2 * self.folded_counts):
                    with cx.engine.begin() as conn:
                        self.folded_counts = counts.fold(conn)
                self.cost = time.monotonic() - started
                self.stamp = time.monotonic()
                if self.snapshot is None or _body(figures) != _body(self.snapshot):
                    self.version += 1
                self.snapshot = figures
            return self.version, self.snapshot


def _body(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "generated_at"}
