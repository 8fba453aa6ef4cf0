"""SQL helpers for hot paths: batch membership and bulk inserts that scale on PostgreSQL."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement, Null
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType, TypeDecorator, TypeEngine


def unique_conflicts() -> tuple[type[Exception], ...]:
    """What a write that collided on a unique key raises: SQLAlchemy's wrapper, or psycopg's
    own error from a COPY (insert_driver_rows writes through the driver)."""
    from sqlalchemy.exc import IntegrityError

    try:
        from psycopg import IntegrityError as DriverIntegrityError
    except ImportError:  # pragma: no cover - psycopg ships with Candor
        return (IntegrityError,)
    return (IntegrityError, DriverIntegrityError)


class IntArrayLiteral(TypeDecorator[list[int]]):
    """A list of integers bound as one PostgreSQL array literal (`{1,2,3}`), untyped.

    The driver adapts a list of ints element by element; the literal is formatted in C.
    Untyped (no ::VARCHAR), so the server reads it as bigint[] once at bind time; a
    text-to-array cast would be re-evaluated on every row of a generic plan.
    """

    impl = NullType
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else int_array(value)


class InBatch(ColumnElement[bool]):
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)` with ONE array parameter.

    A batch of thousands of ids as separate parameters costs PostgreSQL more to plan than
    to run; one array parameter keeps planning constant and lets it use the index. The
    values travel as bound parameters of both forms, so a statement built around a batch
    is compiled once and taken from SQLAlchemy's cache for every later batch.
    """

    type = Boolean()
    inherit_cache = True
    _is_implicitly_boolean = True  # a predicate: no "= 1" on databases without booleans
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy declares it a list)
        ("column", InternalTraversal.dp_clauseelement),
        ("listed", InternalTraversal.dp_clauseelement),
        ("array", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: Iterable[Any]) -> None:
        items = list(values)
        self.column = column
        self.listed = bindparam(None, items, type_=column.type, expanding=True)
        self.array = array_param(items, column.type)


def array_param(values: list[Any], kind: TypeEngine[Any]) -> ColumnElement[Any]:
    """Values of one type as ONE PostgreSQL array parameter (integers: an untyped literal,
    read as bigint[] once at bind time)."""
    if isinstance(kind, Integer):
        return cast(bindparam(None, values, type_=IntArrayLiteral()), ARRAY(BigInteger))
    return bindparam(None, values, type_=ARRAY(kind))


def in_batch(column: ColumnElement[Any], values: Iterable[Any]) -> InBatch:
    """Membership of `column` in a batch of plain values (ids, keys)."""
    return InBatch(column, values)


@compiles(InBatch)
def _in_list(element: InBatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.listed), **kw)


@compiles(InBatch, "postgresql")
def _any_array(element: InBatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column == any_(element.array), **kw)


