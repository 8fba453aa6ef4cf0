"""Triggered journeys: each trigger kind lets the right people in once, through the gate."""

from __future__ import annotations

from datetime import timedelta

from candor.core.context import Candor
from candor.journeys.runtime import run_until_idle, stop_journey
from candor.ledger.consents import confirm_doi
from candor.ledger.custom_events import EventIn, record_events
from candor.ledger.rectification import rectify_contact
from candor.ledger.triggers import contacts_created
from candor.rights.erasure import erase_contact
from candor.rights.restriction import object_contact, restrict_contact
from candor.store.journey_tables import journey_contacts, journey_events
from tests.always_on import apply_always_on, queued

from .helpers import add_contact, consent, messages
from .triggered import count, entries, heard, members, triggered


def _confirm(cx: Candor, contact: int, **scope: str) -> None:
    token = consent(cx, contact, "newsletter", channel="email", **scope).confirmation_token
    with cx.engine.begin() as conn:
        confirm_doi(conn, cx.vault, token, {}, actor="test", at=cx.clock.now())


def test_a_triggered_journey_enrols_nobody_at_launch(configured: Candor) -> None:
    add_contact(configured, 1)
    report = triggered(configured, {"on": "consent.confirmed", "purpose": "newsletter"})
    run_until_idle(configured)
    assert report.entered == 0 and members(configured) == {}


def test_consent_confirmed_enters_the_person_once_and_sends(configured: Candor) -> None:
    cx = configured
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    triggered(cx, {"on": "consent.confirmed", "purpose": "newsletter"})
    consent(cx, b, "newsletter", channel="email")  # pending only: no consent yet, no entry
    _confirm(cx, a)
    run_until_idle(cx)
    assert set(members(cx)) == {a}
    assert [m["contact_id"] for m in messages(cx, "welcome")] == [a]
    _confirm(cx, a, theme="offers")  # a second confirmation: already in (done), never again
    run_until_idle(cx)
    assert entries(cx) == {"entered": 1, "no_reentry": 1}
    assert len(messages(cx, "welcome")) == 1


def test_reentry_after_a_duration_lets_people_come_back(configured: Candor) -> None:
    cx = configured
    a = add_contact(cx, 1)
    triggered(
        cx, {"on": "consent.granted", "purpose": "events"}, purpose="events", reentry="after P30D"
    )
    consent(cx, a, "events")
    run_until_idle(cx)
    cx.clock.advance(timedelta(days=10))
    consent(cx, a, "events", theme="events")
    run_until_idle(cx)
    cx.clock.advance(timedelta(days=21))
    consent(cx, a, "events", channel="email")
    run_until_idle(cx)
    assert entries(cx) == {"entered": 2, "no_reentry": 1}
    assert members(cx)[a][1] == cx.clock.now()


def test_a_person_still_in_the_journey_is_not_entered_twice(configured: Candor) -> None:
    cx = configured
    a = add_contact(cx, 1)
    waiting = [
        {"id": "pause", "type": "wait", "duration": "P7D"},
        {"id": "done", "type": "end"},
    ]
    triggered(cx, {"on": "contact.created"}, steps=waiting, reentry="after P1D")
    b = add_contact(cx, 2)
    run_until_idle(cx)
    cx.clock.advance(timedelta(days=2))
    with cx.engine.begin() as conn:  # a second signal while b waits
        contacts_created(conn, [b], cx.clock.now())
    run_until_idle(cx)
    assert set(members(cx)) == {b} and a not in members(cx)
    assert entries(cx) == {"entered": 1, "already_in": 1}


