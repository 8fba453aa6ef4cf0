"""Mission Control lists a journey's steps in flow order (the journeys package's order)."""

from __future__ import annotations

from types import SimpleNamespace

from candor.figures.mission_control import journey_entries
from candor.journeys.validate import stored_flow_order

DEFINITION = {
    "id": "j",
    "name": "J",
    "purpose": "events",
    "steps": [
        {"id": "send", "type": "send", "channel": "email", "template": "t", "on_denied": "z_out"},
        {"id": "wait", "type": "wait", "duration": "P1D"},
        {"id": "a_end", "type": "end"},
        {"id": "z_out", "type": "end"},
    ],
}


def test_steps_follow_the_flow_not_the_alphabet() -> None:
    running = [
        SimpleNamespace(id="j", name="J", purpose_id="events", entered=3, definition=DEFINITION)
    ]
    here = {("j", "wait"): 2, ("j", "a_end"): 1, ("j", "z_out"): 1}
    stats = {("j", "send"): {"passed": 2, "not_asked": 1}}
    (entry,) = journey_entries(running, here, stats, stored_flow_order)
    assert list(entry["steps"]) == ["send", "wait", "a_end", "z_out"]
    (plain,) = journey_entries(running, here, stats)
    assert list(plain["steps"]) == ["a_end", "send", "wait", "z_out"]


def test_a_definition_that_no_longer_loads_keeps_the_id_order() -> None:
    assert stored_flow_order({"id": "x", "steps": "nonsense"}) == []