def int_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers (`{1,2,NULL}`)."""
    items = list(values)
    if None not in items:  # the usual batch of ids: formatted in C
        return "{" + ",".join(map(int.__repr__, items)) + "}"
    return "{" + ",".join("NULL" if v is None else f"{v:d}" for v in items) + "}"


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows without RETURNING: COPY on PostgreSQL, executemany on SQLite.

    Values go through each column's type (bind_processors), so UTC datetimes and JSON are
    stored exactly as an INSERT would store them.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0].keys())
    processors = bind_processors(conn, table, names)
    driver_rows = (
        [proc(row[name]) for name, proc in zip(names, processors, strict=True)] for row in rows
    )
    insert_driver_rows(conn, table, names, driver_rows)


def insert_returning_ids(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their new ids in input order.

    The ids come from reserve_ids (one query) and the rows go in with bulk_insert: COPY on
    PostgreSQL, one executemany on SQLite, where an ordered RETURNING went row by row.
    """
    ids = reserve_ids(conn, table, len(rows))
    bulk_insert(conn, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids


# ---------------------------------------------------------------- driver-ready bulk writes
#
# SQLAlchemy spends more time per row on an executemany (building a parameter dict per row,
# running each column's bind processor) than the database spends storing it. For the hot
# intake path the caller converts values once (constants of a batch once per batch) and the
# rows go to the driver as plain tuples.

Processor = Callable[[Any], Any]


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` new ids of `table` for rows the caller inserts with explicit ids, in order.

    PostgreSQL: drawn from the table's sequence in one query. SQLite (the only other
    database Candor opens): the ids after max(id), which are ours while the transaction
    holds the write lock (BEGIN IMMEDIATE), as SQLite itself would pick them.
    """
    if count <= 0:
        return []
    if conn.dialect.name != "postgresql":
        last = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
        return list(range(last + 1, last + 1 + count))
    # The sequence is looked up once: as an argument of nextval it would be per row.
    sequence = conn.execute(
        text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
    ).scalar_one()
    query = text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)")
    found = conn.execute(query, {"sequence": sequence, "n": count}).scalars()
    return [int(i) for i in found]


def bind_processors(conn: Connection, table: Table, names: Sequence[str]) -> list[Processor]:
    """Per column, the conversion an INSERT applies to a Python value before the driver.

    Driver form: UTC-naive datetimes (as text on SQLite), JSON as text, booleans as the
    database stores them. Values already in that form need no processor (`to_driver` once).
    """
    return [_driver_processor(conn, table.c[name]) for name in names]


def to_driver(conn: Connection, column: Column[Any], value: Any) -> Any:
    """One Python value in driver form (for a batch's constants, converted once)."""
    return _driver_processor(conn, column)(value)


def _driver_processor(conn: Connection, column: Column[Any]) -> Processor:
    """What SQLAlchemy's INSERT applies: the dialect's implementation of the column type
    (on SQLite a datetime becomes text in SQLAlchemy's format, not the sqlite3 adapter's)."""
    if conn.dialect.name == "postgresql" and isinstance(column.type, JSON):
        return _json_text(conn, column.type)  # the driver serialises JSON for INSERT only
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process if process is not None else _identity


def _json_text(conn: Connection, kind: JSON) -> Processor:
    """JSON as text for COPY, by SQLAlchemy's rules (None is JSON null unless none_as_null)."""
    serialize = getattr(conn.dialect, "_json_serializer", None) or json.dumps

    def process(value: Any) -> str | None:
        if value is JSON.NULL:
            value = None
        elif isinstance(value, Null) or (value is None and kind.none_as_null):
            return None
        return str(serialize(value))

    return process


def _identity(value: Any) -> Any:
    return value


Work = Callable[[Callable[[], bool]], None]  # work(waiting): go on while waiting() is True


def insert_driver_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    meanwhile: Work | None = None,
) -> None:
    """Insert tuples of driver-form values (see bind_processors), in the caller's transaction.

    PostgreSQL: one COPY. SQLite (qmark parameters): one executemany on the DB-API cursor,
    so no per-row parameter processing. Every column without a default must be named.

    `meanwhile` is work not using `conn`, done while PostgreSQL finishes the COPY (it
    checks foreign keys at the end of the statement): see while_waiting.
    """
    if conn.dialect.name == "postgresql":
        _copy_in(conn, table, names, rows, meanwhile)
        return
    batch = rows if isinstance(rows, list) else list(rows)
    if batch:
        columns = ", ".join(f'"{name}"' for name in names)
        marks = ", ".join("?" for _ in names)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', batch)


def _copy_in(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    meanwhile: Work | None,
) -> None:
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    block = cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN')
    copy = block.__enter__()
    try:
        write_row = copy.write_row
        for row in rows:
            write_row(row)
    except BaseException:
        if not block.__exit__(*sys.exc_info()):
            raise
        return
    while_waiting(conn, lambda: block.__exit__(None, None, None), meanwhile)


T = TypeVar("T")


def while_waiting(conn: Connection, wait: Callable[[], T], work: Work | None) -> T:
    """`wait()` (statements on `conn` that mostly wait for the server) and meanwhile
    `work(waiting)` here, where `waiting()` tells whether `wait` is still running.

    On PostgreSQL `wait` runs in a helper thread: psycopg waits without holding the GIL,
    so the server and this thread work at the same time. Elsewhere `wait` runs first and
    `work` not at all (SQLite gives up the GIL for every row: the two threads would keep
    waiting for each other). `work` must not use `conn`. Failures of either are raised
    once both have stopped, `wait`'s first.
    """
    if work is None or conn.dialect.name != "postgresql":
        return wait()
    result: list[T] = []
    failed: list[BaseException] = []  # wait's failure, then work's

    def run() -> None:
        try:
            result.append(wait())
        except BaseException as exc:  # raised below, in the caller's thread
            failed.insert(0, exc)

    helper = threading.Thread(target=run, name="candor-db-wait", daemon=True)
    helper.start()
    try:
        work(helper.is_alive)
    except BaseException as exc:
        failed.append(exc)
    helper.join()
    if failed:
        raise failed[0]
    return result[0]


class DayOf(ColumnElement[str]):
    """The UTC day of a stored timestamp as `YYYY-MM-DD` text (timestamps are stored in UTC)."""

    type = String()
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column

    @property
    def _from_objects(self) -> list[Any]:
        return list(self.column._from_objects)


def day_of(column: ColumnElement[Any]) -> DayOf:
    """Group or label rows by the UTC day of `column`, the same on SQLite and PostgreSQL."""
    return DayOf(column)


@compiles(DayOf)
def _sqlite_day(element: DayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.column, **kw)})"


@compiles(DayOf, "postgresql")
def _postgresql_day(element: DayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.column, **kw)}, 'YYYY-MM-DD')"
