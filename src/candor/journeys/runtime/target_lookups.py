"""The database side of target filters: gate decisions through the SQL twin, saved audiences.

A `{decision: {purpose, reason, channel?, theme?}}` condition selects the contacts whose
decision now has that reason, decided by policy.twin (never a third place that decides).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, select

from candor.journeys.definition import FILTER_ADAPTER, DecisionTest, Filter
from candor.journeys.runtime.filters import Lookups
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.twin import decisions
from candor.store.journey_tables import audiences


def target_lookups(conn: Connection, at: datetime) -> Lookups:
    """Lookups for compile_filter/target_select over this connection, deciding as of `at`."""

    def decided(test: DecisionTest) -> Select[Any]:
        facts = purpose_facts(conn, test.purpose, "decision.purpose")
        theme = theme_ref(conn, test.theme, "decision.theme")
        group = decisions(facts, test.channel, theme, at, dialect=conn.dialect.name)
        rows = group.subquery("decided_for_filter")
        return select(rows.c.contact_id).where(rows.c.reason == test.reason)

    def audience(audience_id: str) -> Filter | None:
        stored = conn.execute(
            select(audiences.c.filter).where(audiences.c.id == audience_id)
        ).scalar()
        return None if stored is None else FILTER_ADAPTER.validate_python(stored)

    return Lookups(decided, audience)
