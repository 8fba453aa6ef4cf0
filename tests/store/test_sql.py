"""Bulk helpers: ids returned in input order, never one already taken, on both databases."""

from __future__ import annotations

from sqlalchemy import delete, select

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
