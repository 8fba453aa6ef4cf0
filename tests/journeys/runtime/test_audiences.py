"""Saved audiences and the decision filter: the twin decides, and agrees with decide()."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.definition import FILTER_ADAPTER
from candor.journeys.runtime import JourneyRefused, launch
from candor.journeys.runtime.audiences import (
    Audience,
    count_audience,
    delete_audience,
    list_audiences,
    save_audience,
)
from candor.journeys.runtime.filters import target_select
from candor.journeys.runtime.reference_data import DbRegistry
from candor.journeys.runtime.target_lookups import target_lookups
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.engine import reading
from candor.store.tables import audit_log
from tests.journeys.runtime.helpers import (
    add_contact,
    block,
    consent,
    invite_then_wait,
    journey_yaml,
    positions,
)


def _ledger(cx: Candor) -> list[int]:
    """Six people whose events/e-mail decisions differ: granted, withdrawn, never asked,
    expired (granted long ago), blocked for the theme, and granted but in AT."""
    old = add_contact(cx, 4)
    consent(cx, old, "events")
    cx.clock.advance(timedelta(days=800))  # type: ignore[attr-defined]
    people = [add_contact(cx, n) for n in (1, 2, 3, 5)]
    consent(cx, people[0], "events")
    consent(cx, people[1], "events")
    consent(cx, people[1], "events", status="withdrawn")
    consent(cx, people[3], "events")
    block(cx, people[3], theme="events")
    austrian = add_contact(cx, 6, attributes={"country": "AT"})
    consent(cx, austrian, "events")
    return [old, *people, austrian]


def _decided(cx: Candor, people: list[int]) -> dict[int, str]:
    with reading(cx.engine) as conn:
        facts, theme = purpose_facts(conn, "events"), theme_ref(conn, "events")
        now = cx.clock.now()
        return {p: decide_for(conn, p, facts, "email", None, theme, now).reason for p in people}


def _selected(cx: Candor, data: object) -> set[int]:
    node = FILTER_ADAPTER.validate_python(data)
    with reading(cx.engine) as conn:
        types = DbRegistry(conn).profile_types()
        query = target_select(node, types, target_lookups(conn, cx.clock.now()))
        assert query is not None
        return set(conn.execute(query).scalars())


def test_a_decision_condition_selects_exactly_whom_decide_gives_that_reason(
    configured: Candor,
) -> None:
    people = _ledger(configured)
    decided = _decided(configured, people)
    assert set(decided.values()) >= {"allowed", "withdrawn", "not_asked", "expired"}
    assert "blocked:theme" in decided.values()
    for reason in {*decided.values(), "erased"}:
        test = {"purpose": "events", "reason": reason, "channel": "email", "theme": "events"}
        chosen = _selected(configured, {"decision": test})
        assert chosen == {p for p, r in decided.items() if r == reason}, reason
    # Combined with attributes and negated, as a marketer would.
    either = {"any": [{"decision": {"purpose": "events", "reason": r}} for r in ("expired",)]}
    germans = {"field": "country", "op": "eq", "value": "DE"}
    chosen = _selected(configured, {"all": [germans, {"not": either}]})
    assert chosen == set(people[:-1]) - {people[0]}


def test_the_live_count_agrees_with_decide_for_every_member(configured: Candor) -> None:
    people = _ledger(configured)
    germans = {"field": "country", "op": "eq", "value": "DE"}
    audience = Audience.model_validate(
        {
            "id": "germans",
            "name": "Germans",
            "filter": germans,
            "purpose": "events",
            "channel": "email",
            "theme": "events",
        }
    )
    with reading(configured.engine) as conn:
        counted = count_audience(conn, audience, configured.clock.now())
    oracle = Counter(r for p, r in _decided(configured, people[:-1]).items())
    assert counted.reachable == oracle.pop("allowed")
    assert counted.by_reason == dict(oracle)
    assert counted.total == len(people) - 1


def test_a_saved_audience_is_a_journey_target_by_name(configured: Candor) -> None:
    cx = configured
    people = _ledger(cx)
    lapsed = Audience.model_validate(
        {
            "id": "lapsed",
            "name": "Lapsed events consent",
            "filter": {"decision": {"purpose": "events", "reason": "expired"}},
            "purpose": "events",
        }
    )
    with cx.engine.begin() as conn:
        assert save_audience(conn, lapsed, actor="key:7", at=cx.clock.now()) is True
        assert save_audience(conn, lapsed, actor="key:7", at=cx.clock.now()) is False
        actions = conn.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert actions.count(("audience.save", "key:7")) == 2
    report = launch(
        cx,
        load_journey(journey_yaml(invite_then_wait("P1D"), target={"audience": "lapsed"})),
        actor="test",
    )
    assert report.entered == 1
    assert set(positions(cx)) == {people[0]}
    with reading(cx.engine) as conn:
        assert [a.id for a in list_audiences(conn)] == ["lapsed"]


def test_unknown_audiences_and_misplaced_conditions_are_named(configured: Candor) -> None:
    cx = configured
    with pytest.raises(JourneyRefused) as refused:
        launch(
            cx,
            load_journey(journey_yaml(invite_then_wait("P1D"), target={"audience": "nobody"})),
            actor="test",
        )
    (problem,) = refused.value.problems
    assert (problem.path, problem.code) == ("target.audience", "unknown-audience")
    branch = {
        "id": "split",
        "type": "branch",
        "default": "done",
        "cases": [
            {"when": {"decision": {"purpose": "events", "reason": "allowed"}}, "next": "done"}
        ],
    }
    steps = [branch, {"id": "done", "type": "end"}]
    with pytest.raises(JourneyRefused) as refused:
        launch(cx, load_journey(journey_yaml(steps)), actor="test")
    assert [p.code for p in refused.value.problems] == ["target-only"]
    bad = Audience.model_validate(
        {
            "id": "bad",
            "name": "Bad",
            "filter": {"all": [{"field": "shoe_size", "op": "gt", "value": 3}]},
            "purpose": "nope",
        }
    )
    with cx.engine.begin() as conn, pytest.raises(JourneyRefused) as refused:
        save_audience(conn, bad, actor="test", at=cx.clock.now())
    assert {p.path for p in refused.value.problems} == {"filter.all[0].field", "purpose"}
    by_name = bad.model_copy(
        update={
            "filter": FILTER_ADAPTER.validate_python(
                {"field": "first_name", "op": "eq", "value": "Ada"}
            ),
            "purpose": "events",
        }
    )
    with cx.engine.begin() as conn, pytest.raises(JourneyRefused) as refused:
        save_audience(conn, by_name, actor="test", at=cx.clock.now())
    assert [p.code for p in refused.value.problems] == ["identity-field"]
    with cx.engine.begin() as conn, pytest.raises(Exception, match="not found"):
        delete_audience(conn, "bad", actor="test", at=cx.clock.now())
