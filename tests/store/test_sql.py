"""Bulk helpers: ids returned in input order, never one already taken, on both databases."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql

from candor.core.context import Candor
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
    to_driver = compiled._bind_processors["param_1"]
    assert to_driver(compiled.params["param_1"]) == "{3,1,2}"


def test_a_statement_around_a_batch_is_compiled_once_and_binds_each_batch(cx: Candor) -> None:
    """Batches are bound parameters: the second batch hits SQLAlchemy's statement cache
    and still gets its own rows (a value baked into the cached SQL would return the first
    batch's)."""
    with cx.engine.begin() as conn:
        ids = insert_returning_ids(conn, audit_log, _rows(cx, "a", "b", "c", "d"))
    found = []
    with cx.engine.connect() as conn:
        for batch in ([ids[0], ids[1]], [ids[2]], [], [ids[3], ids[0]]):
            query = select(audit_log.c.action).where(in_batch(audit_log.c.id, batch))
            result = conn.execute(query.order_by(audit_log.c.action))
            found.append((result.scalars().all(), result.context.cache_hit))
        by_key = select(audit_log.c.id).where(in_batch(audit_log.c.action, ["c", "a"]))
        assert sorted(conn.execute(by_key).scalars()) == [ids[0], ids[2]]
    assert [rows for rows, _ in found] == [["a", "b"], ["c"], [], ["a", "d"]]
    assert [hit.name for _, hit in found[1:]] == ["CACHE_HIT"] * 3
