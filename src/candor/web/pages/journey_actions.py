"""Simulate and launch from the journey page, through the journey runtime's own verbs."""

from __future__ import annotations

from typing import Any

from candor.core.context import Candor
from candor.journeys.definition import JourneyError, build_journey
from candor.ledger import audit
from candor.policy.twin import count_by_reason
from candor.store.engine import reading


class ActionRefused(Exception):
    """The runtime refused (validation or lint errors, a journey no longer a draft)."""


def simulate(cx: Candor, journey_id: str) -> dict[str, Any]:
    """Who would enter now and, for the others, the gate's reasons (nothing is changed)."""
    from candor.journeys.runtime.enroll import entry_decisions
    from candor.journeys.runtime.model import NEVER_ENTER, journey_row

    now = cx.clock.now()
    with reading(cx.engine) as conn:
        row = journey_row(conn, journey_id)
        try:
            defn = build_journey(row["definition"])
        except JourneyError as exc:
            raise ActionRefused(str(exc)) from None
        by_reason = count_by_reason(conn, entry_decisions(conn, defn, now))
    entering = sum(n for reason, n in by_reason.items() if reason not in NEVER_ENTER)
    with cx.engine.begin() as conn:
        audit.record(
            conn,
            actor="pages",
            action="journey.simulate",
            object_type="journey",
            object_id=journey_id,
            at=now,
            entering=entering,
        )
    return {
        "action": "simulate",
        "entering": entering,
        "by_reason": dict(sorted(by_reason.items())),
    }


def launch(cx: Candor, journey_id: str, *, actor: str) -> dict[str, Any]:
    """Launch a stored draft (the runtime checks, stores as running and enrolls)."""
    from candor.journeys.runtime import enroll

    try:
        report = enroll.launch(cx, journey_id=journey_id, actor=actor)
    except enroll.JourneyRefused as exc:
        raise ActionRefused("; ".join(str(p) for p in exc.problems)) from None
    return {
        "action": "launch",
        "entering": report.entered,
        "by_reason": dict(sorted(report.by_reason.items())),
        "warnings": [str(w) for w in report.warnings],
    }