def test_consent_withdrawn_and_attribute_changed(configured: Candor) -> None:
    cx = configured
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    triggered(
        cx, {"on": "consent.withdrawn", "purpose": "events"}, journey_id="bye", purpose="service"
    )
    triggered(cx, {"on": "attribute.changed", "field": "vip"}, journey_id="vip", purpose="service")
    consent(cx, a, "events")
    consent(cx, a, "events", status="withdrawn")
    with cx.engine.begin() as conn:
        rectify_contact(
            conn, cx.vault, b, {"attributes": {"vip": True}}, actor="t", at=cx.clock.now()
        )
        rectify_contact(
            conn, cx.vault, a, {"attributes": {"country": "AT"}}, actor="t", at=cx.clock.now()
        )
    run_until_idle(cx)
    assert set(members(cx, "bye")) == {a}
    assert set(members(cx, "vip")) == {b}


def test_the_gate_and_the_target_decide_who_enters(configured: Candor) -> None:
    cx = configured
    triggered(
        cx,
        {"on": "contact.created"},
        target={"field": "country", "op": "eq", "value": "DE"},
        fields=["first_name", "country"],
    )
    fine = add_contact(cx, 1)
    add_contact(cx, 2, attributes={"country": "FR"})
    objecting = add_contact(cx, 3)
    with cx.engine.begin() as conn:
        object_contact(conn, objecting, actor="t", at=cx.clock.now())
    restricted = add_contact(cx, 4)
    with cx.engine.begin() as conn:
        restrict_contact(conn, restricted, actor="t", at=cx.clock.now())
    gone = add_contact(cx, 5)
    erase_contact(cx, gone, actor="t", reason="asked")  # what it heard goes with the person
    run_until_idle(cx)
    assert set(members(cx)) == {fine}
    assert entries(cx) == {"entered": 1, "not_targeted": 1, "objected": 1, "restricted": 1}
    assert count(cx, journey_events) == 1  # only the entrant's event stays


def test_custom_events_keep_only_declared_fields_and_unheard_ones_are_counted(
    configured: Candor,
) -> None:
    cx = apply_always_on(configured)
    a = add_contact(cx, 1)
    triggered(
        cx,
        {"on": "event", "name": "order.placed"},
        journey_id="thanks",
        purpose="service",
        fields=["first_name", "total"],
    )
    at = cx.clock.now()
    item = EventIn("order.placed", at, contact_id=a, properties={"total": "19.5", "sku": "X1"})
    with cx.engine.begin() as conn:
        done = record_events(conn, cx.vault, [item, item], actor="t", at=at)
    assert (done.received, done.stored, done.unheard) == (2, 2, 0)
    assert [e["properties"] for e in heard(cx, "thanks")] == [{"total": 19.5}] * 2
    run_until_idle(cx)
    assert members(cx, "thanks")[a][2] == {"total": 19.5}
    assert entries(cx, "thanks") == {"entered": 1, "already_in": 1}
    stop_journey(cx, "thanks", actor="t")
    with cx.engine.begin() as conn:
        done = record_events(conn, cx.vault, [item], actor="t", at=at)
    assert (done.stored, done.unheard) == (0, 1)
    assert heard(cx) == []  # archived with the journey; the unheard one never stored


def test_an_erasure_while_waiting_removes_the_person_and_their_events(configured: Candor) -> None:
    cx = apply_always_on(configured)
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    steps = [{"id": "pause", "type": "wait", "duration": "P7D"}, {"id": "done", "type": "end"}]
    triggered(
        cx,
        {"on": "event", "name": "order.placed"},
        purpose="service",
        steps=steps,
        fields=["total"],
    )
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        items = [EventIn("order.placed", at, contact_id=c, properties={"total": 5}) for c in (a, b)]
        record_events(conn, cx.vault, items, actor="t", at=at)
    run_until_idle(cx)
    assert {c: m[0] for c, m in members(cx).items()} == {a: "waiting", b: "waiting"}
    erase_contact(cx, a, actor="t", reason="asked")
    assert set(members(cx)) == {b}
    assert [e["contact_id"] for e in heard(cx)] == [b]
    cx.clock.advance(timedelta(days=8))
    run_until_idle(cx)
    assert members(cx)[b][0] == "done" and count(cx, journey_contacts) == 1
    assert queued(cx) == []
