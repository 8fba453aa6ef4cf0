"""Checks of a journey's trigger, reentry and decision filters against the registry.

Errors: a trigger naming an unknown purpose, form, attribute or event; a date trigger on a
field that is no date or not declared in `fields` (the journey reads it); a consent-expiry
trigger on a purpose whose consents never lapse. Warnings (lint): a grant trigger on a
purpose that needs double opt-in, a recurring date without reentry, reentry without trigger.
"""

from __future__ import annotations

from datetime import datetime

from candor.journeys.definition import DecisionTest, JourneyDefinition, Problem, Severity
from candor.journeys.reference import Registry
from candor.journeys.step_types import parse_duration
from candor.journeys.triggers import (
    AttributeTrigger,
    ConsentTrigger,
    DateTrigger,
    EventTrigger,
    ExpiryTrigger,
    FormTrigger,
)


def event_fields(defn: JourneyDefinition, reg: Registry) -> frozenset[str]:
    """The properties of the event that triggers the journey (its `fields` may name them)."""
    trigger = defn.trigger
    if isinstance(trigger, EventTrigger):
        return frozenset(reg.events.get(trigger.name, {}))
    return frozenset()


def decision_problems(path: str, query: DecisionTest, reg: Registry) -> list[Problem]:
    """The gate's question must name a known purpose and theme."""
    problems = []
    if query.purpose not in reg.purposes:
        msg = f"unknown purpose {query.purpose!r}"
        problems.append(Problem(f"{path}.purpose", None, msg, code="unknown-purpose"))
    theme = query.theme
    if theme and theme not in reg.themes and theme not in reg.theme_groups:
        msg = f"unknown theme {theme!r}"
        problems.append(Problem(f"{path}.theme", None, msg, code="unknown-theme"))
    return problems


def trigger_problems(defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    """Errors of the trigger's references (none without a trigger)."""
    t = defn.trigger
    if t is None:
        return []
    if isinstance(t, ConsentTrigger | ExpiryTrigger) and t.purpose not in reg.purposes:
        return [_problem("purpose", f"unknown purpose {t.purpose!r}", "unknown-purpose")]
    if isinstance(t, FormTrigger) and t.form not in reg.forms:
        return [_problem("form", f"unknown form {t.form!r}", "unknown-form")]
    if isinstance(t, EventTrigger) and t.name not in reg.events:
        msg = f"unknown event {t.name!r}: declare it in candor.yaml under events"
        return [_problem("name", msg, "unknown-event")]
    if isinstance(t, AttributeTrigger | DateTrigger) and t.field not in reg.attributes:
        return [_problem("field", f"field {t.field!r} does not exist", "unknown-field")]
    if isinstance(t, DateTrigger):
        return _date_problems(t, defn, reg)
    if isinstance(t, ExpiryTrigger):
        return _expiry_problems(t, reg)
    return []


def _problem(key: str, message: str, code: str, severity: Severity = "error") -> Problem:
    return Problem(f"trigger.{key}", None, message, severity, code)


def _date_problems(t: DateTrigger, defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    problems = []
    if reg.attributes[t.field] != "date":
        msg = f"field {t.field!r} is a {reg.attributes[t.field]}, not a date"
        problems.append(_problem("field", msg, "not-a-date"))
    if t.field not in defn.fields:
        msg = f"field {t.field!r} is read to find the date but not declared in fields"
        problems.append(_problem("field", msg, "undeclared-field"))
    return problems


def _expiry_problems(t: ExpiryTrigger, reg: Registry) -> list[Problem]:
    valid_for = reg.purposes[t.purpose].consent_valid_for
    if valid_for is None:
        msg = f"consents to {t.purpose!r} never lapse: declare consent_valid_for on the purpose"
        return [_problem("purpose", msg, "never-expires")]
    probe = datetime(2000, 1, 1)
    if probe + parse_duration(t.before) >= probe + parse_duration(valid_for):
        msg = f"before ({t.before}) must be shorter than the consent's validity ({valid_for})"
        return [_problem("before", msg, "invalid")]
    return []


def trigger_warnings(defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    """Advice about the trigger and reentry (lint)."""
    t, problems = defn.trigger, []
    if t is None:
        if defn.reentry is not None:
            msg = "reentry only matters for a journey with a trigger"
            problems.append(Problem("reentry", None, msg, "warning", "reentry-without-trigger"))
        return problems
    if isinstance(t, ConsentTrigger) and t.on == "consent.granted":
        purpose = reg.purposes.get(t.purpose)
        if purpose is not None and purpose.double_opt_in:
            msg = (
                f"{t.purpose!r} asks double opt-in on {', '.join(purpose.double_opt_in)}: "
                "grants there arrive as consent.confirmed"
            )
            problems.append(_problem("on", msg, "doi-grant", "warning"))
    if isinstance(t, DateTrigger) and t.every and (defn.reentry or "never") == "never":
        msg = f"every {t.every} without reentry: each person enters at their first date only"
        problems.append(_problem("every", msg, "once-only", "warning"))
    return problems


def agreed_on_entry(defn: JourneyDefinition) -> bool:
    """Whether everyone enters because they agreed to the journey's purpose (a trigger on a
    grant, a confirmation or a consent about to lapse)."""
    t = defn.trigger
    agreeing = isinstance(t, ExpiryTrigger) or (
        isinstance(t, ConsentTrigger) and t.on != "consent.withdrawn"
    )
    return agreeing and getattr(t, "purpose", None) == defn.purpose
