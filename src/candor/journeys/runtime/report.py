"""A journey's report: aggregates per step (in flow order) and per day, never per person.

Entered and stopped-by-reason come from the step counters that outlive the journey; sent,
delivered, bounced and complained from the outbox; clicked from the inbound click records;
unsubscribed from the withdrawals made through a message's unsubscribe link.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, and_, case, func, or_, select

from candor.figures.mission_control import step_figures
from candor.figures.step_counts import HERE
from candor.journeys.definition import build_journey
from candor.journeys.runtime.model import ENTER_STEP, NEVER_ENTER, journey_row
from candor.journeys.validate import flow_order
from candor.store.journey_tables import journey_contacts, journey_step_stats, outbox
from candor.store.sql import day_of
from candor.store.tables import communications, consent_events

FIGURES: Final = (
    "entered",
    "sent",
    "delivered",
    "bounced",
    "clicked",
    "unsubscribed",
    "complained",
)
# Outbox error codes that mean the address refused the message for good (a bounce): an
# SMTP 5xx at hand-over, or a provider's receipt saying undeliverable.
BOUNCE_ERRORS: Final = ("receipt_undeliverable",)
BOUNCE_PREFIXES: Final = ("smtp_5",)
# Outbox error codes recording a complaint (a feedback-loop report) against the message.
COMPLAINT_ERRORS: Final = ("complaint",)
SMALL_CELL: Final = 5


@dataclass(frozen=True)
class StepReport:
    """One step's figures (FIGURES) and the contacts it stopped, per gate reason."""

    step: str
    type: str
    figures: dict[str, int]
    stopped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DayReport:
    """One UTC day's figures (FIGURES)."""

    day: str
    figures: dict[str, int]


@dataclass(frozen=True)
class JourneyReport:
    """The whole report: who entered (and why the others did not), per step, per day."""

    journey_id: str
    name: str
    state: str
    entered: int
    not_entered: dict[str, int]
    steps: list[StepReport]
    days: list[DayReport]


def journey_report(conn: Connection, journey_id: str) -> JourneyReport:
    """Read every figure of the journey's report (NotFound for an unknown journey)."""
    row = journey_row(conn, journey_id)
    defn = build_journey(row["definition"])
    counters = _counters(conn, journey_id)
    sends = _send_figures(conn, journey_id)
    clicks = _click_figures(conn, journey_id)
    unsubscribes = _unsubscribe_figures(conn, journey_id)
    types = {s.id: s.type for s in defn.steps}
    steps = []
    for sid in flow_order(defn):
        here, outcomes = counters.get(sid, (0, {}))
        base = step_figures(here, outcomes)
        figures = dict.fromkeys(FIGURES, 0)
        figures["entered"] = base["here"] + base["passed"] + base["stopped_total"]
        figures.update(sends.get(sid, {}))
        figures["clicked"] = clicks.get(sid, 0)
        figures["unsubscribed"] = unsubscribes.get(sid, 0)
        steps.append(StepReport(sid, types[sid], figures, base["stopped"]))
    _, entry = counters.get(ENTER_STEP, (0, {}))
    not_entered = {r: n for r, n in sorted(entry.items()) if r in NEVER_ENTER and n}
    return JourneyReport(
        journey_id,
        row["name"],
        row["state"],
        int(row["entered"] or 0),
        not_entered,
        steps,
        _days(conn, journey_id),
    )


def _counters(conn: Connection, journey_id: str) -> dict[str, tuple[int, dict[str, int]]]:
    st = journey_step_stats
    out: dict[str, tuple[int, dict[str, int]]] = {}
    rows = conn.execute(
        select(st.c.step_id, st.c.outcome, st.c.count).where(st.c.journey_id == journey_id)
    )
    for step_id, outcome, count in rows:
        here, outcomes = out.get(step_id, (0, {}))
        if outcome == HERE:
            here = int(count)
        else:
            outcomes[outcome] = int(count)
        out[step_id] = (here, outcomes)
    return out


def _send_columns() -> list[Any]:
    o = outbox
    bounced = or_(o.c.error.in_(BOUNCE_ERRORS), *[o.c.error.startswith(p) for p in BOUNCE_PREFIXES])
    sent = o.c.status == "sent"

    def tally(condition: Any, name: str) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)

    return [
        tally(sent, "sent"),
        tally(and_(sent, o.c.error.is_(None)), "delivered"),
        tally(bounced, "bounced"),
        tally(o.c.error.in_(COMPLAINT_ERRORS), "complained"),
    ]


