"""The runtime's set-based writes: rows in one parameter, one write per row, held locks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import BigInteger, String, event, select, text, update
from sqlalchemy.exc import OperationalError

from candor.core.context import Candor
from candor.journeys.runtime.advance import advance_journey, claim, hold_contacts
from candor.journeys.runtime.batch_moves import StepContext
from candor.journeys.runtime.batch_values import ids_table, rows_table
from candor.journeys.runtime.enroll import hold_group
from candor.journeys.runtime.handlers import get_handler
from candor.journeys.runtime.model import running_journeys
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, journey_transitions, journeys
from candor.store.sql import in_batch, int_array
from candor.store.tables import contacts

from .helpers import add_contact, ask_step, consent, messages, positions, run, start

FLOW = [
    {
        "id": "invite",
        "type": "send",
        "channel": "email",
        "template": "promo_mail",
        "theme": "events",
    },
    {"id": "pause", "type": "wait", "duration": "P3D"},
    {"id": "done", "type": "end"},
]


def test_rows_ids_and_in_batch_carry_a_batch_in_the_statement(configured: Candor) -> None:
    cx = configured
    rows = [(1, "a", None), (2, None, 7), (3, "c'\"{},", 9)]
    types = {"n": BigInteger(), "s": String(), "m": BigInteger()}
    ids = [add_contact(cx, n) for n in range(3)]
    with cx.engine.connect() as conn:
        table = rows_table(conn, "t", types, rows)
        got = conn.execute(select(table.c.n, table.c.s, table.c.m).order_by(table.c.n)).all()
    assert [tuple(r) for r in got] == rows
    with cx.engine.connect() as conn:
        moved = ids_table(conn, "moved", [5, 10**12, 5, -3])
        assert sorted(conn.execute(select(moved.c.id)).scalars()) == [-3, 5, 5, 10**12]
        assert conn.execute(select(ids_table(conn, "none", []).c.id)).all() == []
    with cx.engine.connect() as conn:
        found = conn.execute(select(contacts.c.id).where(in_batch(contacts.c.id, ids[:2])))
        assert sorted(found.scalars()) == sorted(ids[:2])
    assert int_array([1, None, 30]) == "{1,NULL,30}"
    assert int_array(iter([7, -2, 10**12])) == "{7,-2,1000000000000}"
    with pytest.raises((TypeError, ValueError)):
        int_array(["1; DROP TABLE contacts"])  # type: ignore[list-item]


def test_a_batch_walking_several_steps_writes_each_row_once_and_records_each_step(
    configured: Candor,
) -> None:
    cx = configured
    people = [add_contact(cx, n) for n in range(3)]
    for person in people:
        consent(cx, person, "events")
    start(cx, FLOW)
    run(cx)
    assert set(positions(cx).values()) == {("pause", "waiting")}
    with reading(cx.engine) as conn:
        row = conn.execute(select(journey_contacts).limit(1)).mappings().one()
        moves = conn.execute(
            select(journey_transitions.c.from_step, journey_transitions.c.to_step)
        ).all()
    assert row["step_entered_at"] == cx.clock.now()
    assert row["due_at"] == cx.clock.now() + timedelta(days=3)
    assert row["checked_at"] is None
    assert sorted(set(moves)) == [("invite", "pause")] and len(moves) == 3
    assert len(messages(cx)) == 3


def test_a_batch_does_nothing_once_the_journey_no_longer_runs(configured: Candor) -> None:
    cx = configured
    consent(cx, add_contact(cx, 1), "events")
    start(cx, FLOW)
    with reading(cx.engine) as conn:
        (journey,) = running_journeys(conn)
    with cx.engine.begin() as conn:  # stopped by someone else after this worker loaded it
        conn.execute(update(journeys).values(state="stopped"))
    assert advance_journey(cx, journey, cx.clock.now(), 100) == 0
    assert set(positions(cx).values()) == {("invite", "active")}
    assert messages(cx) == []


def _locked_elsewhere(cx: Candor, contact: int) -> bool:
    """Whether another transaction cannot lock the contact FOR UPDATE right now."""
    with cx.engine.connect() as other:
        try:
            other.execute(
                select(contacts.c.id).where(contacts.c.id == contact).with_for_update(nowait=True)
            ).all()
        except OperationalError:
            return True
        finally:
            other.rollback()
    return False


def test_a_batch_and_a_launch_hold_their_people_until_they_commit(configured: Candor) -> None:
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("SQLite has one writer at a time: nothing to hold")
    person, other = add_contact(cx, 1), add_contact(cx, 2)
    with cx.engine.begin() as conn:
        hold_contacts(conn, [person])
        assert _locked_elsewhere(cx, person) and not _locked_elsewhere(cx, other)
    assert not _locked_elsewhere(cx, person)
    with cx.engine.begin() as conn:
        hold_group(conn, select(contacts.c.id).where(contacts.c.id == other))
        assert _locked_elsewhere(cx, other) and not _locked_elsewhere(cx, person)


def test_launch_refreshes_the_planner_statistics(configured: Candor) -> None:
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("PostgreSQL planner statistics")
    for n in range(5):
        add_contact(cx, n)
    start(cx, FLOW)
    with reading(cx.engine) as conn:
        tuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"),
            {"t": journey_contacts.name},
        ).scalar_one()
    assert tuples == 5


def test_a_claim_takes_the_due_first_then_those_their_event_woke(configured: Candor) -> None:
    cx = configured
    people = [add_contact(cx, n) for n in range(4)]
    start(cx, [ask_step(on_refused="done", on_timeout="done"), {"id": "done", "type": "end"}])
    run(cx)  # everyone asked, waiting at `ask` until the timeout
    cx.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    for person in people[:2]:
        consent(cx, person, "events", theme="events", channel="email")  # wakes them
    now = cx.clock.now()
    jc = journey_contacts
    with cx.engine.begin() as conn:  # the other two are due now
        conn.execute(
            update(jc)
            .where(jc.c.contact_id.in_(people[2:]))
            .values(status="active", due_at=now - timedelta(seconds=1))
        )
    with cx.engine.begin() as conn:
        (journey,) = running_journeys(conn)
        ctx = StepContext(conn, cx, journey, journey.defn.steps[0], now)
        handler = get_handler("consent")
        assert handler is not None
        first = claim(ctx, handler, 3)
        assert len(first) == 3
        assert [m.contact_id for m in first[:2]] == people[2:]  # due first, in contact order
        assert first[2].contact_id in people[:2]
    with cx.engine.begin() as conn:
        everyone = claim(StepContext(conn, cx, journey, journey.defn.steps[0], now), handler, 10)
        assert sorted(m.contact_id for m in everyone) == sorted(people)


def test_a_send_probes_each_members_journey_data_once_on_postgresql(configured: Candor) -> None:
    """PostgreSQL inlined the data look into the WHERE too: two probes a message, not one."""
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("PostgreSQL's plan")
    for n in range(3):
        consent(cx, add_contact(cx, n), "events")
    start(cx, FLOW)
    sent: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("INSERT INTO outbox"):
            sent.append((statement, parameters))

    event.listen(cx.engine, "before_cursor_execute", seen)
    try:
        run(cx)
    finally:
        event.remove(cx.engine, "before_cursor_execute", seen)
    assert len(messages(cx)) == 3 and len(sent) == 1
    statement, parameters = sent[0]
    assert "ON CONFLICT" not in statement  # no key existed: the plain INSERT did it
    with cx.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
    probes = [line for line in plan if "on journey_contacts" in line]
    assert len(probes) == 1, plan
