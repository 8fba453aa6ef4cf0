"""Custom events over the API: one or a batch, declared or refused, heard or counted."""

from __future__ import annotations

from datetime import timedelta

from candor.journeys.runtime import run_until_idle
from tests.always_on import apply_always_on
from tests.journeys.runtime.triggered import heard, members, triggered

from .conftest import Api, fields


def _setup(api: Api) -> int:
    apply_always_on(api.cx)
    return int(api.create_contact()["id"])


def test_one_event_enters_the_listening_journey_with_its_declared_fields(api: Api) -> None:
    alice = _setup(api)
    triggered(
        api.cx,
        {"on": "event", "name": "order.placed"},
        journey_id="thanks",
        purpose="service",
        fields=["first_name", "total"],
    )
    body = {"contact": alice, "name": "order.placed", "properties": {"total": 30, "sku": "A"}}
    answer = api.post("/api/v1/events", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"received": 1, "stored": 1, "unheard": 0}
    run_until_idle(api.cx)
    assert members(api.cx, "thanks")[alice][2] == {"total": 30.0}


def test_a_batch_by_external_id_and_the_counts(api: Api) -> None:
    _setup(api)
    events = [
        {"contact": {"external_id": "shop-1"}, "name": "order.placed", "properties": {"total": 1}}
    ] * 3
    answer = api.post("/api/v1/events/batch", json={"events": events})
    assert answer.json() == {"received": 3, "stored": 0, "unheard": 3}  # nobody listens
    assert heard(api.cx) == []
    listed = api.get("/api/v1/events").json()["items"]
    assert [(e["name"], e["heard"], e["unheard"]) for e in listed] == [("order.placed", 0, 3)]
    assert api.get("/api/v1/events", role="auditor").status_code == 200


def test_undeclared_events_and_properties_are_refused_whole(api: Api) -> None:
    alice = _setup(api)
    before = api.row_counts()
    good = {"contact": alice, "name": "order.placed", "properties": {"total": 2}}
    cases = {
        "events[1].name": {**good, "name": "page.viewed"},
        "events[1].properties.colour": {**good, "properties": {"colour": "red"}},
        "events[1].properties.total": {**good, "properties": {"total": "lots"}},
        "events[1].contact": {**good, "contact": 999},
        "events[1].occurred_at": {**good, "occurred_at": "2099-01-01T00:00:00Z"},
    }
    for field, bad in cases.items():
        answer = api.post("/api/v1/events/batch", json={"events": [good, bad]})
        assert answer.status_code == 422, answer.text
        assert fields(answer) == [field]
    assert fields(api.post("/api/v1/events", json={**good, "name": "x"})) == ["name"]
    assert api.post("/api/v1/events", json={**good, "extra": 1}).status_code == 422
    assert api.post("/api/v1/events", json=good, role="auditor").status_code == 403
    assert api.post("/api/v1/events", json=good, role=None).status_code == 401
    assert api.row_counts() == before


def test_an_event_from_the_past_keeps_its_moment(api: Api) -> None:
    alice = _setup(api)
    triggered(api.cx, {"on": "event", "name": "order.placed"}, journey_id="t", purpose="service")
    when = api.cx.clock.now() - timedelta(days=2)
    body = {"contact": alice, "name": "order.placed", "occurred_at": when.isoformat()}
    api.post("/api/v1/events", json=body)
    assert heard(api.cx, "t")[0]["occurred_at"] == when