def _send_figures(conn: Connection, journey_id: str) -> dict[str, dict[str, int]]:
    o = outbox
    rows = conn.execute(
        select(o.c.step_id, *_send_columns())
        .where(o.c.journey_id == journey_id)
        .group_by(o.c.step_id)
    ).mappings()
    return {r["step_id"]: {k: int(v) for k, v in r.items() if k != "step_id"} for r in rows}


def _click_marker(journey_id: str) -> Any:
    cm = communications
    return and_(cm.c.direction == "in", cm.c.content_ref.startswith(f"click:{journey_id}:"))


def _click_figures(conn: Connection, journey_id: str) -> dict[str, int]:
    """Contacts who clicked a step's link (each counted once per step)."""
    cm = communications
    rows = conn.execute(
        select(cm.c.content_ref, func.count(func.distinct(cm.c.contact_id)))
        .where(_click_marker(journey_id))
        .group_by(cm.c.content_ref)
    )
    prefix = f"click:{journey_id}:"
    return {ref.removeprefix(prefix): int(n) for ref, n in rows}


def _unsubscribes() -> Any:
    ce, o = consent_events, outbox
    return (
        select(ce.c.contact_id, ce.c.occurred_at, o.c.step_id)
        .join(o, o.c.communication_id == ce.c.communication_id)
        .where(ce.c.source == "unsubscribe", ce.c.status == "withdrawn")
    )


def _unsubscribe_figures(conn: Connection, journey_id: str) -> dict[str, int]:
    """Contacts who withdrew through the unsubscribe link of a step's message."""
    found = _unsubscribes().where(outbox.c.journey_id == journey_id).subquery()
    rows = conn.execute(
        select(found.c.step_id, func.count(func.distinct(found.c.contact_id))).group_by(
            found.c.step_id
        )
    )
    return {step: int(n) for step, n in rows}


def _days(conn: Connection, journey_id: str) -> list[DayReport]:
    """Every figure per UTC day on which something happened."""
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FIGURES, 0))
    o, cm, jc = outbox, communications, journey_contacts
    when = func.coalesce(o.c.sent_at, o.c.created_at)
    sends = conn.execute(
        select(day_of(when).label("day"), *_send_columns())
        .where(o.c.journey_id == journey_id)
        .group_by(day_of(when))
    ).mappings()
    for r in sends:
        per[r["day"]].update({k: int(v) for k, v in r.items() if k != "day"})
    entered = select(day_of(jc.c.entered_at), func.count()).where(jc.c.journey_id == journey_id)
    _add(per, "entered", conn.execute(entered.group_by(day_of(jc.c.entered_at))))
    clicks = select(day_of(cm.c.occurred_at), func.count(func.distinct(cm.c.contact_id)))
    clicks = clicks.where(_click_marker(journey_id)).group_by(day_of(cm.c.occurred_at))
    _add(per, "clicked", conn.execute(clicks))
    found = _unsubscribes().where(outbox.c.journey_id == journey_id).subquery()
    unsubscribed = select(day_of(found.c.occurred_at), func.count()).group_by(
        day_of(found.c.occurred_at)
    )
    _add(per, "unsubscribed", conn.execute(unsubscribed))
    return [DayReport(day, per[day]) for day in sorted(per)]


def _add(per: dict[str, dict[str, int]], name: str, rows: Iterable[Any]) -> None:
    for day, n in rows:
        per[day][name] += int(n)


# --- presentation ------------------------------------------------------------------------


def shown(value: int, suppress: bool) -> str:
    """A figure as a role may see it: 1 to 4 become "<5" when `suppress` (small cells)."""
    return "<5" if suppress and 0 < value < SMALL_CELL else str(value)


def people_in(conn: Connection, journey_id: str) -> int:
    """How many contacts are in the journey now (a stop would take them out)."""
    jc = journey_contacts
    return int(
        conn.execute(
            select(func.count()).where(
                jc.c.journey_id == journey_id, jc.c.status.in_(("active", "waiting"))
            )
        ).scalar_one()
    )


def report_csv(report: JourneyReport, suppress: bool) -> str:
    """The report's figures as CSV: one row per step (flow order), then one per day."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    reasons = sorted({r for s in report.steps for r in s.stopped})
    writer.writerow(["section", "step", "type", *FIGURES, *(f"stopped:{r}" for r in reasons)])
    for s in report.steps:
        values = [shown(s.figures[f], suppress) for f in FIGURES]
        stops = [shown(s.stopped.get(r, 0), suppress) for r in reasons]
        writer.writerow(["step", s.step, s.type, *values, *stops])
    for d in report.days:
        values = [shown(d.figures[f], suppress) for f in FIGURES]
        writer.writerow(["day", d.day, "", *values, *([""] * len(reasons))])
    return out.getvalue()
