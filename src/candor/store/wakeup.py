"""Waking the worker when work arrives: PostgreSQL LISTEN/NOTIFY, a short poll on SQLite.

A writer calls `notify` inside its transaction (PostgreSQL delivers it at commit, never for
a rollback); the worker waits with a `Waker` between rounds instead of sleeping, so a
triggered entry or a form's confirmation message does not wait for the next polling round.
SQLite has no notifications: the waker asks a cheap question (`probe`) every POLL_SECONDS.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import psycopg
from sqlalchemy import Connection, Engine, func, select

from candor.store.engine import is_sqlite, reading

CHANNEL: Final = "candor_work"
POLL_SECONDS: Final = 0.05

Probe = Callable[[Connection], bool]


def notify(conn: Connection) -> None:
    """Tell waiting workers there is work, once this transaction commits (PostgreSQL)."""
    if not is_sqlite(conn.engine):
        conn.execute(select(func.pg_notify(CHANNEL, "")))


class Waker:
    """Waits until work may be waiting, `timeout` passes or `stop` is set."""

    def __init__(self, engine: Engine, probe: Probe) -> None:
        self.engine = engine
        self.probe = probe
        self._listener: Any = None

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """True when woken by a notification (or the probe), False on timeout or stop."""
        if is_sqlite(self.engine):
            return self._poll(timeout, stop)
        return self._listen(timeout, stop)

    def _poll(self, timeout: float, stop: threading.Event) -> bool:
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            with reading(self.engine) as conn:
                if self.probe(conn):
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            stop.wait(min(POLL_SECONDS, left))
        return False

    def _listen(self, timeout: float, stop: threading.Event) -> bool:
        deadline = time.monotonic() + timeout
        try:
            listener = self._connection()
            while not stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Short slices, so a stop request is seen within a fraction of a second.
                for _ in listener.notifies(timeout=min(0.25, left), stop_after=1):
                    return True
        except psycopg.Error:  # the server went away: sleep instead, listen again next time
            self.close()
            stop.wait(max(0.0, deadline - time.monotonic()))
        return False

    def _connection(self) -> Any:
        if self._listener is None or self._listener.closed:
            url = self.engine.url.set(drivername="postgresql")
            listener = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
            listener.execute(f"LISTEN {CHANNEL}")
            self._listener = listener
        return self._listener

    def close(self) -> None:
        """Close the listening connection (PostgreSQL)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(psycopg.Error):
                listener.close()
