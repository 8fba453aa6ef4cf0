"""Every saved draft of a journey, kept as a version the studio lists and can hand back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from candor.core.errors import NotFound
from candor.store.journey_tables import journey_versions


@dataclass(frozen=True)
class JourneyVersion:
    """One saved draft: its number, when and by whom."""

    version: int
    saved_at: datetime
    saved_by: str


def record_version(
    conn: Connection, journey_id: str, version: int, definition: Any, *, actor: str, at: datetime
) -> None:
    """Keep the definition just saved as `version` (part of the save's transaction)."""
    conn.execute(
        insert(journey_versions).values(
            journey_id=journey_id,
            version=version,
            definition=definition,
            saved_at=at,
            saved_by=actor,
        )
    )


def list_versions(conn: Connection, journey_id: str) -> list[JourneyVersion]:
    """The journey's saved versions, newest first."""
    v = journey_versions
    rows = conn.execute(
        select(v.c.version, v.c.saved_at, v.c.saved_by)
        .where(v.c.journey_id == journey_id)
        .order_by(v.c.version.desc())
    )
    return [JourneyVersion(r.version, r.saved_at, r.saved_by) for r in rows]


def version_definition(conn: Connection, journey_id: str, version: int) -> Any:
    """The definition saved as `version` (file layout), or NotFound."""
    v = journey_versions
    found = conn.execute(
        select(v.c.definition).where(v.c.journey_id == journey_id, v.c.version == version)
    ).scalar()
    if found is None:
        raise NotFound("journey version", f"{journey_id} v{version}")
    return found
