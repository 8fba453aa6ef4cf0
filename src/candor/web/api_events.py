"""Custom events: one (`POST /events`) or many (`POST /events/batch`), for triggered journeys.

Each event names its contact (Candor's id, or `{"external_id": ...}`), its declared name,
its declared properties and when it happened. A batch is all or nothing: an undeclared
event or property, a wrong type or an unknown contact refuses it whole, naming the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, Field

from candor.core.errors import InvalidInput
from candor.figures.change_counts import sums
from candor.ledger.custom_events import FIGURE, EventIn, declared_events, record_events
from candor.store.engine import reading
from candor.web.deps import Body, Cx, ExternalId, Ident, Reader, RowId, Writer

router = APIRouter(prefix="/api/v1", tags=["events"])

FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew a caller's occurred_at may have


class ByExternalId(Body):
    external_id: ExternalId


class EventBody(Body):
    contact: RowId | ByExternalId
    name: Ident
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None


class EventBatch(Body):
    events: list[EventBody] = Field(min_length=1, max_length=10_000)


def _event(body: EventBody, now: datetime, where: str) -> EventIn:
    occurred = body.occurred_at or now
    if occurred > now + FUTURE_TOLERANCE:
        raise InvalidInput(f"{where}occurred_at", "lies in the future")
    external = body.contact.external_id if isinstance(body.contact, ByExternalId) else None
    return EventIn(
        name=body.name,
        occurred_at=occurred,
        contact_id=body.contact if isinstance(body.contact, int) else None,
        external_id=external,
        properties=body.properties,
    )


@router.post("/events", status_code=202)
def post_event(body: EventBody, cx: Cx, principal: Writer) -> dict[str, int]:
    """One event: handed to the running journeys listening to it, or counted as unheard."""
    now = cx.clock.now()
    item = _event(body, now, "")
    with cx.engine.begin() as conn:
        done = record_events(conn, cx.vault, [item], actor=principal.actor, at=now, path="")
    return {"received": done.received, "stored": done.stored, "unheard": done.unheard}


@router.post("/events/batch", status_code=202)
def post_events(body: EventBatch, cx: Cx, principal: Writer) -> dict[str, int]:
    """Many events in one transaction (all or nothing)."""
    now = cx.clock.now()
    items = [_event(e, now, f"events[{i}].") for i, e in enumerate(body.events)]
    with cx.engine.begin() as conn:
        done = record_events(conn, cx.vault, items, actor=principal.actor, at=now)
    return {"received": done.received, "stored": done.stored, "unheard": done.unheard}


@router.get("/events")
def get_events(cx: Cx, principal: Reader) -> dict[str, Any]:
    """The declared events, each with how many arrived heard and unheard so far."""
    with reading(cx.engine) as conn:
        declared = declared_events(conn)
        counted = sums(conn, FIGURE)
    return {
        "items": [
            {
                "name": name,
                "description": spec.description,
                "properties": {p: s.model_dump() for p, s in spec.properties.items()},
                "heard": counted.get((name, "heard"), 0),
                "unheard": counted.get((name, "unheard"), 0),
            }
            for name, spec in sorted(declared.items())
        ]
    }
