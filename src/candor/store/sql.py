"""SQL helpers for hot paths: batch membership and bulk inserts that scale on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
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
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType


class InBatch(ColumnElement[bool]):
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)` with ONE array parameter.

    A batch of thousands of ids as separate parameters costs PostgreSQL more to plan than
    to run; one array parameter keeps planning constant and lets it use the index.
    """

    type = Boolean()
    inherit_cache = False
    _is_implicitly_boolean = True  # a predicate: no "= 1" on databases without booleans

    def __init__(self, column: ColumnElement[Any], values: Iterable[Any]) -> None:
        self.column = column
        self.values = list(values)


def in_batch(column: ColumnElement[Any], values: Iterable[Any]) -> InBatch:
    """Membership of `column` in a batch of plain values (ids, keys)."""
    return InBatch(column, values)


@compiles(InBatch)
def _in_list(element: InBatch, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.values), **kw)


@compiles(InBatch, "postgresql")
def _any_array(element: InBatch, compiler: SQLCompiler, **kw: Any) -> str:
    param: ColumnElement[Any]
    if isinstance(element.column.type, Integer):
        # Integers as one array literal: the driver adapts a list of ints element by element.
        # Untyped (no ::VARCHAR), so the server reads it as bigint[] once at bind time; a
        # text-to-array cast would be re-evaluated on every row of a generic plan.
        literal = bindparam(None, int_array(element.values), type_=NullType())
        param = cast(literal, ARRAY(BigInteger))
    else:
        param = bindparam(None, element.values, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(param), **kw)


def int_array(values: Iterable[int | None]) -> str:
    """A PostgreSQL array literal of integers (`{1,2,NULL}`)."""
    return "{" + ",".join("NULL" if v is None else f"{v:d}" for v in values) + "}"


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows without RETURNING: COPY on PostgreSQL, executemany elsewhere.

    Values go through each column's type (so UTC datetimes and JSON are stored exactly as
    an INSERT would store them), then stream to the server in one COPY.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    names = list(rows[0].keys())
    processors = [_bind_processor(conn, table.c[name]) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([proc(row[name]) for name, proc in zip(names, processors, strict=True)])


def _bind_processor(conn: Connection, column: Column[Any]) -> Any:
    if isinstance(column.type, JSON):  # the driver serialises JSON for INSERT, not for COPY
        return lambda value: None if value is None else json.dumps(value)
    process = column.type.bind_processor(conn.dialect)
    return process if process is not None else (lambda value: value)


def insert_returning_ids(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their new ids in input order.

    PostgreSQL: ids are drawn from the table's sequence in one query and the rows go in by
    COPY (several times faster than INSERT ... RETURNING for large batches). SQLite: the
    transaction holds the one write lock from BEGIN IMMEDIATE, so the ids after max(id) are
    ours (what SQLite itself would pick) and one executemany inserts them, where an ordered
    RETURNING went row by row. Elsewhere an INSERT ... RETURNING sorted by parameter order.
    """
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        last = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        ids = list(range(int(last) + 1, int(last) + 1 + len(rows)))
        conn.execute(insert(table), [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
        return ids
    if conn.dialect.name != "postgresql":
        result = conn.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(i) for i in result.scalars()]
    ids = [
        int(i)
        for i in conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": len(rows)},
        ).scalars()
    ]
    bulk_insert(conn, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
