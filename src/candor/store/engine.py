"""Database engines for the data store and the separate key store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

DEFAULT_DATABASE_URL = "sqlite:///candor.db"
DEFAULT_KEYSTORE_NAME = "candor-keys.db"


def database_url(explicit: str | None = None) -> str:
    """The data database: --database, then CANDOR_DATABASE_URL, then ./candor.db."""
    return explicit or os.environ.get("CANDOR_DATABASE_URL") or DEFAULT_DATABASE_URL


def keystore_url(data_url: str, explicit: str | None = None) -> str:
    """The key store: explicit, CANDOR_KEYSTORE_URL, else candor-keys.db beside a SQLite file.

    For a server database the default is a SQLite file in the working directory; the point
    is that contact keys never live in the data database, so its backups cannot revive them.
    """
    url = explicit or os.environ.get("CANDOR_KEYSTORE_URL")
    if url:
        return url
    if data_url.startswith("sqlite:///") and data_url != "sqlite:///:memory:":
        path = Path(data_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.parent / DEFAULT_KEYSTORE_NAME}"
    return f"sqlite:///{DEFAULT_KEYSTORE_NAME}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and a busy timeout, PostgreSQL psycopg 3."""
    # Query parameters can hold personal data: keep them out of error messages and logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Let SQLAlchemy, not pysqlite, begin transactions so BEGIN IMMEDIATE works.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _postgres_session)
    return engine


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    # Batch statements differ in their batch: psycopg prepares repeated statements, and a
    # generic plan for a batch of unknown size is far slower than a custom one. JIT
    # compilation costs more per statement than these short queries ever save.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.execute("SET jit = off")
    dbapi_connection.commit()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers take the lock up front (IMMEDIATE), so two writers never deadlock on upgrade;
    # readers begin deferred and do not wait for writers under WAL.
    if connection.get_execution_options().get("candor_read_only"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction (deferred on SQLite, so it never blocks on a writer)."""
    with engine.connect().execution_options(candor_read_only=True) as conn, conn.begin():
        yield conn
