"""Python values inside one statement, for set-based work on a claimed batch.

PostgreSQL gets integer columns as one untyped array literal (store.sql.array_param), as
`in_batch` sends integer batches.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.sql.selectable import Subquery
from sqlalchemy.types import TypeEngine

from candor.store.engine import is_sqlite
from candor.store.sql import array_param


def rows_table(
    conn: Connection, name: str, types: dict[str, TypeEngine[Any]], rows: Sequence[Sequence[Any]]
) -> Subquery:
    """Python rows as a table in the statement, one parameter per column (PostgreSQL:
    unnest of arrays) or one for all (SQLite: json_each), however many rows there are."""
    if is_sqlite(conn.engine):
        each = func.json_each(bindparam(None, json.dumps(rows), type_=String)).table_valued("value")
        columns = [
            type_coerce(func.json_extract(each.c.value, f"$[{i}]"), kind).label(column)
            for i, (column, kind) in enumerate(types.items())
        ]
        return select(*columns).select_from(each).subquery(name)
    arrays = [
        func.unnest(array_param([row[i] for row in rows], kind)).label(column)
        for i, (column, kind) in enumerate(types.items())
    ]
    return select(*arrays).subquery(name)


def ids_table(conn: Connection, name: str, ids: Sequence[int]) -> Subquery:
    """Integer ids as a one-column table (`id`): rows_table without a tuple per id."""
    if is_sqlite(conn.engine):
        each = func.json_each(bindparam(None, json.dumps(list(ids)), type_=String))
        values = each.table_valued("value")
        return select(type_coerce(values.c.value, BigInteger()).label("id")).subquery(name)
    return select(func.unnest(array_param(list(ids), BigInteger())).label("id")).subquery(name)
