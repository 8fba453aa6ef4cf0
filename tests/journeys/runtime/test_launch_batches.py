"""A launch enrols in batches: workers start on the first, a stalled launch is continued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import advance, enroll, launch, run_until_idle
from candor.journeys.runtime.enroll import STALLED, enroll_batch
from candor.store.engine import reading
from candor.store.journey_tables import journeys
from candor.store.tables import audit_log, contacts

from .helpers import add_contact, block, journey_yaml, positions, stats

WAIT = [{"id": "hold", "type": "wait", "duration": "P1D"}, {"id": "bye", "type": "end"}]


def _journey_row(cx: Candor) -> Any:
    with reading(cx.engine) as conn:
        return conn.execute(select(journeys).where(journeys.c.id == "promo")).mappings().one()


def test_batches_enrol_the_same_people_and_counts_as_one_statement_did(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setattr(enroll, "LAUNCH_BATCH", 3)
    monkeypatch.setattr(enroll, "FIRST_BATCH", 2)
    ids = [add_contact(cx, n) for n in range(10)]
    outside = [add_contact(cx, 50 + n, attributes={"country": "FR"}) for n in range(4)]
    with cx.engine.begin() as conn:
        conn.execute(
            update(contacts).where(contacts.c.id == ids[2]).values(erased_at=cx.clock.now())
        )
    block(cx, ids[7])  # complete block: never enters
    report = launch(cx, load_journey(journey_yaml(WAIT)), actor="test")
    assert report.entered == 8 and report.by_reason["erased"] == 1
    assert report.by_reason["blocked:all"] == 1 and sum(report.by_reason.values()) == 10
    assert set(positions(cx)) == set(ids) - {ids[2], ids[7]} and not set(outside) & set(
        positions(cx)
    )
    figures = stats(cx)
    assert figures[("(enter)", "entered")] == 8 and figures[("(enter)", "erased")] == 1
    row = _journey_row(cx)
    assert row["entered"] == 8 and row["enrol_until"] is None and row["state"] == "running"
    with reading(cx.engine) as conn:
        actions = list(conn.execute(select(audit_log.c.action, audit_log.c.details)))
    enrolled = [d for a, d in actions if a == "journey.enrolled"]
    assert [a for a, _ in actions if a.startswith("journey.")][-2:] == [
        "journey.launch",
        "journey.enrolled",
    ]
    assert enrolled == [{"entered": 8}]


def test_workers_start_on_the_first_batch_and_go_on_with_a_launch_that_stopped(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setattr(enroll, "LAUNCH_BATCH", 2)
    monkeypatch.setattr(enroll, "FIRST_BATCH", 2)
    ids = [add_contact(cx, n) for n in range(5)]
    real = enroll.enrol_next
    calls: list[int] = []

    def dies_after_one(*args: Any, **kwargs: Any) -> bool:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("the launching process died")
        return real(*args, **kwargs)

    monkeypatch.setattr(enroll, "enrol_next", dies_after_one)
    with pytest.raises(RuntimeError):
        launch(cx, load_journey(journey_yaml(WAIT)), actor="test")
    monkeypatch.setattr(enroll, "enrol_next", real)
    assert set(positions(cx)) == set(ids[:2]) and _journey_row(cx)["enrol_until"] is not None
    run_until_idle(cx)  # the first batch is worked on; the launch is not stalled yet
    assert {step for step, _ in positions(cx).values()} == {"hold"}
    assert set(positions(cx)) == set(ids[:2])
    cx.clock.advance(STALLED + timedelta(seconds=1))  # type: ignore[attr-defined]
    run_until_idle(cx)
    assert set(positions(cx)) == set(ids)
    row = _journey_row(cx)
    assert row["entered"] == 5 and row["enrol_until"] is None


def test_a_batch_of_people_can_be_enrolled_by_any_caller(configured: Candor) -> None:
    cx = configured
    ids = [add_contact(cx, n) for n in range(3)]
    extra = add_contact(cx, 9)
    block(cx, extra)
    launch(
        cx,
        load_journey(journey_yaml(WAIT, target={"field": "country", "op": "eq", "value": "XX"})),
        actor="test",
    )
    defn = load_journey(journey_yaml(WAIT))
    with cx.engine.begin() as conn:
        entered, by_reason = enroll_batch(conn, defn, [ids[1], extra], cx.clock.now())
    assert entered == 1 and by_reason["blocked:all"] == 1
    assert set(positions(cx)) == {ids[1]} and _journey_row(cx)["entered"] == 1


def test_a_sending_worker_stops_advancing_when_its_round_is_up(configured: Candor) -> None:
    """With a budget, no batch starts after it ran out (the worker then sends what is queued);
    the next rounds take the rest."""
    cx = configured
    ids = [add_contact(cx, n) for n in range(5)]
    launch(cx, load_journey(journey_yaml(WAIT)), actor="test")
    assert advance(cx, batch_size=2, budget=0) == 2  # one batch, then the round is up
    assert sum(1 for step, _ in positions(cx).values() if step == "hold") == 5
    moved = {c for c, (_, status) in positions(cx).items() if status == "waiting"}
    assert len(moved) == 2
    run_until_idle(cx)
    assert {status for _, status in positions(cx).values()} == {"waiting"}
    assert set(positions(cx)) == set(ids)
