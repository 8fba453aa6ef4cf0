"""Triggers, reentry and the decision filter in the journey file: parsed, checked, linted."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import yaml

from candor.journeys import JourneyError, PurposeInfo, check, load_journey, validate
from candor.journeys.definition import build_journey
from candor.journeys.triggers import TRIGGER_KINDS, anniversaries, day_offset, reentry_after

from . import make_registry

HEAD = """
id: welcome
name: Welcome
purpose: newsletter
fields: [first_name]
ends_at: 2027-12-31
steps: [{id: done, type: end}]
"""


def journey(extra: str) -> Any:
    return load_journey(HEAD + extra)


def registry() -> Any:
    reg = make_registry()
    reg.forms = {"signup"}
    reg.events = {"order.placed": {"total": "number", "sku": "string"}}
    reg.purposes["newsletter"] = PurposeInfo(
        "marketing", "dpv:DirectMarketing", double_opt_in=("email",)
    )
    reg.purposes["events"] = PurposeInfo("marketing", consent_valid_for="P2Y")
    return reg


def codes(extra: str) -> set[tuple[str, str, str]]:
    return {(p.path, p.code, p.severity) for p in check(journey(extra), registry())}


@pytest.mark.parametrize(
    "trigger",
    [
        "{on: consent.confirmed, purpose: newsletter}",
        "{on: consent.granted, purpose: soft_optin}",
        "{on: consent.withdrawn, purpose: newsletter}",
        "{on: form.submitted, form: signup}",
        "{on: contact.created}",
        "{on: attribute.changed, field: country}",
        "{on: event, name: order.placed}",
        "{on: date, field: birthday, offset: -P7D, every: P1Y}",
        "{on: consent.expiring, purpose: events, before: P30D}",
    ],
)
def test_every_trigger_kind_loads_and_round_trips(trigger: str) -> None:
    fields = "\nfields: [first_name, birthday]" if "birthday" in trigger else ""
    defn = journey(f"trigger: {trigger}\nreentry: after P300D{fields}")
    again = build_journey(yaml.safe_load(yaml.safe_dump(defn.dump())))
    assert again.trigger == defn.trigger and again.reentry == "after P300D"
    assert defn.trigger is not None and defn.trigger.on in TRIGGER_KINDS
    problems = [p for p in validate(defn, registry()) if p.severity == "error"]
    assert problems == []


def test_a_bad_trigger_names_its_key() -> None:
    with pytest.raises(JourneyError) as caught:
        journey("trigger: {on: birthday}\nreentry: sometimes")
    found = {(p.path, p.message[:40]) for p in caught.value.problems}
    assert ("trigger", "a trigger is a mapping whose `on` is one") in found
    assert any(path == "reentry" for path, _ in found)
    with pytest.raises(JourneyError) as caught:
        journey("trigger: {on: date, fild: birthday, offset: 7 days}")
    paths = {p.path for p in caught.value.problems}
    assert {"trigger.field", "trigger.fild", "trigger.offset"} <= paths


def test_references_are_checked_against_the_registry() -> None:
    assert ("trigger.purpose", "unknown-purpose", "error") in codes(
        "trigger: {on: consent.confirmed, purpose: gossip}"
    )
    assert ("trigger.form", "unknown-form", "error") in codes(
        "trigger: {on: form.submitted, form: nope}"
    )
    assert ("trigger.name", "unknown-event", "error") in codes("trigger: {on: event, name: x}")
    assert ("trigger.field", "unknown-field", "error") in codes(
        "trigger: {on: attribute.changed, field: shoe_size}"
    )


def test_a_date_trigger_reads_a_declared_date_field() -> None:
    found = codes("trigger: {on: date, field: country}")
    assert ("trigger.field", "not-a-date", "error") in found
    assert ("trigger.field", "undeclared-field", "error") in found
    assert codes("trigger: {on: date, field: birthday}\nfields: [birthday]") == set()


def test_an_expiry_trigger_needs_consents_that_lapse_and_a_shorter_before() -> None:
    assert ("trigger.purpose", "never-expires", "error") in codes(
        "trigger: {on: consent.expiring, purpose: newsletter, before: P30D}"
    )
    assert ("trigger.before", "invalid", "error") in codes(
        "trigger: {on: consent.expiring, purpose: events, before: P3Y}"
    )


def test_an_event_journey_may_keep_the_events_properties_but_no_others() -> None:
    ok = "trigger: {on: event, name: order.placed}\nfields: [total]"
    assert codes(ok) == set()
    assert ("fields[0]", "unknown-field", "error") in codes(ok.replace("total", "colour"))


def test_lint_warns_about_grants_that_arrive_confirmed_and_one_time_dates() -> None:
    assert ("trigger.on", "doi-grant", "warning") in codes(
        "trigger: {on: consent.granted, purpose: newsletter}"
    )
    assert ("trigger.every", "once-only", "warning") in codes(
        "trigger: {on: date, field: birthday, every: P1Y}\nfields: [birthday]"
    )
    assert ("reentry", "reentry-without-trigger", "warning") in codes("reentry: after P1D")


def test_the_decision_filter_names_a_known_purpose_reason_and_theme() -> None:
    good = "target: {decision: {purpose: newsletter, reason: reconsent_required, channel: email}}"
    assert codes(good) == set()
    assert ("target.decision.purpose", "unknown-purpose", "error") in codes(
        good.replace("purpose: newsletter", "purpose: gossip")
    )
    assert ("target.all[0].decision.theme", "unknown-theme", "error") in codes(
        "target: {all: [{decision: {purpose: newsletter, reason: allowed, theme: x}}]}"
    )
    with pytest.raises(JourneyError, match=r"unknown reason .maybe.; one of allowed, erased"):
        journey("target: {decision: {purpose: newsletter, reason: maybe}}")


def test_a_decision_filter_belongs_in_targets_not_branches() -> None:
    steps = """
steps:
  - id: route
    type: branch
    cases: [{when: {decision: {purpose: newsletter, reason: allowed}}, next: done}]
    default: done
  - {id: done, type: end}
"""
    defn = load_journey(HEAD.replace("steps: [{id: done, type: end}]", "") + steps)
    assert ("steps[0].cases[0].when", "target-only") in {
        (p.path, p.code) for p in validate(defn, registry())
    }


def test_offsets_are_whole_days_and_reentry_a_duration() -> None:
    assert day_offset("-P7D") == timedelta(days=-7)
    assert day_offset("P2W") == timedelta(days=14)
    with pytest.raises(ValueError):
        day_offset("PT12H")
    assert reentry_after("never") is None and reentry_after(None) is None
    assert reentry_after("after P30D") == timedelta(days=30)


def test_anniversaries_cross_the_year_and_keep_leap_day_birthdays() -> None:
    # a week before 3 January 2027 is 27 December 2026
    assert anniversaries(date(2026, 12, 27), timedelta(days=-7), "P1Y") == ["-01-03"]
    assert anniversaries(date(2026, 12, 27), timedelta(days=-7), None) == ["2027-01-03"]
    assert anniversaries(date(2027, 2, 28), timedelta(0), "P1Y") == ["-02-28", "-02-29"]
    assert anniversaries(date(2028, 2, 28), timedelta(0), "P1Y") == ["-02-28"]
    assert anniversaries(date(2027, 4, 30), timedelta(0), "P1M") == ["-30", "-31"]
    assert anniversaries(date(2027, 2, 28), timedelta(0), "P1M") == ["-28", "-29", "-30", "-31"]
