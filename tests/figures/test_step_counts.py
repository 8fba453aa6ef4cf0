"""Mission Control's "here" counts (figures.step_counts) equal the GROUP BY over journey_contacts.

Random sequences of the real operations: journeys launched (waits, an expiry shorter than
their waits, a forget step for some people), the worker advanced with the manual clock,
contacts created, erased and restricted, journeys stopped (archived). After each sequence
figures.mission_control.journey_figures equals the full count of tests/figures/oracle.py.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.figures import step_counts as here
from candor.figures.mission_control import journey_figures
from candor.journeys.runtime.archive import stop_journey
from candor.ledger.config import apply_config, load_config_file
from candor.rights.erasure import erase_contacts
from candor.rights.restriction import restrict_contact
from candor.store.engine import reading
from candor.store.journey_tables import journey_step_stats
from candor.store.schema import metadata
from tests.conftest import FIXTURES, START
from tests.figures.oracle import journey_figures_by_scan
from tests.journeys.runtime.helpers import add_contact, run, start

COUNTER = itertools.count(1)
FLOW = [
    {"id": "hold", "type": "wait", "duration": "PT12H"},
    {"id": "pause", "type": "wait", "duration": "P3D"},
    {"id": "done", "type": "end"},
]
FORGET = [
    {"id": "hold", "type": "wait", "duration": "P1D"},
    {"id": "erase", "type": "forget"},
    {"id": "done", "type": "end"},
]
VIP = {"field": "vip", "op": "eq", "value": True}

op = st.one_of(
    st.tuples(st.just("create"), st.booleans()),  # a VIP (the forget journey's target)
    st.tuples(st.just("launch"), st.sampled_from(["flow", "forget"]), st.booleans()),
    st.tuples(st.just("advance"), st.sampled_from([6, 12, 24, 36])),  # hours, then the worker
    st.tuples(st.just("erase"), st.integers(0, 9)),
    st.tuples(st.just("restrict"), st.integers(0, 9)),
    st.tuples(st.just("stop"), st.integers(0, 3)),
)


class World:
    """The operations under test, run through the product's own functions."""

    def __init__(self, cx: Candor) -> None:
        self.cx = cx
        self.contacts: list[int] = []
        self.journeys: list[str] = []

    def pick(self, index: int) -> int | None:
        return self.contacts[index % len(self.contacts)] if self.contacts else None

    def run(self, step: tuple[Any, ...]) -> None:
        cx, kind = self.cx, step[0]
        if kind == "create":
            attributes = {"vip": True} if step[1] else {}
            self.contacts.append(add_contact(cx, next(COUNTER), attributes=attributes))
        elif kind == "launch":
            name = f"{step[1]}{next(COUNTER)}"
            head: dict[str, Any] = {"id": name, "expires_after": "P2D" if step[2] else "P90D"}
            if step[1] == "forget":
                head |= {"target": VIP, "fields": ["vip"]}
            start(cx, FLOW if step[1] == "flow" else FORGET, **head)
            self.journeys.append(name)
        elif kind == "advance":
            assert isinstance(cx.clock, ManualClock)
            cx.clock.advance(timedelta(hours=step[1]))
            run(cx)
        elif kind == "erase":
            contact = self.pick(step[1])
            if contact is not None:
                erase_contacts(cx, [contact], actor="t", reason="test")
        elif kind == "restrict":
            contact = self.pick(step[1])
            if contact is None:
                return
            try:
                with cx.engine.begin() as conn:
                    restrict_contact(conn, contact, actor="t", at=cx.clock.now())
            except CandorError:
                return  # restricted already, or erased
        elif kind == "stop" and self.journeys:
            try:
                stop_journey(cx, self.journeys[step[1] % len(self.journeys)], actor="t")
            except CandorError:
                return  # archived already


def reset(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        apply_config(conn, load_config_file(FIXTURES / "candor.yaml"), actor="test", at=START)
    assert isinstance(cx.clock, ManualClock)
    cx.clock.set(START)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(op, min_size=1, max_size=12))
def test_here_counts_equal_a_full_count_after_any_operations(
    cx: Candor, steps: list[tuple[Any, ...]]
) -> None:
    reset(cx)
    world = World(cx)
    preamble = [("create", True), ("create", False), ("launch", "flow", True)]
    for step in [*preamble, *steps]:
        world.run(step)
        with reading(cx.engine) as conn:
            assert journey_figures(conn) == journey_figures_by_scan(conn), step


def test_forget_erase_and_expiry_leave_the_steps(cx: Candor) -> None:
    reset(cx)
    world = World(cx)
    steps = [
        ("create", True), ("create", True), ("create", False), ("create", False),
        ("launch", "flow", True), ("launch", "forget", False),
        ("advance", 12), ("erase", 2), ("advance", 12), ("advance", 24),
    ]  # fmt: skip
    for step in steps:
        world.run(step)
        with reading(cx.engine) as conn:
            assert journey_figures(conn) == journey_figures_by_scan(conn), step
    with reading(cx.engine) as conn:
        figures = {j["id"]: j["steps"] for j in journey_figures(conn)}
    flow, forget = world.journeys
    assert figures[forget]["erase"]["stopped"] == {"erased": 2}
    assert figures[flow]["pause"]["here"] == 0  # the one left expired after two days
    assert figures[flow]["pause"]["stopped"] == {"expired": 1}


def test_stop_drops_the_head_counts_and_rebuild_agrees(cx: Candor) -> None:
    reset(cx)
    world = World(cx)
    for step in [("create", True), ("create", False), ("launch", "flow", False), ("advance", 12)]:
        world.run(step)
    with reading(cx.engine) as conn:
        kept = _here_rows(conn)
    with cx.engine.begin() as conn:
        here.rebuild(conn)
    with reading(cx.engine) as conn:
        assert _here_rows(conn) == kept == {(world.journeys[0], "pause"): 2}
    world.run(("stop", 0))
    with reading(cx.engine) as conn:
        assert _here_rows(conn) == {} and journey_figures(conn) == []


def _here_rows(conn: Any) -> dict[tuple[str, str], int]:
    st_ = journey_step_stats
    rows = conn.execute(
        select(st_.c.journey_id, st_.c.step_id, st_.c.count).where(st_.c.outcome == here.HERE)
    )
    return {(j, s): n for j, s, n in rows if n}
