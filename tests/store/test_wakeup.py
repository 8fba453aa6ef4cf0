"""The worker's wake-up: a committed NOTIFY (PostgreSQL) or the probe's answer (SQLite)."""

from __future__ import annotations

import threading

from sqlalchemy import Connection

from candor.core.context import Candor
from candor.store.wakeup import Waker, notify


def test_work_committed_elsewhere_wakes_a_waiting_worker(cx: Candor) -> None:
    waiting = threading.Event()
    posted = threading.Event()

    def probe(conn: Connection) -> bool:
        waiting.set()
        return posted.is_set()

    waker = Waker(cx.engine, probe)
    if cx.engine.dialect.name == "postgresql":
        waker._connection()  # listening before anyone notifies
        waiting.set()

    def post() -> None:
        waiting.wait()
        with cx.engine.begin() as conn:
            notify(conn)
        posted.set()

    writer = threading.Thread(target=post)
    writer.start()
    try:
        assert waker.wait(60, threading.Event()) is True  # long before the 60 s were up
    finally:
        writer.join()
        waker.close()


def test_a_stop_request_ends_the_wait(cx: Candor) -> None:
    stop = threading.Event()
    stop.set()
    waker = Waker(cx.engine, lambda conn: False)
    assert waker.wait(60, stop) is False
    waker.close()
