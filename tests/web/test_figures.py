"""Mission Control figures: sends per minute, read incrementally from outgoing messages."""

from __future__ import annotations

from datetime import timedelta

from candor.clock import ManualClock
from candor.ledger.communications import record_communication
from candor.store.engine import reading
from candor.web.figures import SendTally

from .conftest import Api


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
