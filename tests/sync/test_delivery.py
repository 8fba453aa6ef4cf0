"""Delivery to a real HTTP receiver: signatures, order per contact, backoff, dead letters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.rights.certificates import certificate_of
from candor.rights.erasure import erase_contact
from candor.store.engine import reading
from candor.sync.delivery import backoff, deliver_due, replay
from candor.sync.status import sync_status
from tests.journeys.runtime.helpers import add_contact, block, consent

from .conftest import Receiver, connect, deliveries, events, hook


def test_signed_payload_with_one_identifier_and_the_needed_fields(
    configured: Candor, receiver: Receiver
) -> None:
    cx = configured
    connect(cx, [hook("crm", url=receiver.url), hook("shop", url=receiver.url, identifier="email")])
    cid = add_contact(cx, 1)
    consent(cx, cid, "events", "withdrawn", theme="events")
    assert deliver_due(cx) == 2
    bodies = receiver.verified(now=cx.clock.now().timestamp())
    by_kind = {b["subject"]["identifier_type"]: b for b in bodies}
    assert by_kind["external_id"]["subject"]["identifier"] == "c1"
    assert by_kind["email"]["subject"]["identifier"] == "person1@example.com"
    body = by_kind["external_id"]
    assert body["type"] == "consent.changed" and body["source"] == "here"
    assert set(body["data"]) == {"purpose", "theme", "channel", "status", "address", "occurred_at"}
    assert body["id"] == events(cx)[0]["event_id"]
    headers = receiver.received[0].headers
    assert headers["Candor-Connector"] == "here" and headers["Candor-Event-Id"] == body["id"]
    assert all(d["status"] == "delivered" and d["acknowledged_at"] for d in deliveries(cx))
    assert deliver_due(cx) == 0  # nothing twice


def test_a_contacts_events_keep_their_order_through_retries(
    configured: Candor, receiver: Receiver
) -> None:
    cx = configured
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    receiver.answer = lambda n, r: 503 if n == 1 else 200
    connect(cx, [hook("crm", url=receiver.url)], retry_base_seconds=10)
    first, other = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, first, "events", "granted")
    block(cx, first, channel="sms")
    consent(cx, other, "events", "withdrawn")
    assert deliver_due(cx) == 2  # first's consent fails; its block waits; other goes
    assert [r.json["subject"]["identifier"] for r in receiver.received] == ["c1", "c2"]
    clock.advance(timedelta(seconds=9))
    assert deliver_due(cx) == 0  # backoff not over
    clock.advance(timedelta(seconds=1))
    assert deliver_due(cx) == 2
    sent = [(r.json["subject"]["identifier"], r.json["type"]) for r in receiver.received]
    assert sent[2:] == [("c1", "consent.changed"), ("c1", "block.set")]


def test_permanent_refusal_and_exhausted_retries_dead_letter_then_replay(
    configured: Candor, receiver: Receiver
) -> None:
    cx = configured
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    codes = {"c1": [400], "c2": [500, 500, 500]}
    receiver.answer = lambda n, r: (
        codes[r.json["subject"]["identifier"]].pop(0)
        if codes[r.json["subject"]["identifier"]]
        else 200
    )
    connect(cx, [hook("crm", url=receiver.url, max_attempts=3, retry_base_seconds=1)])
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, a, "events", "withdrawn")
    consent(cx, b, "events", "withdrawn")
    deliver_due(cx)
    for step in (1, 2):
        clock.advance(timedelta(seconds=step))
        deliver_due(cx)
    with reading(cx.engine) as conn:
        status = sync_status(conn)
    assert status["connectors"] == [{"connector": "crm", "pending": 0, "delivered": 0, "dead": 2}]
    letters = {d["contact"]: d for d in status["dead_letters"]}
    assert letters[a]["attempts"] == 1 and letters[a]["last_status"] == 400
    assert letters[b]["attempts"] == 3 and letters[b]["last_status"] == 500
    assert replay(cx, letters[b]["event_id"], actor="test") == 1
    assert deliver_due(cx) == 1
    with pytest.raises(NotFound):
        replay(cx, letters[b]["event_id"], actor="test")  # no dead letter left
    assert backoff(4, 0.5, 60) == timedelta(seconds=4)
    assert backoff(20, 0.5, 60) == timedelta(seconds=60)


def test_unreachable_connector_retries_and_an_acknowledged_erasure_is_shredded(
    configured: Candor, receiver: Receiver
) -> None:
    cx = configured
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    connect(cx, [hook("crm", url="http://127.0.0.1:9/down", retry_base_seconds=1)])
    cid = add_contact(cx, 5)
    erase_contact(cx, cid, actor="dpo", reason="asked")
    deliver_due(cx)
    assert deliveries(cx)[0]["attempts"] == 1 and deliveries(cx)[0]["status"] == "pending"
    connect(cx, [hook("crm", url=receiver.url)])
    clock.advance(timedelta(seconds=5))
    assert deliver_due(cx) == 1
    body = receiver.verified(now=clock.now().timestamp())[0]
    assert body["type"] == "contact.erased" and body["data"] == {}
    assert body["subject"] == {"identifier_type": "external_id", "identifier": "c5"}
    erased = events(cx)[0]
    assert (
        erased["sealed"] is None and cx.vault.decrypt(erased["key_id"], "sync", b"x" * 40) is None
    )
    with reading(cx.engine) as conn:
        (ack,) = certificate_of(conn, cid)["connectors"]
    assert ack["connector"] == "crm" and ack["status"] == "delivered" and ack["acknowledged_at"]


def test_retries_wait_twice_as_long_each_time_until_the_ceiling(
    configured: Candor, receiver: Receiver
) -> None:
    cx = configured
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    receiver.answer = lambda n, r: 500
    connect(cx, [hook("crm", url=receiver.url, retry_base_seconds=1)], retry_max_seconds=6)
    consent(cx, add_contact(cx, 1), "events", "withdrawn")
    waits = []
    for _ in range(5):
        assert deliver_due(cx) == 1
        (d,) = deliveries(cx)
        wait = d["next_attempt_at"] - d["last_attempt_at"]
        waits.append(wait.total_seconds())
        clock.advance(wait - timedelta(seconds=0.5))
        assert deliver_due(cx) == 0  # not before its time
        clock.advance(timedelta(seconds=0.5))
    assert waits == [1, 2, 4, 6, 6]
    assert len(receiver.received) == 5
