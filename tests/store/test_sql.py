"""Bulk helpers: ids returned in input order, never one already taken, on both databases."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql

from candor.runtime import Candor
from candor.store.sql import in_batch, insert_returning_ids
from candor.store.tables import audit_log


def _rows(cx: Candor, *names: str) -> list[dict[str, object]]:
    at = cx.clock.now()
    return [
        {"at": at, "actor": "t", "action": n, "object_type": "x", "object_id": n, "details": {}}
        for n in names
    ]


def test_insert_returning_ids_in_input_order_after_the_last_id(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        first = insert_returning_ids(conn, audit_log, _rows(cx, "a", "b", "c"))
        conn.execute(delete(audit_log).where(audit_log.c.id == first[0]))
        second = insert_returning_ids(conn, audit_log, _rows(cx, "d", "e"))
        assert insert_returning_ids(conn, audit_log, []) == []
    assert first == sorted(first) and len(set(first + second)) == 5
    assert min(second) > max(first)
    with cx.engine.connect() as conn:
        stored = dict(
            conn.execute(
                select(audit_log.c.id, audit_log.c.action).where(
                    in_batch(audit_log.c.id, first + second)
                )
            ).all()
        )
    assert stored == dict(zip(first[1:] + second, ["b", "c", "d", "e"], strict=True))


def test_integer_batches_reach_postgresql_as_one_untyped_array_literal() -> None:
    """`::VARCHAR` then `::BIGINT[]` would re-parse the whole batch on every row of a
    generic plan (psycopg prepares repeated statements), making batch work quadratic."""
    query = select(audit_log.c.action).where(in_batch(audit_log.c.id, [3, 1, 2]))
    compiled = query.compile(dialect=postgresql.psycopg.dialect())
    assert "= ANY (CAST(%(param_1)s AS BIGINT[]))" in str(compiled)
    assert compiled.params == {"param_1": "{3,1,2}"}
