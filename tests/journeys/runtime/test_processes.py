"""Worker processes side by side (candor worker --processes): each contact moved once."""

from __future__ import annotations

from collections import Counter

import pytest

from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.journeys.runtime.processes import run_in_processes
from candor.store.engine import is_sqlite

from .helpers import (
    add_contact,
    consent,
    invite_then_wait,
    messages,
    positions,
    start,
    stats,
)

STEPS = invite_then_wait("P7D")


def test_two_processes_share_the_work_and_queue_each_message_once(configured: Candor) -> None:
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("several worker processes need PostgreSQL (SQLite has one writer)")
    people = [add_contact(cx, n) for n in range(40)]
    asked = people[:30]
    for contact in asked:
        consent(cx, contact, "events")
    start(cx, STEPS)

    ran = run_in_processes(cx, 2, dispatch=False, once=True, batch_size=4)

    assert ran.advanced == 40
    where = positions(cx)
    assert {where[c] for c in asked} == {("pause", "waiting")}
    assert {where[c] for c in people[30:]} == {("skipped", "done")}
    per_contact = Counter(m["contact_id"] for m in messages(cx))
    assert set(per_contact) == set(asked) and set(per_contact.values()) == {1}
    assert stats(cx)[("invite", "passed")] == 30
    assert stats(cx)[("invite", "not_asked")] == 10


def test_more_than_one_process_is_refused_on_sqlite_and_nothing_moves(configured: Candor) -> None:
    cx = configured
    if not is_sqlite(cx.engine):
        pytest.skip("the refusal is SQLite's")
    contact = add_contact(cx, 1)
    consent(cx, contact, "events")
    start(cx, STEPS)
    with pytest.raises(InvalidInput) as refused:
        run_in_processes(cx, 2, dispatch=False, once=True)
    assert refused.value.field == "processes" and "PostgreSQL" in refused.value.problem
    assert positions(cx) == {contact: ("invite", "active")}
    assert messages(cx) == []


def test_zero_processes_is_bad_input(configured: Candor) -> None:
    with pytest.raises(InvalidInput, match="processes: must be at least 1"):
        run_in_processes(configured, 0, dispatch=False, once=True)
