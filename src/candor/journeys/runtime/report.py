"""A journey's report: aggregates per step (in flow order) and per day, never per person.

Entered, stopped-by-reason and clicked come from the step counters that outlive the journey
(a click is counted there for everyone, and recorded per person only under a consented
analytics purpose, so clicks have no per-day figure); sent from the outbox; delivered,
bounced and complained from each message's delivery state (channels: DSNs, provider
callbacks, feedback reports); unsubscribed from the withdrawals made through a message's
unsubscribe link.
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
from candor.figures.step_counts import CLICKED, HERE
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
DAY_FIGURES: Final = tuple(f for f in FIGURES if f != "clicked")
# Delivery states (communications.delivery_status) of a message that did not arrive, and an
# outbox error of a message the SMTP relay refused outright at hand-over (5xx).
NOT_ARRIVED: Final = ("bounced", "failed", "undelivered")
REFUSED_PREFIX: Final = "smtp_5"
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
    unsubscribes = _unsubscribe_figures(conn, journey_id)
    types = {s.id: s.type for s in defn.steps}
    steps = []
    for sid in flow_order(defn):
        here, outcomes = counters.get(sid, (0, {}))
        base = step_figures(here, outcomes)
        figures = dict.fromkeys(FIGURES, 0)
        figures["entered"] = base["here"] + base["passed"] + base["stopped_total"]
        figures.update(sends.get(sid, {}))
        figures["clicked"] = outcomes.get(CLICKED, 0)
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
    """Sent from the outbox; delivered, bounced, complained from the message's delivery state
    (a message still `queued` at a provider that reports back is not yet delivered)."""
    o, cm = outbox, communications
    sent = o.c.status == "sent"
    state = cm.c.delivery_status
    missed = or_(state.in_(NOT_ARRIVED), o.c.error.startswith(REFUSED_PREFIX))
    arrived = and_(sent, or_(state.is_(None), state.not_in((*NOT_ARRIVED, "queued"))))

    def tally(condition: Any, name: str) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0).label(name)

    return [
        tally(sent, "sent"),
        tally(arrived, "delivered"),
        tally(missed, "bounced"),
        tally(state == "complained", "complained"),
    ]


def _sends() -> Any:
    """The outbox joined to each message's communication (where one was recorded)."""
    return outbox.outerjoin(communications, communications.c.id == outbox.c.communication_id)


def _send_figures(conn: Connection, journey_id: str) -> dict[str, dict[str, int]]:
    o = outbox
    rows = conn.execute(
        select(o.c.step_id, *_send_columns())
        .select_from(_sends())
        .where(o.c.journey_id == journey_id)
        .group_by(o.c.step_id)
    ).mappings()
    return {r["step_id"]: {k: int(v) for k, v in r.items() if k != "step_id"} for r in rows}


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
    per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(DAY_FIGURES, 0))
    o, jc = outbox, journey_contacts
    when = func.coalesce(o.c.sent_at, o.c.created_at)
    sends = conn.execute(
        select(day_of(when).label("day"), *_send_columns())
        .select_from(_sends())
        .where(o.c.journey_id == journey_id)
        .group_by(day_of(when))
    ).mappings()
    for r in sends:
        per[r["day"]].update({k: int(v) for k, v in r.items() if k != "day"})
    entered = select(day_of(jc.c.entered_at), func.count()).where(jc.c.journey_id == journey_id)
    _add(per, "entered", conn.execute(entered.group_by(day_of(jc.c.entered_at))))
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
        values = [shown(d.figures[f], suppress) if f in d.figures else "" for f in FIGURES]
        writer.writerow(["day", d.day, "", *values, *([""] * len(reasons))])
    return out.getvalue()
