"""Driver-ready bulk writes store exactly what an ordinary INSERT stores, on both databases."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text

from candor.core.context import Candor
from candor.store.sql import (
    bind_processors,
    insert_driver_rows,
    reserve_ids,
    to_driver,
    while_waiting,
)
from candor.store.tables import addresses, contacts

AT = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def _contact(n: int, at: datetime) -> dict[str, Any]:
    return {
        "external_index": f"ext-{n}",
        "external_id": b"\x00sealed" + bytes([n]),
        "key_id": f"key-{n}",
        "identity": None,
        "attributes": {"country": "DE", "customer_value": 12.5, "ok": True, "n": None},
        "language": "de",
        "timezone": "Europe/Berlin",
        "source": "import",
        "created_at": at,
        "updated_at": at.astimezone(CET),
    }


def _raw(conn: Connection, table: str, key: str, value: object) -> dict[str, Any]:
    """A stored row as the database holds it, every column as text (no result processing)."""
    columns = [c.name for c in (contacts if table == "contacts" else addresses).c]
    cast = "CAST({} AS TEXT)" if conn.dialect.name == "postgresql" else "{}"
    listed = ", ".join(cast.format(f'"{c}"') + f' AS "{c}"' for c in columns)
    sql = f'SELECT {listed} FROM "{table}" WHERE "{key}" = :v'
    return dict(conn.execute(text(sql), {"v": value}).mappings().one())


def _driver_row(conn: Connection, names: list[str], row: dict[str, Any]) -> tuple[Any, ...]:
    processors = bind_processors(conn, contacts, names)
    return tuple(p(row[n]) for n, p in zip(names, processors, strict=True))


def test_driver_rows_store_what_an_insert_stores(cx: Candor) -> None:
    names = ["id", *_contact(0, AT)]
    with cx.engine.begin() as conn:
        first, second = reserve_ids(conn, contacts, 2)
        conn.execute(insert(contacts), [{"id": first, **_contact(1, AT)}])
        driver = _driver_row(conn, names, {"id": second, **_contact(2, AT)})
        insert_driver_rows(conn, contacts, names, [driver])
    with cx.engine.connect() as conn:
        by_insert = _raw(conn, "contacts", "id", first)
        by_driver = _raw(conn, "contacts", "id", second)
    differ = {k for k in by_insert if by_insert[k] != by_driver[k]}
    assert differ == {"id", "external_index", "external_id", "key_id"}
    assert by_driver["created_at"] == by_driver["updated_at"]  # both naive UTC


def test_constants_converted_once_and_booleans(cx: Candor) -> None:
    """to_driver for a batch's constants; a boolean stored as the dialect stores it."""
    with cx.engine.begin() as conn:
        (contact_id,) = reserve_ids(conn, contacts, 1)
        names = ["id", *_contact(0, AT)]
        insert_driver_rows(
            conn, contacts, names, [_driver_row(conn, names, {"id": contact_id, **_contact(3, AT)})]
        )
        conn.execute(
            insert(addresses),
            [
                {
                    "contact_id": contact_id,
                    "channel": "email",
                    "blind_index": "a",
                    "value": b"v",
                    "deliverable": True,
                    "created_at": AT,
                }
            ],
        )
        when = to_driver(conn, addresses.c.created_at, AT.astimezone(CET))
        flag = to_driver(conn, addresses.c.deliverable, True)
        row = (contact_id, "sms", "b", flag, b"v", when)
        cols = ("contact_id", "channel", "blind_index", "deliverable", "value", "created_at")
        insert_driver_rows(conn, addresses, cols, [row])
    with cx.engine.connect() as conn:
        a, b = (
            _raw(conn, "addresses", "blind_index", "a"),
            _raw(conn, "addresses", "blind_index", "b"),
        )
        stored = conn.execute(select(addresses.c.created_at, addresses.c.deliverable)).all()
    assert {k for k in a if a[k] != b[k]} == {"id", "channel", "blind_index"}
    assert stored == [(AT, True), (AT, True)]


def test_reserved_ids_follow_on_and_do_not_collide(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        assert reserve_ids(conn, contacts, 0) == []
        ids = reserve_ids(conn, contacts, 3)
        assert ids == list(range(ids[0], ids[0] + 3))
        names = ["id", *_contact(0, AT)]
        insert_driver_rows(
            conn,
            contacts,
            names,
            [_driver_row(conn, names, {"id": i, **_contact(i, AT)}) for i in ids],
        )
        later = conn.execute(
            insert(contacts).returning(contacts.c.id), [_contact(9, AT)]
        ).scalar_one()
        assert reserve_ids(conn, contacts, 1)[0] > later > max(ids)


def test_empty_rows_are_a_no_op(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        insert_driver_rows(conn, contacts, ["id"], [])
        assert conn.execute(select(contacts.c.id)).first() is None


@pytest.mark.parametrize("value", [None, {}, {"a": [1, "ü"]}])
def test_json_values_match_the_insert_form(cx: Candor, value: object) -> None:
    with cx.engine.begin() as conn:
        first, second = reserve_ids(conn, contacts, 2)
        conn.execute(insert(contacts), [{"id": first, **_contact(1, AT), "attributes": value}])
        row = {"id": second, **_contact(2, AT), "attributes": value}
        names = list(row)
        insert_driver_rows(conn, contacts, names, [_driver_row(conn, names, row)])
    with cx.engine.connect() as conn:
        one, two = _raw(conn, "contacts", "id", first), _raw(conn, "contacts", "id", second)
    assert one["attributes"] == two["attributes"]


def _sleep(conn: Connection, seconds: float) -> str:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return "done"


def test_work_runs_while_postgresql_works(cx: Candor) -> None:
    seen: list[bool] = []

    def work(waiting: Callable[[], bool]) -> None:
        seen.append(waiting())
        while waiting():
            time.sleep(0.01)
        seen.append(waiting())

    with cx.engine.begin() as conn:
        assert while_waiting(conn, lambda: _sleep(conn, 0.2), work) == "done"
        assert while_waiting(conn, lambda: "no work", None) == "no work"
    # SQLite would hand the GIL back and forth with every row: the work is not done there.
    assert seen == ([True, False] if cx.url.startswith("postgresql") else [])


def test_failures_come_out_once_both_sides_stopped(cx: Candor) -> None:
    def broken_wait() -> None:
        raise LookupError("from the database side")

    def broken_work(waiting: Callable[[], bool]) -> None:
        raise KeyError("from the work")

    with cx.engine.begin() as conn:
        with pytest.raises(LookupError):
            while_waiting(conn, broken_wait, broken_work)
        if cx.url.startswith("postgresql"):
            with pytest.raises(KeyError):
                while_waiting(conn, lambda: _sleep(conn, 0.05), broken_work)
            assert conn.execute(text("SELECT 1")).scalar_one() == 1  # connection still usable


def test_copy_rows_with_work_meanwhile(cx: Candor) -> None:
    done: list[str] = []
    names = ["id", *_contact(0, AT)]
    with cx.engine.begin() as conn:
        ids = reserve_ids(conn, contacts, 50)
        rows = [_driver_row(conn, names, {"id": i, **_contact(i, AT)}) for i in ids]
        insert_driver_rows(conn, contacts, names, rows, lambda waiting: done.append("work"))
        assert conn.execute(select(func.count()).select_from(contacts)).scalar_one() == 50
    assert done == (["work"] if cx.url.startswith("postgresql") else [])
