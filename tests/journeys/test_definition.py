"""Loading journey files: strict models, two-phase step parsing, durations, JSON Schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from candor.journeys import (
    JourneyError,
    Problem,
    build_journey,
    journey_json_schema,
    load_journey,
    next_steps,
    parse_duration,
    register_step,
    step_types,
    unregister_step,
)
from candor.journeys.definition import AllOf, Condition, NotOf
from candor.journeys.steps import SendSettings, WaitSettings

from . import fixture, load

MINIMAL = """
id: j
name: J
purpose: newsletter
steps:
{steps}
"""


def problems_of(text: str, filename: str = "j.yaml") -> list[Problem]:
    with pytest.raises(JourneyError) as info:
        load_journey(text, filename)
    return info.value.problems


def with_steps(*steps: dict[str, object]) -> str:
    return yaml.safe_dump({"id": "j", "name": "J", "purpose": "newsletter", "steps": list(steps)})


def test_good_journey_loads_with_typed_settings_and_defaults() -> None:
    defn = load("good.yaml")
    assert [s.id for s in defn.steps][:3] == ["ask", "welcome", "wait_click"]
    send = defn.steps[1]
    assert isinstance(send.settings, SendSettings)
    assert (send.settings.channel, send.settings.theme) == ("email", "news")
    assert send.exits == {"on_denied": "bye"}
    assert defn.ends_at == datetime(2026, 12, 31, tzinfo=UTC)  # a bare date is midnight UTC
    assert isinstance(defn.target, AllOf)
    assert isinstance(defn.target.all[1], NotOf)
    assert isinstance(defn.target.all[1].not_, Condition)


def test_next_defaults_to_the_following_step_and_end_leads_nowhere() -> None:
    defn = load("good.yaml")
    graph = {s.id: next_steps(s) for s in defn.steps}
    assert graph["welcome"] == {"next": "wait_click", "on_denied": "bye"}
    assert graph["reminder"] == {"next": "pause"}  # explicit next wins
    assert graph["route"] == {
        "cases[0].next": "remember",
        "cases[1].next": "remember",
        "default": "bye",
    }
    assert graph["bye"] == {}


def test_json_file_loads_like_yaml_and_dump_round_trips() -> None:
    defn = load("good.yaml")
    again = load_journey(json.dumps(defn.dump()), "good.json")
    assert again == defn
    assert build_journey(defn.dump()) == defn
    assert again.steps[1].flat()["theme"] == "news"


def test_unknown_step_key_is_reported_with_step_id_path_and_suggestion() -> None:
    problems = problems_of(
        with_steps({"id": "s1", "type": "send", "chanel": "email", "template": "t"})
    )
    by_path = {p.path: p for p in problems}
    assert by_path["steps[0].chanel"].step == "s1"
    assert by_path["steps[0].chanel"].code == "unknown-key"
    assert "did you mean 'channel'" in by_path["steps[0].chanel"].message
    assert by_path["steps[0].channel"].code == "missing-key"


def test_unknown_type_and_every_other_step_problem_are_all_reported() -> None:
    text = with_steps(
        {"id": "s1", "type": "teleport"},
        {"type": "end"},
        {"id": "s3", "type": "wait", "duration": "P1D", "on_timout": "s1"},
        {
            "id": "s4",
            "type": "branch",
            "cases": [{"when": {"fild": "x"}, "next": "s1"}],
            "default": "s1",
            "next": "s3",
        },
        {"id": "9bad", "type": "end"},
    )
    found = {(p.path, p.step, p.code) for p in problems_of(text)}
    assert ("steps[0].type", "s1", "unknown-type") in found
    assert ("steps[1].id", None, "missing-key") in found
    assert ("steps[2].on_timout", "s3", "unknown-key") in found
    assert ("steps[3].next", "s4", "unknown-key") in found
    assert ("steps[3].cases[0].when.fild", "s4", "unknown-key") in found
    assert ("steps[3].cases[0].when.field", "s4", "missing-key") in found
    assert ("steps[4].id", "9bad", "invalid") in found


def test_top_level_problems_use_key_paths() -> None:
    text = MINIMAL.format(steps="  - {id: e, type: end}") + "bogus: 1\nexpires_after: P3X\n"
    text += "target: {any: [{field: country, op: between, value: 3}]}\n"
    found = {p.path: p for p in problems_of(text)}
    assert found["bogus"].code == "unknown-key"
    assert "ISO 8601" in found["expires_after"].message
    assert "two values" in found["target.any[0]"].message


def test_missing_steps_and_syntax_errors() -> None:
    assert [p.path for p in problems_of("id: j\nname: J\npurpose: p\n")] == ["steps"]
    (syntax,) = problems_of("a: [", "j.yaml")
    assert syntax.code == "syntax" and "line 1" in syntax.message
    assert problems_of("{", "j.json")[0].code == "syntax"
    assert problems_of("- 1\n")[0].message == "a journey file must be a mapping"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"duration": "P1D", "event": "click", "timeout": "P1D"}, "exactly one"),
        ({"event": "click"}, "needs a timeout"),
        ({"duration": "P1D", "timeout": "P1D"}, "only applies"),
        ({"duration": "PT0S"}, "must be positive"),
        ({"duration": "1 day"}, "not an ISO 8601 duration"),
        ({"until": "2026-01-01T10:00:00"}, "timezone"),
    ],
)
def test_wait_settings_are_checked(settings: dict[str, str], message: str) -> None:
    problems = problems_of(with_steps({"id": "w", "type": "wait", **settings}))
    assert any(message in p.message and p.step == "w" for p in problems), problems


def test_condition_value_shapes() -> None:
    for value, op in ((["DE"], "eq"), ("DE", "in"), (None, "gt"), ("x", "exists")):
        text = with_steps({"id": "e", "type": "end"}).replace(
            "purpose",
            f"target: {json.dumps({'field': 'country', 'op': op, 'value': value})}\npurpose",
        )
        assert problems_of(text)[0].path == "target"
    assert WaitSettings(event="reply", timeout="P2D").event == "reply"


def test_parse_duration_accepts_calendar_durations() -> None:
    month = parse_duration("P1M")
    assert not isinstance(month, timedelta)
    assert month.months == 1
    assert parse_duration("PT36H") == timedelta(hours=36)
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration("P")


def test_json_schema_is_valid_json_and_names_every_step_type() -> None:
    schema = json.loads(json.dumps(journey_json_schema()))
    variants = schema["properties"]["steps"]["items"]["oneOf"]
    consts = {
        schema["$defs"][v["$ref"].split("/")[-1]]["properties"]["type"]["const"] for v in variants
    }
    assert consts == set(step_types())
    assert {"send", "wait", "branch", "score", "forget", "end"} <= consts
    send = schema["$defs"]["SendStep"]
    assert send["additionalProperties"] is False
    assert {"id", "type", "next", "on_denied", "channel", "template", "theme"} <= set(
        send["properties"]
    )
    assert "next" not in schema["$defs"]["EndStep"]["properties"]
    assert schema["additionalProperties"] is False


@pytest.fixture
def postcard() -> Iterator[None]:
    from candor.journeys.step_types import Strict

    class PostcardSettings(Strict):
        """Send a postcard."""

        motif: str

    register_step("postcard", PostcardSettings, exits=("on_returned",), waits=True)
    yield
    unregister_step("postcard")


@pytest.mark.usefixtures("postcard")
def test_registered_step_type_loads_and_appears_in_schema() -> None:
    defn = load_journey(
        with_steps(
            {"id": "p", "type": "postcard", "motif": "beach", "on_returned": "e"},
            {"id": "e", "type": "end"},
        ),
        "j.yaml",
    )
    assert next_steps(defn.steps[0]) == {"next": "e", "on_returned": "e"}
    assert "PostcardStep" in journey_json_schema()["$defs"]
    bad = problems_of(with_steps({"id": "p", "type": "postcard", "motiv": "x"}))
    assert {p.path for p in bad} == {"steps[0].motiv", "steps[0].motif"}


def test_register_step_refuses_clashes() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_step("send")
    with pytest.raises(ValueError, match="start with 'on_'"):
        register_step("odd", exits=("later",))


def test_fixture_helper_reads_text() -> None:
    assert fixture("good.yaml").startswith("#")
