"""The twin's per-database shape: the same rule, each database's fastest way to the newest row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Dialect, Select, select
from sqlalchemy.dialects import postgresql, sqlite

from candor.policy.facts import PurposeFacts
from candor.policy.twin import decisions
from candor.store.tables import contacts

PURPOSE = PurposeFacts(id="news", kind="marketing", legal_basis="consent")


def _sql(dialect: Dialect, target: Select[Any] | None) -> str:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    query = decisions(PURPOSE, "email", None, at, target, dialect=dialect.name)
    return str(query.compile(dialect=dialect))


def test_group_narrows_the_consent_rows_on_postgresql_but_not_on_sqlite() -> None:
    group = select(contacts.c.id).where(contacts.c.id < 10)
    on_pg, on_lite = _sql(postgresql.dialect(), group), _sql(sqlite.dialect(), group)
    assert on_pg.count("row.contact_id IN") == 1
    assert on_lite.count('"row".contact_id IN') == 0
    # everything else narrows the same way on both
    assert on_pg.count("IN (SELECT") - 1 == on_lite.count("IN (SELECT")


def test_a_group_is_planned_by_postgresql_as_itself_and_shared_as_a_cte_by_sqlite() -> None:
    """PostgreSQL estimated a CTE group at 200 people and probed every index once per member
    (a 1M launch: 13 s of deciding, 3 s as a semi-join on the group's own SELECT)."""
    group = select(contacts.c.id).where(contacts.c.attributes["country"].as_string() == "DE")
    on_pg, on_lite = _sql(postgresql.dialect(), group), _sql(sqlite.dialect(), group)
    assert not on_pg.startswith("WITH") and on_lite.startswith("WITH anon_1 AS")
    assert on_pg.count("IN (SELECT contacts.id") == 4  # contacts, addresses, blocks, consents
    assert on_lite.count("IN (SELECT anon_1.id") == 3


def test_without_a_group_nothing_is_narrowed() -> None:
    assert "row.contact_id IN" not in _sql(postgresql.dialect(), None)


def test_postgresql_keeps_the_first_row_per_contact_and_sqlite_the_unsuperseded_one() -> None:
    on_pg, on_lite = _sql(postgresql.dialect(), None), _sql(sqlite.dialect(), None)
    assert "DISTINCT ON (row.contact_id)" in on_pg
    assert "ORDER BY row.contact_id, row.occurred_at DESC, row.event_id DESC" in on_pg
    assert "newer" not in on_pg
    assert "DISTINCT" not in on_lite
    assert "NOT (EXISTS (SELECT" in on_lite


def test_sqlite_seeks_a_contacts_consent_rows_by_purpose_only() -> None:
    on_lite, on_pg = _sql(sqlite.dialect(), None), _sql(postgresql.dialect(), None)
    assert '(+ "row".scope_theme) IN' in on_lite and "(+ newer.scope_channel) IN" in on_lite
    assert "(+ " not in on_pg


def test_one_case_decides_and_the_basis_follows_from_the_purpose() -> None:
    sql = _sql(postgresql.dialect(), None)
    assert sql.count("c.erased_at IS NOT NULL") == 1


def test_a_batch_of_ids_is_one_array_per_part_on_postgresql_and_one_group_on_sqlite() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    for dialect in (postgresql.dialect(), sqlite.dialect()):
        query = decisions(PURPOSE, "email", None, at, dialect=dialect.name, ids=[1, 2, 3])
        sql = str(query.compile(dialect=dialect))
        if dialect.name == "postgresql":
            assert sql.startswith("SELECT")  # no CTE
            # contacts, addresses, blocks and consent rows each walk the range, the array a filter
            assert sql.count(" + %(") == 4 and sql.count("= ANY (CAST(") == 4
            assert sql.count(" BETWEEN %(") == 4
            params = query.compile(dialect=dialect).params
            bounds = [v for k, v in params.items() if k.startswith(("contact_id_", "id_"))]
            assert sorted(bounds) == [0] * 4 + [1] * 4 + [3] * 4  # `+ 0`, then the range
        else:
            assert sql.startswith("WITH anon_1 AS")
            assert sql.count("IN (SELECT anon_1.id") == 3  # the consent rows are looked up


def test_a_sparse_batch_of_ids_is_probed_by_the_array_on_postgresql() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    dialect = postgresql.dialect()
    sparse = [1, 5_000, 10_000]  # far fewer ids than their range holds
    query = decisions(PURPOSE, "email", None, at, dialect=dialect.name, ids=sparse)
    sql = str(query.compile(dialect=dialect))
    assert sql.count(" + %(") == 0 and sql.count("= ANY (CAST(") == 4
    assert sql.count(" BETWEEN %(") == 4


def test_a_group_is_a_target_or_ids_never_both() -> None:
    at = datetime(2026, 3, 2, tzinfo=UTC)
    group = select(contacts.c.id)
    with pytest.raises(ValueError, match="target or ids"):
        decisions(PURPOSE, None, None, at, group, dialect="sqlite", ids=[1])
