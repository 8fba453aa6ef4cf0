"""Saved audiences (target groups over declared attributes and gate decisions) and their live
count: how many of the group may be reached for a purpose, channel and theme, and how many
not, per reason, decided by the SQL twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import Connection, delete, insert, select, update

from candor.core.errors import NotFound
from candor.journeys.definition import Filter, Problem
from candor.journeys.reference import StaticRegistry
from candor.journeys.runtime.enroll import JourneyRefused
from candor.journeys.runtime.filters import compile_filter
from candor.journeys.runtime.reference_data import DbRegistry
from candor.journeys.runtime.target_lookups import target_lookups
from candor.journeys.step_types import Channel, StepId, Strict
from candor.journeys.validate import target_problems
from candor.ledger import audit
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.decide import ALLOWED
from candor.policy.twin import count_by_reason, decisions
from candor.store.journey_tables import audiences
from candor.store.tables import contacts


class Audience(Strict):
    """A target group: its filter, and the purpose, channel and theme its count is for."""

    id: StepId
    name: str = Field(min_length=1, max_length=200)
    filter: Filter | None = None
    purpose: str
    channel: Channel | None = None
    theme: str | None = None

    def stored_filter(self) -> Any:
        """The filter as journey files write it (JSON-ready), or None for everyone."""
        if self.filter is None:
            return None
        return self.filter.model_dump(mode="json", by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class AudienceCount:
    """The live count: the group's size, how many may be reached, and why the rest may not."""

    purpose: str
    channel: str | None
    theme: str | None
    total: int
    reachable: int
    by_reason: dict[str, int] = field(default_factory=dict)


def audience_problems(conn: Connection, audience: Audience) -> list[Problem]:
    """What is wrong with the audience against the registry (empty: it is sound)."""
    reg = DbRegistry(conn)
    problems = target_problems(audience.filter, "filter", reg)
    for problem in target_problems(audience.filter, "filter", _profile_only(reg)):
        if problem.code == "unknown-field" and problem not in problems:
            msg = "names are identifying data: audiences filter on profile attributes only"
            problems.append(Problem(problem.path, None, msg, code="identity-field"))
    if audience.purpose not in reg.purposes:
        msg = f"unknown purpose {audience.purpose!r}"
        problems.append(Problem("purpose", None, msg, code="unknown-purpose"))
    if audience.theme and audience.theme not in reg.themes:
        problems.append(Problem("theme", None, f"unknown theme {audience.theme!r}"))
    return problems


def _profile_only(reg: DbRegistry) -> StaticRegistry:
    """The registry with only the profile attributes (names left out)."""
    return StaticRegistry(
        attributes=reg.profile_types(),
        themes=dict(reg.themes),
        theme_groups=set(reg.theme_groups),
        purposes=dict(reg.purposes),
        audiences=dict(reg.audiences),
    )


def count_audience(conn: Connection, audience: Audience, at: datetime) -> AudienceCount:
    """Decide for the whole group at once (policy.twin) and count by reason; nothing changes."""
    problems = audience_problems(conn, audience)
    if problems:
        raise JourneyRefused(problems)
    types = DbRegistry(conn).profile_types()
    members = None
    if audience.filter is not None:
        lookups = target_lookups(conn, at)
        members = compile_filter(audience.filter, contacts.c.attributes, types, lookups=lookups)
    facts = purpose_facts(conn, audience.purpose)
    theme = theme_ref(conn, audience.theme)
    decided = decisions(
        facts, audience.channel, theme, at, among=members, dialect=conn.dialect.name
    )
    by_reason = count_by_reason(conn, decided)
    reachable = by_reason.pop(ALLOWED, 0)
    return AudienceCount(
        audience.purpose,
        audience.channel,
        audience.theme,
        reachable + sum(by_reason.values()),
        reachable,
        dict(sorted(by_reason.items())),
    )


def save_audience(conn: Connection, audience: Audience, *, actor: str, at: datetime) -> bool:
    """Create or replace a saved audience after checking it; True when it was created."""
    problems = audience_problems(conn, audience)
    if problems:
        raise JourneyRefused(problems)
    values = {
        "name": audience.name,
        "filter": audience.stored_filter(),
        "purpose_id": audience.purpose,
        "channel": audience.channel,
        "theme": audience.theme,
        "updated_at": at,
        "updated_by": actor,
    }
    exists = conn.execute(select(audiences.c.id).where(audiences.c.id == audience.id)).first()
    if exists is None:
        conn.execute(insert(audiences).values(id=audience.id, **values))
    else:
        conn.execute(update(audiences).where(audiences.c.id == audience.id).values(**values))
    audit.record(
        conn,
        actor=actor,
        action="audience.save",
        object_type="audience",
        object_id=audience.id,
        at=at,
        created=exists is None,
    )
    return exists is None


def delete_audience(conn: Connection, audience_id: str, *, actor: str, at: datetime) -> None:
    """Remove a saved audience (journeys that name it then fail validation, never silently)."""
    gone = conn.execute(delete(audiences).where(audiences.c.id == audience_id)).rowcount
    if not gone:
        raise NotFound("audience", audience_id)
    audit.record(
        conn,
        actor=actor,
        action="audience.delete",
        object_type="audience",
        object_id=audience_id,
        at=at,
    )


def get_audience(conn: Connection, audience_id: str) -> Audience:
    """A saved audience, or NotFound."""
    row = conn.execute(select(audiences).where(audiences.c.id == audience_id)).mappings().first()
    if row is None:
        raise NotFound("audience", audience_id)
    return _from_row(row)


def list_audiences(conn: Connection) -> list[Audience]:
    """Every saved audience, by name."""
    rows = conn.execute(select(audiences).order_by(audiences.c.name, audiences.c.id)).mappings()
    return [_from_row(r) for r in rows]


def _from_row(row: Any) -> Audience:
    return Audience.model_validate(
        {
            "id": row["id"],
            "name": row["name"],
            "filter": row["filter"],
            "purpose": row["purpose_id"],
            "channel": row["channel"],
            "theme": row["theme"],
        }
    )
