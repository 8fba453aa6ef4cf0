"""Engagement tracking, private by default: clicks and opens per person only with consent.

A journey may name an analytics purpose under `tracking`. When a message is composed, the
gate decides that purpose for the whole batch: people who agreed get a click link (and,
if asked for, an open pixel) that names them; everyone else gets a link that names only
the journey step, and no pixel. When a click or open arrives, decide() is asked again
(a withdrawal in between is honoured); either way the step's aggregate counts it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from candor.channels.links import ClickClaims, OpenClaims
from candor.channels.recheck import decide_contacts
from candor.core.errors import InvalidInput
from candor.figures.step_counts import CLICKED, OPENED, add_step_counts
from candor.ledger.communications import record_communication
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.store.journey_tables import journeys
from candor.store.vault import Vault


def tracked_rows(
    conn: Connection,
    rows: Sequence[Mapping[Any, Any]],
    tracking: Mapping[str, Mapping[str, Any]],
    at: datetime,
) -> dict[int, str]:
    """Outbox row id -> analytics purpose, for the rows whose person agreed to it now.

    `tracking` is each journey's `tracking` section; one twin query per (purpose, channel).
    """
    groups: dict[tuple[str, str], list[Mapping[Any, Any]]] = defaultdict(list)
    for row in rows:
        purpose = (tracking.get(row["journey_id"] or "") or {}).get("purpose")
        if purpose:
            groups[(str(purpose), row["channel"])].append(row)
    out: dict[int, str] = {}
    for (purpose_id, channel), members in groups.items():
        try:
            facts = purpose_facts(conn, purpose_id)
        except InvalidInput:
            continue  # the purpose was removed since launch: nobody is tracked
        if facts.kind != "analytics":
            continue
        decided = decide_contacts(
            conn, facts, channel, None, [r["contact_id"] for r in members], at
        )
        for row in members:
            found = decided.get(row["contact_id"])
            if found is not None and found.allowed:
                out[row["id"]] = purpose_id
    return out


def record_click(
    conn: Connection, vault: Vault, claims: ClickClaims, *, at: datetime
) -> int | None:
    """Count a click for its step; per person (`click:<journey>:<step>`) only with consent.

    Returns the communication recorded for the person, or None when only the aggregate grew.
    """
    return _record(conn, vault, claims, "click", CLICKED, at)


def record_open(conn: Connection, vault: Vault, claims: OpenClaims, *, at: datetime) -> int | None:
    """Count an open for its step; per person (`open:<journey>:<step>`) only with consent."""
    return _record(conn, vault, claims, "open", OPENED, at)


def _record(
    conn: Connection,
    vault: Vault,
    claims: ClickClaims | OpenClaims,
    marker: str,
    outcome: str,
    at: datetime,
) -> int | None:
    journey = conn.execute(select(journeys.c.id).where(journeys.c.id == claims.journey_id))
    if journey.first() is None:
        return None
    add_step_counts(conn, {(claims.journey_id, claims.step_id, outcome): 1})
    if claims.contact_id is None or claims.purpose_id is None:
        return None
    try:
        facts = purpose_facts(conn, claims.purpose_id)
    except InvalidInput:
        return None
    decision = decide_for(conn, claims.contact_id, facts, claims.channel, None, None, at)
    if facts.kind != "analytics" or not decision.allowed:
        return None
    return record_communication(
        conn,
        vault,
        claims.contact_id,
        channel=claims.channel,
        direction="in",
        content_ref=f"{marker}:{claims.journey_id}:{claims.step_id}",
        actor=marker,
        at=at,
    )
