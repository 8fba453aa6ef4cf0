"""Triggers the clock drives: dates in a profile field and consents about to lapse."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from candor.core.context import Candor
from candor.journeys.runtime import run_until_idle
from candor.ledger.consents import confirm_doi
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.store.engine import reading
from tests.always_on import apply_always_on, queued

from .helpers import add_contact, consent
from .triggered import entries, members, triggered

BIRTHDAY = {"on": "date", "field": "birthday", "offset": "-P7D", "every": "P1Y"}


def _days(cx: Candor, until: date) -> dict[int, list[date]]:
    """Run the worker once (twice, to prove a second look adds nothing) each day until
    `until`; returns, per person, the days they entered."""
    seen: dict[int, list[date]] = {}
    while cx.clock.now().date() <= until:
        run_until_idle(cx)
        run_until_idle(cx)
        for contact, (_, entered_at, _) in members(cx, "birthday").items():
            days = seen.setdefault(contact, [])
            if entered_at.date() not in days:
                days.append(entered_at.date())
        cx.clock.advance(timedelta(days=1))
    return seen


def test_a_week_before_the_birthday_across_the_year_boundary(configured: Candor) -> None:
    cx = apply_always_on(configured)
    cx.clock.set(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    january = add_contact(cx, 1, attributes={"birthday": "1990-01-03"})
    december = add_contact(cx, 2, attributes={"birthday": "1985-12-30"})
    leap = add_contact(cx, 3, attributes={"birthday": "2000-02-29"})
    add_contact(cx, 4)  # no birthday: never
    triggered(
        cx,
        BIRTHDAY,
        journey_id="birthday",
        purpose="soft_optin",
        fields=["first_name", "birthday"],
        reentry="after P300D",
    )
    seen = _days(cx, date(2027, 3, 1))
    assert seen == {
        december: [date(2026, 12, 23)],
        january: [date(2026, 12, 27)],
        leap: [date(2027, 2, 21)],  # 28 February in a common year, less a week
    }
    assert entries(cx, "birthday") == {"entered": 3}
    cx.clock.set(datetime(2027, 12, 26, 9, 0, tzinfo=UTC))
    _days(cx, date(2027, 12, 28))
    assert members(cx, "birthday")[january][1].date() == date(2027, 12, 27)  # the next year
    # the look on the 26th also catches up 23 December, missed while the worker was idle
    assert members(cx, "birthday")[december][1].date() == date(2027, 12, 26)
    assert entries(cx, "birthday") == {"entered": 5}
    assert sum(1 for row in queued(cx) if row["journey_id"] == "birthday") == 5


def test_without_reentry_a_yearly_date_enters_people_once(configured: Candor) -> None:
    cx = apply_always_on(configured)
    cx.clock.set(datetime(2026, 12, 30, 9, 0, tzinfo=UTC))
    person = add_contact(cx, 1, attributes={"birthday": "1990-01-03"})
    trigger = {"on": "date", "field": "birthday", "every": "P1Y"}
    triggered(
        cx, trigger, journey_id="birthday", purpose="soft_optin", fields=["first_name", "birthday"]
    )
    _days(cx, date(2027, 1, 4))
    cx.clock.set(datetime(2028, 1, 2, 9, 0, tzinfo=UTC))
    _days(cx, date(2028, 1, 4))
    assert entries(cx, "birthday") == {"entered": 1, "no_reentry": 1}
    assert set(members(cx, "birthday")) == {person}


RENEW = [
    {
        "id": "ask",
        "type": "opt_in",
        "channel": "email",
        "template": "renew",
        "timeout": "P21D",
        "renew": True,
        "on_timeout": "lapsed",
    },
    {"id": "thanks", "type": "end"},
    {"id": "lapsed", "type": "end"},
]
RENEW_MAIL = {"email": {"subject": "Still interested?", "text": "Renew: {{ confirm_url }}"}}


def test_consent_expiry_asks_again_and_a_confirmation_renews(configured: Candor) -> None:
    cx = configured
    granted_at = cx.clock.now()
    person, later = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, person, "events")  # events consents are valid for P2Y
    cx.clock.advance(timedelta(days=200))
    consent(cx, later, "events")
    triggered(
        cx,
        {"on": "consent.expiring", "purpose": "events", "before": "P30D"},
        journey_id="renew",
        purpose="events",
        templates={"renew": RENEW_MAIL},
        steps=RENEW,
    )
    cx.clock.set(granted_at + timedelta(days=2 * 365 - 32))
    run_until_idle(cx)
    assert members(cx, "renew") == {}  # not within 30 days of lapsing yet
    cx.clock.set(granted_at + timedelta(days=2 * 365 - 29))
    run_until_idle(cx)
    assert set(members(cx, "renew")) == {person}
    (ask,) = [row for row in queued(cx) if row["journey_id"] == "renew"]
    assert ask["kind"] == "confirmation" and _decide(cx, person).allowed  # still in force
    cx.clock.advance(timedelta(hours=3))  # the person reads the message and confirms
    with cx.engine.begin() as conn:
        confirm_doi(
            conn, cx.vault, ask["context"]["doi_token"], {}, actor="subject", at=cx.clock.now()
        )
    run_until_idle(cx)
    assert members(cx, "renew")[person][0] == "done"
    cx.clock.set(granted_at + timedelta(days=2 * 365 + 40))  # the first consent has lapsed
    assert _decide(cx, person).allowed  # ... but the confirmation renewed it
    run_until_idle(cx)
    assert set(members(cx, "renew")) == {person}  # `later` is not due before day 900
    assert entries(cx, "renew") == {"entered": 1}


def _decide(cx: Candor, contact: int) -> object:
    with reading(cx.engine) as conn:
        facts = purpose_facts(conn, "events")
        return decide_for(conn, contact, facts, None, None, None, cx.clock.now())
