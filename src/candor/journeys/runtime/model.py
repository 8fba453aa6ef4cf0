"""A stored journey as the runtime sees it: definition, purpose facts, steps and exits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import Connection, select

from candor.core.errors import NotFound
from candor.journeys.definition import JourneyDefinition, Step, build_journey
from candor.journeys.step_types import parse_duration
from candor.ledger.registry import purpose_facts
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.store.journey_tables import journeys
from candor.store.tables import attributes, themes

ACTIVE = ("active", "waiting")
NEVER_ENTER = ("erased", "restricted", "objected", "blocked:all")  # the gate keeps them out
ENTER_STEP = "(enter)"  # the step name entry counts are kept under in journey_step_stats


@lru_cache(maxsize=256)
def duration(text: str) -> timedelta | Any:
    """A step's ISO 8601 duration, parsed once (handlers apply it to every member)."""
    return parse_duration(text)


@dataclass
class Journey:
    """A journey loaded for running: everything a step handler needs besides the batch."""

    id: str
    state: str
    defn: JourneyDefinition
    purpose: PurposeFacts
    ends_at: datetime | None
    types: dict[str, str] = field(default_factory=dict)
    theme_groups: dict[str, str | None] = field(default_factory=dict)
    _exits: dict[tuple[str, str], str | None] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def steps(self) -> dict[str, Step]:
        """Steps by id (file order)."""
        return {s.id: s for s in self.defn.steps}

    @property
    def first_step(self) -> str:
        return self.defn.steps[0].id

    @property
    def outbox_kind(self) -> str:
        """What a `send` of this journey is: marketing, or a service message."""
        return "marketing" if self.purpose.kind == "marketing" else "service"

    def theme(self, name: str | None) -> ThemeRef | None:
        """A step's theme (or theme group) as the gate needs it."""
        if name is None:
            return None
        return ThemeRef(name, self.theme_groups.get(name))

    def next_of(self, step: Step) -> str | None:
        """Where the step leads by default: `next`, else the following step."""
        return self.exit(step, "")

    def exit(self, step: Step, name: str) -> str | None:
        """A named exit (`on_denied`), falling back to the step's `next` (remembered: handlers
        ask once per member)."""
        key = (step.id, name)
        if key not in self._exits:
            default = step.next or step.following
            self._exits[key] = (step.exits.get(name) or default) if name else default
        return self._exits[key]


def journey_row(conn: Connection, journey_id: str) -> Any:
    """The journeys row, or NotFound."""
    row = conn.execute(select(journeys).where(journeys.c.id == journey_id)).mappings().first()
    if row is None:
        raise NotFound("journey", journey_id)
    return row


def load_journey_row(conn: Connection, row: Any) -> Journey:
    """Build the runtime view of a stored journey."""
    defn = build_journey(row["definition"])
    return Journey(
        id=row["id"],
        state=row["state"],
        defn=defn,
        purpose=purpose_facts(conn, defn.purpose),
        ends_at=row["ends_at"],
        types={r.name: r.type for r in conn.execute(select(attributes.c.name, attributes.c.type))},
        theme_groups={
            r.id: r.group_id for r in conn.execute(select(themes.c.id, themes.c.group_id))
        },
    )


def running_journeys(conn: Connection, *, triggered: bool = False) -> list[Journey]:
    """Every journey in state running (`triggered`: only those with a trigger)."""
    query = select(journeys).where(journeys.c.state == "running").order_by(journeys.c.id)
    if triggered:
        query = query.where(journeys.c.trigger_on.is_not(None))
    return [load_journey_row(conn, row) for row in conn.execute(query).mappings()]
