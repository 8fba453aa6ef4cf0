"""Validation against the registry: every problem, each with its step id and key path."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from candor.journeys import Problem, load_journey, register_step, unregister_step, validate
from candor.journeys.step_types import Strict
from candor.journeys.validate import loops_without_wait, reachable

from . import load, make_registry


def found(name: str) -> set[tuple[str, str | None, str]]:
    return {(p.path, p.step, p.code) for p in validate(load(name), make_registry())}


def test_good_journey_validates_clean() -> None:
    assert validate(load("good.yaml"), make_registry()) == []


def test_reference_problems_are_all_reported() -> None:
    assert found("refs.yaml") == {
        ("purpose", None, "unknown-purpose"),
        ("fields[1]", None, "unknown-field"),
        ("ends_at", None, "dates"),
        ("target.all[0].field", None, "undeclared-field"),
        ("target.all[1]", None, "event-in-target"),
        ("templates.broken.sms", None, "template-syntax"),
        ("steps[0].theme", "mail", "unknown-theme"),
        ("steps[0].template", "mail", "unknown-template"),
        ("steps[1].template", "sms", "template-channel"),
        ("steps[3].cases[0].when.field", "route", "undeclared-field"),
        ("steps[3].cases[1].when.step", "route", "unknown-event-step"),
        ("steps[4].values.customer_value", "keep", "undeclared-field"),
        ("steps[4].values.favourite_colour", "keep", "unknown-field"),
    }


def test_theme_group_is_a_valid_theme_and_template_fields_must_be_declared() -> None:
    problems = validate(load("refs.yaml"), make_registry())
    assert not any(p.step == "ask" for p in problems)  # newsletters is a group; first_name declared
    defn = load("lint_errors.yaml")
    (problem, _) = [p for p in validate(defn, make_registry()) if p.code == "undeclared-field"]
    assert problem.path == "steps[2].template"
    assert "birthday" in problem.message


def test_graph_problems_are_all_reported() -> None:
    assert found("graph.yaml") == {
        ("steps[3].on_timeout", "later", "invalid"),
        ("steps[0].on_denied", "start", "dangling-target"),
        ("steps[1].default", "spin", "dangling-target"),
        ("steps[5].id", "start", "duplicate-id"),
        ("steps[6]", "orphan", "missing-target"),
        ("steps[3]", "later", "unreachable"),
        ("steps[4]", "again", "unreachable"),
        ("steps[6]", "orphan", "unreachable"),
        ("steps[1]", "spin", "loop-without-wait"),
        ("steps[3]", "later", "loop-without-wait"),
    }


def test_loop_message_names_the_cycle() -> None:
    problems = validate(load("graph.yaml"), make_registry())
    loop = next(p for p in problems if p.code == "loop-without-wait")
    assert loop.message.endswith("spin -> spin_back -> spin")
    assert isinstance(loop, Problem) and loop.severity == "error"


def journey(*steps: dict[str, object]) -> str:
    data = {
        "id": "j",
        "name": "J",
        "purpose": "newsletter",
        "ends_at": "2027-01-01",
        "steps": list(steps),
    }
    return yaml.safe_dump(data)


def test_loop_through_a_real_wait_is_fine_and_self_loop_is_not() -> None:
    waiting = load_journey(
        journey(
            {"id": "a", "type": "advertising_block", "channel": "email", "on_blocked": "z"},
            {"id": "w", "type": "wait", "duration": "P1D", "next": "a"},
            {"id": "z", "type": "end"},
        ),
        "j.yaml",
    )
    assert validate(waiting, make_registry()) == []
    spinning = load_journey(
        journey({"id": "a", "type": "opt_out", "next": "a"}, {"id": "z", "type": "end"}), "j.yaml"
    )
    assert loops_without_wait(spinning) == [["a"]]


def test_reachable_can_stop_at_steps() -> None:
    defn = load("good.yaml")
    assert reachable(defn) == {s.id for s in defn.steps}
    assert reachable(defn, stop=lambda s: s.id == "ask") == {"ask"}


@pytest.fixture
def postcard() -> Iterator[None]:
    class PostcardSettings(Strict):
        """Send a postcard to a field's value."""

        greeting_field: str
        theme: str | None = None

    register_step(
        "postcard",
        PostcardSettings,
        exits=("on_returned",),
        fields=lambda s: [("greeting_field", s.greeting_field)],
    )
    yield
    unregister_step("postcard")


@pytest.mark.usefixtures("postcard")
def test_newly_registered_step_type_is_validated_with_its_hooks() -> None:
    good = load_journey(
        journey(
            {"id": "p", "type": "postcard", "greeting_field": "country", "on_returned": "z"},
            {"id": "z", "type": "end"},
        ).replace("purpose:", "fields: [country]\npurpose:"),
        "j.yaml",
    )
    assert validate(good, make_registry()) == []
    bad = load_journey(
        journey(
            {
                "id": "p",
                "type": "postcard",
                "greeting_field": "first_name",
                "theme": "nope",
                "on_returned": "gone",
            },
        ),
        "j.yaml",
    )
    assert {(p.path, p.code) for p in validate(bad, make_registry())} == {
        ("steps[0].greeting_field", "undeclared-field"),
        ("steps[0].theme", "unknown-theme"),
        ("steps[0].on_returned", "dangling-target"),
        ("steps[0]", "missing-target"),
    }
