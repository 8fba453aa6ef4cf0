"""The journey worker: advance (and dispatch) until idle, or forever (`candor worker`).

Each round takes the sign-up form submissions, lets people into triggered journeys, advances
everything due and sends the outbox. Idle, it waits for work (store.wakeup): PostgreSQL
wakes it by NOTIFY at the commit that queued work, SQLite by a short poll.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from candor.core.context import Candor
from candor.forms.process import process_submissions
from candor.journeys.runtime.advance import advance
from candor.journeys.runtime.enroll import continue_enrolments
from candor.journeys.runtime.entry import enter_triggered
from candor.rights.sweep import sweep_due
from candor.store.journey_tables import journey_events
from candor.store.tables import form_submissions
from candor.store.wakeup import Waker
from candor.sync.delivery import deliver_due

log = logging.getLogger("candor.worker")

Dispatch = Callable[[Candor], int]
MAX_IDLE_ROUNDS = 10_000
ROUND_SECONDS = 0.25  # a sending worker advances at most this long before it sends


@dataclass
class RunStats:
    """What a run did: work done (submissions taken, people entered, contact-steps advanced),
    messages dispatched, rounds."""

    advanced: int = 0
    dispatched: int = 0
    rounds: int = 0


def default_dispatch() -> Dispatch:
    """candor.channels.dispatch.dispatch_due, imported only when asked for."""
    try:
        from candor.channels.dispatch import dispatch_due
    except ImportError as exc:  # pragma: no cover - the dispatcher ships with Candor
        raise ImportError(
            "the outbox dispatcher (candor.channels.dispatch.dispatch_due) is not available: "
            f"{exc}; run without dispatching or install the channels package"
        ) from exc

    def run(cx: Candor) -> int:
        return int(dispatch_due(cx))

    return run


def run_once(cx: Candor, dispatch: Dispatch | None, batch_size: int) -> tuple[int, int]:
    """Form submissions, triggered entries, launches that stalled, one advance over
    everything due, then one dispatch round, webhooks and a due sweep."""
    taken = process_submissions(cx)
    entered = enter_triggered(cx, batch_size=batch_size)
    moved = continue_enrolments(cx)
    budget = ROUND_SECONDS if dispatch is not None else None
    moved += advance(cx, batch_size=batch_size, budget=budget)
    sent = dispatch(cx) if dispatch is not None else 0
    deliver_due(cx)  # connectors: the signed webhooks of the sync outbox
    sweep_due(cx)  # erasures: the substring sweep, once the oldest pending one is due
    return taken + entered + moved, sent


def work_waiting(conn: Connection) -> bool:
    """Whether a form submission or a heard event waits (the SQLite waker's cheap question)."""
    heard = select(journey_events.c.id).where(journey_events.c.status == "pending").limit(1)
    posted = select(form_submissions.c.id).limit(1)
    return conn.execute(heard).first() is not None or conn.execute(posted).first() is not None


def run_until_idle(
    cx: Candor, dispatch: Dispatch | None = None, *, batch_size: int = 5000
) -> RunStats:
    """Repeat advance (and dispatch) until nothing is due at cx.clock.now()."""
    stats = RunStats()
    for _ in range(MAX_IDLE_ROUNDS):
        moved, sent = run_once(cx, dispatch, batch_size)
        stats.advanced += moved
        stats.dispatched += sent
        stats.rounds += 1
        if moved == 0 and sent == 0:
            break
    return stats


def run_worker(
    cx: Candor,
    dispatch: Dispatch | None = None,
    *,
    once: bool = False,
    idle_sleep: float = 1.0,
    batch_size: int = 5000,
    stop: threading.Event | None = None,
) -> RunStats:
    """Work until stopped (or, with `once`, until idle); waits for work when there is none."""
    if once:
        return run_until_idle(cx, dispatch, batch_size=batch_size)
    stop = stop or threading.Event()
    stats = RunStats()
    waker = Waker(cx.engine, work_waiting)
    try:
        while not stop.is_set():
            try:
                moved, sent = run_once(cx, dispatch, batch_size)
            except Exception as exc:  # keep working; the failed batch rolled back, is retried
                log.error("worker round failed: %s", type(exc).__name__)
                moved, sent = 0, 0
            stats.advanced += moved
            stats.dispatched += sent
            stats.rounds += 1
            if moved == 0 and sent == 0:
                waker.wait(idle_sleep, stop)
    finally:
        waker.close()
    return stats
