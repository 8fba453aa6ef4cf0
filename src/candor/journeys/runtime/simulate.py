"""Simulate a journey without writing anything: who would enter, and per gated step how many
would pass or stop, by decide's reason code, and how many caps or quiet hours would defer now.

Each gated step is evaluated over the whole entering group (as if everyone reached it), with
policy.twin.count_by_reason for that step's channel and theme.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, case, func, or_, select

from candor.journeys.definition import JourneyDefinition, Step
from candor.journeys.runtime import caps
from candor.journeys.runtime.enroll import checked, enter_select, entry_decisions
from candor.journeys.runtime.model import NEVER_ENTER
from candor.ledger.registry import purpose_facts
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.twin import count_by_reason, decisions
from candor.store.journey_tables import outbox
from candor.store.tables import contacts, themes

GATED = ("send", "consent", "advertising_block", "opt_in", "inform")


def simulate(conn: Connection, defn: JourneyDefinition, now: datetime) -> dict[str, Any]:
    """The figures of a launch at `now` (read-only; refuses a journey with errors)."""
    problems = checked(conn, defn)
    purpose = purpose_facts(conn, defn.purpose)
    by_reason = count_by_reason(conn, entry_decisions(conn, defn, now))
    entering = enter_select(conn, defn, now)
    groups = {r.id: r.group_id for r in conn.execute(select(themes.c.id, themes.c.group_id))}
    rules = caps.sending_rules(conn)
    steps = [
        _step_figures(conn, step, purpose, groups, entering, now, rules)
        for step in defn.steps
        if step.type in GATED
    ]
    return {
        "journey": defn.id,
        "at": now.isoformat(),
        "enter": {
            "entered": sum(n for r, n in by_reason.items() if r not in NEVER_ENTER),
            "by_reason": by_reason,
        },
        "steps": steps,
        "warnings": [str(p) for p in problems if p.severity == "warning"],
    }


def _step_figures(
    conn: Connection,
    step: Step,
    purpose: PurposeFacts,
    groups: dict[str, str | None],
    entering: Select[Any],
    now: datetime,
    rules: caps.SendingRules,
) -> dict[str, Any]:
    s = step.settings
    channel = getattr(s, "channel", None)
    theme_id = getattr(s, "theme", None)
    theme = ThemeRef(theme_id, groups.get(theme_id)) if theme_id else None
    facts = purpose
    if step.type == "advertising_block":
        facts = replace(purpose, kind="marketing")
    elif step.type == "opt_in":
        facts, theme = replace(purpose, kind="service"), None
    decided = decisions(facts, channel, theme, now, target=entering, dialect=conn.dialect.name)
    by_reason = count_by_reason(conn, decided)
    if step.type == "advertising_block":
        by_reason = _only_blocks(by_reason)
    figures: dict[str, Any] = {
        "step": step.id,
        "type": step.type,
        "channel": channel,
        "theme": theme_id,
        "by_reason": by_reason,
    }
    if step.type == "send" and channel:
        sub = decided.subquery()
        allowed = select(sub.c.contact_id).where(sub.c.reason == "allowed")
        figures["deferred"] = _deferred(
            conn, rules, channel, allowed, now, marketing=purpose.kind == "marketing"
        )
    return figures


def _deferred(
    conn: Connection,
    rules: caps.SendingRules,
    channel: str,
    allowed: Select[Any],
    now: datetime,
    *,
    marketing: bool,
) -> dict[str, int]:
    """How many allowed contacts caps or quiet hours would defer now, by reason code."""
    out = {caps.FREQUENCY: 0, caps.QUIET: 0}
    zones = conn.execute(
        select(contacts.c.timezone, func.count())
        .where(contacts.c.id.in_(allowed))
        .group_by(contacts.c.timezone)
    )
    for name, count in zones:
        tz = caps.zone(name)
        capped = _capped(conn, rules, channel, allowed, name, tz, now) if marketing else 0
        out[caps.FREQUENCY] += capped
        if caps.quiet_until(rules, tz, now) is not None:
            out[caps.QUIET] += count - capped
    return out


def _capped(
    conn: Connection,
    rules: caps.SendingRules,
    channel: str,
    allowed: Select[Any],
    name: str,
    tz: Any,
    now: datetime,
) -> int:
    """Contacts of one time zone over their daily or weekly cap on the channel."""
    per_day, per_week = rules.caps.get(channel, (None, None))
    if per_day is None and per_week is None:
        return 0
    day, week = caps.day_start(tz, now), caps.week_start(tz, now)
    o = outbox
    today = func.sum(case((o.c.created_at >= day, 1), else_=0))
    limits = []
    if per_day is not None:
        limits.append(today >= per_day)
    if per_week is not None:
        limits.append(func.count() >= per_week)
    over = (
        select(o.c.contact_id)
        .join(contacts, contacts.c.id == o.c.contact_id)
        .where(
            o.c.contact_id.in_(allowed),
            contacts.c.timezone == name,
            o.c.channel == channel,
            o.c.kind == "marketing",
            o.c.status != "cancelled",
            o.c.created_at >= min(day, week),
        )
        .group_by(o.c.contact_id)
        .having(or_(*limits))
        .subquery()
    )
    return int(conn.execute(select(func.count()).select_from(over)).scalar_one())


def _only_blocks(by_reason: dict[str, int]) -> dict[str, int]:
    """An advertising_block step stops only blocked contacts; every other reason passes."""
    out = {r: n for r, n in by_reason.items() if r.startswith("blocked:")}
    passed = sum(n for r, n in by_reason.items() if not r.startswith("blocked:"))
    return {"allowed": passed, **out} if passed else out
