"""The journey worker: advance (and dispatch) until idle, or forever (`candor worker`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from candor.core.context import Candor
from candor.journeys.runtime.advance import advance
from candor.journeys.runtime.enroll import continue_enrolments
from candor.rights.sweep import sweep_due
from candor.sync.delivery import deliver_due

log = logging.getLogger("candor.worker")

Dispatch = Callable[[Candor], int]
MAX_IDLE_ROUNDS = 10_000
ROUND_SECONDS = 0.25  # a sending worker advances at most this long before it sends


@dataclass
class RunStats:
    """What a run did: contact-steps advanced, messages dispatched, rounds."""

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
    """Launches that stalled, one advance over everything due, then one dispatch round,
    webhooks and a due sweep."""
    moved = continue_enrolments(cx)
    budget = ROUND_SECONDS if dispatch is not None else None
    moved += advance(cx, batch_size=batch_size, budget=budget)
    sent = dispatch(cx) if dispatch is not None else 0
    deliver_due(cx)  # connectors: the signed webhooks of the sync outbox
    sweep_due(cx)  # erasures: the substring sweep, once the oldest pending one is due
    return moved, sent


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
    """Work until stopped (or, with `once`, until idle); sleeps while there is nothing to do."""
    if once:
        return run_until_idle(cx, dispatch, batch_size=batch_size)
    stop = stop or threading.Event()
    stats = RunStats()
    while not stop.is_set():
        try:
            moved, sent = run_once(cx, dispatch, batch_size)
        except Exception as exc:  # keep working; the failed batch rolled back and is retried
            log.error("worker round failed: %s", type(exc).__name__)
            moved, sent = 0, 0
        stats.advanced += moved
        stats.dispatched += sent
        stats.rounds += 1
        if moved == 0 and sent == 0:
            stop.wait(idle_sleep)
    return stats
