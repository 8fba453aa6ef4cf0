"""Mission Control figures: sends per minute, read incrementally from outgoing messages."""

from __future__ import annotations

from datetime import timedelta

from pytest import MonkeyPatch

from candor.core.clock import ManualClock
from candor.figures import consent_tallies as tallies
from candor.figures import mission_control as figures_module
from candor.figures.mission_control import SendTally
from candor.ledger.communications import record_communication
from candor.rights.erasure import erase_contact
from candor.store.engine import reading
from candor.web.deps import figures_cache
from tests.web.conftest import Api


def _message(api: Api, contact: int, direction: str = "out") -> None:
    cx = api.cx
    with cx.engine.begin() as conn:
        record_communication(
            conn,
            cx.vault,
            contact,
            channel="email",
            direction=direction,
            actor="test",
            at=cx.clock.now(),
        )


def test_sends_per_minute_count_outgoing_messages_by_minute(api: Api) -> None:
    clock = api.cx.clock
    assert isinstance(clock, ManualClock)
    contact = int(api.create_contact()["id"])
    tally = SendTally(window_minutes=10)
    _message(api, contact)
    _message(api, contact)
    _message(api, contact, direction="in")  # an inbound reply is not a send
    with reading(api.cx.engine) as conn:
        now = tally.figures(conn, clock.now())
    assert (now["last_minute"], now["window_total"]) == (2, 2)
    assert len(now["per_minute"]) == 10
    clock.advance(timedelta(minutes=1))
    _message(api, contact)
    with reading(api.cx.engine) as conn:
        later = tally.figures(conn, clock.now())
    assert [m["count"] for m in later["per_minute"][-2:]] == [2, 1]
    assert later["window_total"] == 3
    clock.advance(timedelta(minutes=10))  # the earlier minutes leave the window
    with reading(api.cx.engine) as conn:
        gone = tally.figures(conn, clock.now())
    assert (gone["last_minute"], gone["window_total"]) == (0, 0)


def test_the_json_carries_every_figure_the_page_shows(api: Api) -> None:
    figures = api.get("/api/v1/mission-control", role="auditor").json()
    assert set(figures) >= {"generated_at", "journeys", "purposes", "blocks", "sends", "requests"}
    assert set(figures["blocks"]) == {"all", "channel", "address", "theme"}
    assert set(figures["requests"]) == {"by_status", "overdue", "open"}
    for purpose in figures["purposes"]:
        assert set(purpose) >= {"not_asked", "pending_doi", "reconsent", "expiring"}
    assert {"per_minute", "last_minute", "window_total"} <= set(figures["sends"])


def _purposes(api: Api) -> dict[str, dict[str, object]]:
    cache = figures_cache(api.client.app.state)  # type: ignore[attr-defined]
    cache.stamp = cache.cost = 0.0  # the next GET recomputes (the snapshot is shared)
    figures = api.get("/api/v1/mission-control", role="auditor").json()
    return {p["id"]: p for p in figures["purposes"]}


def _consent(api: Api, contact: int, **body: object) -> dict[str, object]:
    payload = {"source": "api", "status": "granted", **body}
    response = api.post(f"/api/v1/contacts/{contact}/consents", json=payload)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


def test_consent_figures_follow_writes_through_the_api(api: Api) -> None:
    cx = api.cx
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    people = [
        int(api.create_contact({"first_name": f"P{i}", "addresses": []})["id"]) for i in range(4)
    ]
    start = _purposes(api)
    assert start["newsletter"]["not_asked"] == 4
    assert start["events"]["expiring"] == 0
    pending = _consent(api, people[0], purpose="newsletter", channel="email")
    _consent(api, people[0], purpose="newsletter", channel="sms")  # a second row, one contact
    old = clock.now() - timedelta(days=710)
    _consent(api, people[1], purpose="events", occurred_at=old.isoformat())
    _consent(api, people[2], purpose="events")
    now = _purposes(api)
    assert (now["newsletter"]["not_asked"], now["newsletter"]["pending_doi"]) == (3, 1)
    assert (now["events"]["not_asked"], now["events"]["expiring"]) == (2, 1)
    confirmed = api.post("/api/v1/consents/confirm", json={"token": pending["confirmation_token"]})
    assert confirmed.status_code == 200, confirmed.text
    erase_contact(cx, people[1], actor="test", reason="test")
    after = _purposes(api)
    assert (after["newsletter"]["not_asked"], after["newsletter"]["pending_doi"]) == (2, 0)
    assert (after["events"]["not_asked"], after["events"]["expiring"]) == (2, 0)
    clock.advance(timedelta(days=2 * 365 - 20))  # people[2]'s consent now lapses within 30 days
    assert _purposes(api)["events"]["expiring"] == 1


def test_a_refresh_folds_piled_up_tally_deltas(api: Api, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(figures_module, "FOLD_ROWS", 2)
    for i in range(3):
        api.create_contact({"first_name": f"F{i}", "addresses": []})  # three +1 deltas
    before = _purposes(api)
    with reading(api.cx.engine) as conn:
        sums, rows = tallies.sums(conn)
    assert rows == len(sums) == 1  # folded into one row: 3 live contacts
    assert sums[tallies.LIVE] == 3
    assert _purposes(api) == before
