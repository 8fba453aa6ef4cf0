"""The Alembic migrations build exactly the schema the tables declare, on each backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from candor.runtime import Candor
from candor.store.schema import metadata


def test_migrated_database_matches_the_tables(cx: Candor) -> None:
    with cx.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []
