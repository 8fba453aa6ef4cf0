"""The send step: gate per contact at send time, decision records, on_denied, waits, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys.runtime import advance
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, journey_transitions
from candor.store.tables import settings

from .helpers import add_contact, block, consent, messages, positions, run, start, stats

SEND = {
    "id": "invite",
    "type": "send",
    "channel": "email",
    "template": "promo_mail",
    "theme": "events",
    "on_denied": "skipped",
}
FLOW = [
    SEND,
    {"id": "pause", "type": "wait", "duration": "P14D"},
    {"id": "again", "type": "send", "channel": "sms", "template": "promo_sms", "theme": "events"},
    {"id": "done", "type": "end"},
    {"id": "skipped", "type": "end"},
]


def test_send_queues_only_allowed_contacts_with_their_decision(configured: Candor) -> None:
    cx = configured
    yes, no_consent, refused, blocked = (add_contact(cx, n) for n in range(4))
    granted = consent(cx, yes, "events").event["id"]
    consent(cx, refused, "events", status="refused")
    block(cx, blocked, theme="events")
    start(cx, FLOW)
    run(cx)

    sent = messages(cx)
    assert [m["contact_id"] for m in sent] == [yes]
    m = sent[0]
    assert m["idempotency_key"] == f"promo:{yes}:invite"
    assert (m["decision_reason"], m["decision_basis"], m["decision_event_id"]) == (
        "allowed",
        "consent",
        granted,
    )
    assert (m["kind"], m["status"], m["channel"], m["theme"], m["template_id"]) == (
        "marketing",
        "queued",
        "email",
        "events",
        "promo_mail",
    )
    assert m["address_id"] is not None
    assert m["context"] == {"country": "DE", "customer_value": 150.0}
    where = positions(cx)
    assert where[yes] == ("pause", "waiting")
    assert where[no_consent] == where[refused] == where[blocked] == ("skipped", "done")
    figures = stats(cx)
    assert figures[("invite", "passed")] == 1
    assert figures[("invite", "not_asked")] == 1
    assert figures[("invite", "refused")] == 1
    assert figures[("invite", "blocked:theme")] == 1
    assert figures[("skipped", "done")] == 3


def test_withdrawal_committed_before_the_send_is_honoured(configured: Candor) -> None:
    cx = configured
    a, b = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, a, "events")
    consent(cx, b, "events")
    start(cx, FLOW)
    consent(cx, b, "events", status="withdrawn")  # after launch, before the worker runs
    run(cx)
    assert [m["contact_id"] for m in messages(cx)] == [a]
    assert positions(cx)[b] == ("skipped", "done")
    assert stats(cx)[("invite", "withdrawn")] == 1


def test_denied_without_on_denied_skips_the_send(configured: Candor) -> None:
    cx = configured
    a = add_contact(cx, 1)
    steps = [{k: v for k, v in SEND.items() if k != "on_denied"}, *FLOW[1:4]]
    start(cx, steps)
    run(cx)
    assert positions(cx)[a] == ("pause", "waiting")
    assert messages(cx) == []


def test_fourteen_day_wait_with_a_manual_clock(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    a = add_contact(cx, 1, sms=True)
    consent(cx, a, "events")
    start(cx, FLOW)
    run(cx)
    assert positions(cx)[a] == ("pause", "waiting")
    clock.advance(timedelta(days=13, hours=23))
    assert run(cx) == 0
    assert positions(cx)[a] == ("pause", "waiting")
    clock.advance(timedelta(hours=1))
    run(cx)
    assert positions(cx)[a] == ("done", "done")
    assert [(m["step_id"], m["channel"]) for m in messages(cx)] == [
        ("invite", "email"),
        ("again", "sms"),
    ]
    with reading(cx.engine) as conn:
        path = conn.execute(
            select(
                journey_transitions.c.from_step,
                journey_transitions.c.to_step,
                journey_transitions.c.outcome,
            ).order_by(journey_transitions.c.id)
        ).all()
    assert [tuple(p) for p in path] == [
        ("invite", "pause", "passed"),
        ("pause", "again", "passed"),
        ("again", "done", "passed"),
        ("done", None, "done"),
    ]


def _sending(cx: Candor, value: dict) -> None:
    with cx.engine.begin() as conn:
        conn.execute(insert(settings).values(key="sending", value=value))


def test_frequency_cap_defers_and_never_drops(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    a = add_contact(cx, 1, timezone="Europe/Berlin")
    consent(cx, a, "events")
    _sending(cx, {"caps": {"email": {"per_day": 1, "per_week": 5}}})
    steps = [SEND, {**SEND, "id": "second", "on_denied": "skipped"}, *FLOW[3:]]
    start(cx, steps)
    run(cx)
    assert [m["step_id"] for m in messages(cx)] == ["invite"]
    assert positions(cx)[a] == ("second", "active")
    assert stats(cx)[("second", "deferred:frequency_cap")] == 1
    clock.advance(timedelta(hours=12))  # 22:00 Berlin: still the same local day
    assert run(cx) == 0
    clock.advance(timedelta(hours=2, minutes=1))  # past midnight in Berlin
    run(cx)
    assert [m["step_id"] for m in messages(cx)] == ["invite", "second"]
    assert positions(cx)[a] == ("done", "done")


def test_quiet_hours_defer_in_the_contacts_time_zone(
    configured: Candor, clock: ManualClock
) -> None:
    cx = configured
    clock.set(datetime(2026, 3, 2, 21, 30, tzinfo=UTC))
    tokyo, london = (
        add_contact(cx, 1, timezone="Asia/Tokyo"),
        add_contact(cx, 2, timezone="Europe/London"),
    )
    for cid in (tokyo, london):
        consent(cx, cid, "events")
    _sending(cx, {"quiet_hours": {"start": "21:00", "end": "08:00"}})
    start(cx, FLOW)
    run(cx)  # 21:30 in London (quiet), 06:30 in Tokyo (quiet)
    assert messages(cx) == []
    assert stats(cx)[("invite", "deferred:quiet_hours")] == 2
    clock.set(datetime(2026, 3, 2, 23, 0, tzinfo=UTC))  # 08:00 in Tokyo
    run(cx)
    assert [m["contact_id"] for m in messages(cx)] == [tokyo]
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # 08:00 in London
    run(cx)
    assert sorted(m["contact_id"] for m in messages(cx)) == sorted([tokyo, london])


def test_advance_with_nothing_due_does_nothing(configured: Candor) -> None:
    assert advance(configured) == 0


def test_a_contact_back_at_a_send_step_keeps_its_one_message(configured: Candor) -> None:
    """The key (journey, contact, step) exists: the batch still queues the others and moves on.

    On PostgreSQL this is the fallback from the plain INSERT to ON CONFLICT.
    """
    cx = configured
    back, fresh = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, back, "events")
    start(cx, FLOW)
    run(cx)
    consent(cx, fresh, "events")
    jc = journey_contacts
    with cx.engine.begin() as conn:  # both at the send step again, due now
        conn.execute(
            update(jc)
            .where(jc.c.contact_id.in_([back, fresh]))
            .values(step_id="invite", status="active", due_at=cx.clock.now())
        )
    run(cx)
    sent = [(m["contact_id"], m["step_id"]) for m in messages(cx)]
    assert sorted(sent) == [(back, "invite"), (fresh, "invite")]
    assert positions(cx)[back] == positions(cx)[fresh] == ("pause", "waiting")
    assert stats(cx)[("invite", "passed")] == 3
