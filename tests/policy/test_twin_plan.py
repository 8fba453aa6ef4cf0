"""The twin's plan hint: the group narrows the consent subquery on PostgreSQL only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, Select, select
from sqlalchemy.dialects import postgresql, sqlite

from candor.policy.facts import PurposeFacts
from candor.policy.twin import decisions
from candor.store.tables import contacts

PURPOSE = PurposeFacts(id="news", kind="marketing", legal_basis="consent")


def _sql(dialect: Dialect, target: Select[Any] | None) -> str:
    query = decisions(PURPOSE, "email", None, datetime(2026, 3, 2, tzinfo=UTC), target)
    return str(query.compile(dialect=dialect))


def test_group_narrows_the_consent_rows_on_postgresql_but_not_on_sqlite() -> None:
    group = select(contacts.c.id).where(contacts.c.id < 10)
    on_pg, on_lite = _sql(postgresql.dialect(), group), _sql(sqlite.dialect(), group)
    assert on_pg.count("row.contact_id IN") == 1
    assert on_lite.count("row.contact_id IN") == 0
    # everything else narrows the same way on both
    assert on_pg.count("IN (SELECT") - 1 == on_lite.count("IN (SELECT")


def test_without_a_group_nothing_is_narrowed() -> None:
    assert "row.contact_id IN" not in _sql(postgresql.dialect(), None)
