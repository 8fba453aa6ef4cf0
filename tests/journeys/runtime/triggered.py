"""Helpers of the triggered-journey tests: a journey that sends once when its trigger fires."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import func, select

from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import LaunchReport, launch
from candor.journeys.runtime.enroll import ENTER_STEP
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, journey_events

from .helpers import UNSUB, stats

HELLO = {"email": {"subject": "Hello {{ first_name }}", "text": f"Welcome! {UNSUB}"}}


def triggered(
    cx: Candor,
    trigger: dict[str, Any],
    *,
    journey_id: str = "welcome",
    purpose: str = "newsletter",
    steps: list[dict[str, Any]] | None = None,
    **head: Any,
) -> LaunchReport:
    """Launch a journey entered by `trigger` (default steps: send hello on e-mail, end)."""
    data: dict[str, Any] = {
        "id": journey_id,
        "name": "Triggered",
        "purpose": purpose,
        "trigger": trigger,
        "fields": ["first_name"],
        "ends_at": "2029-12-31T00:00:00Z",
        "templates": {"hello": HELLO},
        "steps": steps
        or [
            {"id": "hello", "type": "send", "channel": "email", "template": "hello"},
            {"id": "done", "type": "end"},
        ],
        **head,
    }
    return launch(cx, load_journey(yaml.safe_dump(data, sort_keys=False)), actor="test")


def entries(cx: Candor, journey: str = "welcome") -> dict[str, int]:
    """How the journey's entry went, by outcome (entered, already_in, a reason code, ...)."""
    return {o: n for (step, o), n in stats(cx, journey).items() if step == ENTER_STEP}


def members(cx: Candor, journey: str = "welcome") -> dict[int, Any]:
    """contact -> (status, entered_at, data) of everyone in the journey."""
    jc = journey_contacts
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(jc.c.contact_id, jc.c.status, jc.c.entered_at, jc.c.data).where(
                jc.c.journey_id == journey
            )
        )
        return {r.contact_id: (r.status, r.entered_at, r.data) for r in rows}


def heard(cx: Candor, journey: str | None = None) -> list[dict[str, Any]]:
    """The journey_events rows (of one journey), oldest first."""
    query = select(journey_events).order_by(journey_events.c.id)
    if journey is not None:
        query = query.where(journey_events.c.journey_id == journey)
    with reading(cx.engine) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def count(cx: Candor, table: Any) -> int:
    with reading(cx.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
