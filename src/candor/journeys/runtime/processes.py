"""Journeys advanced by several worker processes at once, one per core (PostgreSQL only).

Every batch is claimed with FOR UPDATE SKIP LOCKED (advance, dispatch), so processes never
take the same contact or message; each forked child first forgets the parent's pooled
connections, as SQLAlchemy asks of engines that cross a fork.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.queues import SimpleQueue
from types import FrameType

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.journeys.runtime.worker import RunStats, default_dispatch, run_worker
from candor.store.engine import is_sqlite

Totals = tuple[int, int, int]  # advanced, dispatched, rounds
Settings = tuple[bool, bool, int, float]  # dispatch, once, batch_size, idle_sleep


class WorkerFailed(RuntimeError):
    """A worker process ended with an error; its batch rolled back and stays due."""


def run_in_processes(
    cx: Candor,
    processes: int,
    *,
    dispatch: bool,
    once: bool,
    batch_size: int = 5000,
    idle_sleep: float = 1.0,
    stop: threading.Event | None = None,
) -> RunStats:
    """Run `processes` workers side by side until idle (`once`) or until `stop` is set."""
    if processes < 1:
        raise InvalidInput("processes", "must be at least 1")
    if processes > 1 and is_sqlite(cx.engine):
        raise InvalidInput(
            "processes", "more than one worker process needs PostgreSQL (SQLite has one writer)"
        )
    cx.dispose()  # no pooled connection may be shared across the fork
    context = multiprocessing.get_context("fork")
    results: SimpleQueue[Totals] = context.SimpleQueue()
    settings: Settings = (dispatch, once, batch_size, idle_sleep)
    children = [
        context.Process(target=_child, args=(cx, settings, results), name=f"candor-worker-{i}")
        for i in range(processes)
    ]
    for child in children:
        child.start()
    _wait(children, stop or threading.Event())
    failed = [child.name for child in children if child.exitcode != 0]
    stats = RunStats()
    while not results.empty():
        advanced, dispatched, rounds = results.get()
        stats.advanced += advanced
        stats.dispatched += dispatched
        stats.rounds = max(stats.rounds, rounds)
    if failed:
        raise WorkerFailed(f"worker processes failed: {', '.join(failed)}")
    return stats


def _wait(children: Sequence[BaseProcess], stop: threading.Event) -> None:
    """Join the children; once `stop` is set, ask each to finish its round (SIGTERM)."""
    asked = False
    while any(child.is_alive() for child in children):
        if stop.is_set() and not asked:
            for child in children:
                child.terminate()
            asked = True
        for child in children:
            child.join(timeout=0.2)


def _child(
    cx: Candor, settings: tuple[bool, bool, int, float], results: SimpleQueue[Totals]
) -> None:
    """One worker process: fresh connections, its own signal handling, totals to the parent."""
    dispatch, once, batch_size, idle_sleep = settings
    cx.engine.dispose(close=False)
    cx.vault.keystore.dispose(close=False)
    stop = threading.Event()

    def finish(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    try:
        stats = run_worker(
            cx,
            default_dispatch() if dispatch else None,
            once=once,
            idle_sleep=idle_sleep,
            batch_size=batch_size,
            stop=stop,
        )
        results.put((stats.advanced, stats.dispatched, stats.rounds))
    finally:
        cx.dispose()
