"""Launch: the gate decides who enters (set-based), only declared fields are copied."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, literal_column, select, update

from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import JourneyRefused, launch
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, journeys
from candor.store.tables import contacts

from .helpers import add_contact, block, journey_yaml, positions, start, stats

END = [{"id": "bye", "type": "end"}]
WAIT = [{"id": "hold", "type": "wait", "duration": "P1D"}, *END]


def test_enrollment_excludes_erased_restricted_objected_and_blocked(configured: Candor) -> None:
    cx = configured
    ids = [add_contact(cx, n) for n in range(7)]
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        conn.execute(update(contacts).where(contacts.c.id == ids[0]).values(erased_at=now))
        conn.execute(update(contacts).where(contacts.c.id == ids[1]).values(restricted_at=now))
        conn.execute(update(contacts).where(contacts.c.id == ids[2]).values(objected_at=now))
    block(cx, ids[3])  # complete advertising block
    block(cx, ids[4], channel="email")  # a channel block does not keep anyone out
    other = add_contact(cx, 99, attributes={"country": "FR"})

    report = start(cx, WAIT)

    assert report.entered == 3
    assert set(positions(cx)) == {ids[4], ids[5], ids[6]}
    assert other not in positions(cx)
    figures = stats(cx)
    assert figures[("(enter)", "entered")] == 3
    for reason in ("erased", "restricted", "objected", "blocked:all"):
        assert figures[("(enter)", reason)] == 1
    with reading(cx.engine) as conn:
        row = conn.execute(select(journeys).where(journeys.c.id == "promo")).mappings().one()
    assert row["state"] == "running"
    assert row["entered"] == 3
    assert row["launched_at"] == now


def test_launch_decides_once_on_postgresql(configured: Candor) -> None:
    cx = configured
    for n in range(4):
        add_contact(cx, n)
    block(cx, add_contact(cx, 9))
    twin_runs: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "consent_state" in statement:
            twin_runs.append(statement)

    event.listen(cx.engine, "before_cursor_execute", seen)
    try:
        report = start(cx, WAIT)
    finally:
        event.remove(cx.engine, "before_cursor_execute", seen)
    assert report.entered == 4 and report.by_reason["blocked:all"] == 1
    assert sum(report.by_reason.values()) == 5  # everyone in the group, by reason
    assert len(positions(cx)) == 4 and stats(cx)[("(enter)", "entered")] == 4
    # SQLite cannot INSERT inside WITH: it counts, then inserts (the twin twice).
    assert len(twin_runs) == (2 if is_sqlite(cx.engine) else 1)


def test_only_declared_profile_fields_are_copied(configured: Candor) -> None:
    cx = configured
    cid = add_contact(cx, 1, attributes={"vip": True, "birth_year": 1980, "interests": "shoes"})
    start(cx, WAIT, fields=["country", "customer_value", "vip", "first_name"])
    with reading(cx.engine) as conn:
        row = (
            conn.execute(select(journey_contacts).where(journey_contacts.c.contact_id == cid))
            .mappings()
            .one()
        )
    # first_name is an identity field: decrypted at render time, never copied
    assert row["data"] == {"country": "DE", "customer_value": 150.0, "vip": True}
    assert row["step_id"] == "hold"
    assert row["expires_at"] == cx.clock.now() + timedelta(days=90)


def test_target_filter_operators(configured: Candor) -> None:
    cx = configured
    a = add_contact(cx, 1, attributes={"customer_value": 50.0, "birth_year": 1990, "vip": True})
    b = add_contact(cx, 2, attributes={"customer_value": 500.0, "birth_year": 1970})
    c = add_contact(
        cx, 3, attributes={"country": "AT", "customer_value": 200.0, "last_order": "2026-01-15"}
    )
    target = {
        "any": [
            {
                "all": [
                    {"field": "vip", "op": "eq", "value": True},
                    {"field": "birth_year", "op": "between", "value": [1985, 1995]},
                ]
            },
            {
                "all": [
                    {"field": "country", "op": "in", "value": ["AT", "CH"]},
                    {"field": "last_order", "op": "ge", "value": "2026-01-01"},
                ]
            },
            {
                "not": {
                    "any": [
                        {"field": "customer_value", "op": "lt", "value": 400},
                        {"field": "vip", "op": "exists"},
                    ]
                }
            },
        ]
    }
    start(
        cx,
        WAIT,
        target=target,
        fields=["country", "customer_value", "vip", "birth_year", "last_order"],
    )
    assert set(positions(cx)) == {a, b, c}

    cx2_target = {
        "all": [
            {"field": "customer_value", "op": "gt", "value": 100},
            {"field": "country", "op": "ne", "value": "AT"},
        ]
    }
    start(cx, WAIT, id="second", target=cx2_target)
    assert set(positions(cx, "second")) == {b}


def test_validation_and_lint_errors_refuse_the_launch(configured: Candor) -> None:
    cx = configured
    add_contact(cx, 1)
    steps = [
        {"id": "s", "type": "send", "channel": "email", "template": "nope", "theme": "events"},
        *END,
    ]
    with pytest.raises(JourneyRefused) as refused:
        start(cx, steps)
    assert any(p.code == "unknown-template" and p.step == "s" for p in refused.value.problems)
    no_unsub = {"bare": {"email": {"subject": "x", "text": "no way out"}}}
    steps = [
        {"id": "s", "type": "send", "channel": "email", "template": "bare", "theme": "events"},
        *END,
    ]
    with pytest.raises(JourneyRefused) as refused:
        start(cx, steps, templates=no_unsub)
    assert [p.code for p in refused.value.problems] == ["no-unsubscribe"]
    with reading(cx.engine) as conn:
        assert conn.execute(select(func.count()).select_from(journeys)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(journey_contacts)).scalar_one() == 0


def test_a_journey_is_launched_once(configured: Candor) -> None:
    cx = configured
    start(cx, WAIT)
    with pytest.raises(Exception, match="running"):
        launch(cx, load_journey(journey_yaml(WAIT)), actor="test")


def test_launch_enrolls_in_contact_order(configured: Candor) -> None:
    """Every index of journey_contacts then grows at its right edge (1M: 21 -> 14.5 s)."""
    cx = configured
    people = [add_contact(cx, n) for n in range(5)]
    inserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "INSERT INTO journey_contacts" in statement:
            inserts.append(" ".join(statement.split()))

    event.listen(cx.engine, "before_cursor_execute", seen)
    try:
        start(cx, WAIT)
    finally:
        event.remove(cx.engine, "before_cursor_execute", seen)
    (insert,) = inserts
    rows = insert.split("INSERT INTO journey_contacts", 1)[1].split(" RETURNING", 1)[0]
    assert re.search(r"ORDER BY \w+\.contact_id$", rows), rows
    # Rows as stored (PostgreSQL: heap position, SQLite: rowid): inserted in contact order.
    stored = "ctid" if cx.engine.dialect.name == "postgresql" else "rowid"
    jc = journey_contacts
    with reading(cx.engine) as conn:
        query = select(jc.c.contact_id).order_by(literal_column(stored))
        order = conn.execute(query).scalars().all()
    assert order == people
