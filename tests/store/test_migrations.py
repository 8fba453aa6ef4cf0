"""The Alembic migrations build exactly the schema the tables declare, on each backend."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from candor.core.context import Candor
from candor.store.journey_tables import templates
from candor.store.migrate import alembic_config, upgrade
from candor.store.schema import metadata

# Declared with .ddl_if(dialect="postgresql") in store.tables; Alembic compares them anyway.
POSTGRESQL_ONLY = {"ix_consent_state_newest"}
PARTITIONS = ("journey_contacts_", "journey_transitions_")


def test_migrated_database_matches_the_tables(cx: Candor) -> None:
    on_postgres = cx.engine.dialect.name == "postgresql"

    def built_here(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        if type_ == "table" and name and name.startswith(PARTITIONS):
            return False  # a journey's own rows (store.partitions), not a table of the schema
        return on_postgres or not (type_ == "index" and name in POSTGRESQL_ONLY)

    with cx.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": built_here})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_postgresql_only_indexes_exist_only_there(cx: Candor) -> None:
    indexes = {ix["name"] for ix in inspect(cx.engine).get_indexes("consent_state")}
    built = POSTGRESQL_ONLY & indexes
    assert built == (POSTGRESQL_ONLY if cx.engine.dialect.name == "postgresql" else set())


def test_transitions_have_a_primary_key_only_on_sqlite(cx: Candor) -> None:
    """PostgreSQL keeps no index on the id (migration 0016); on SQLite the key is the rowid."""
    key = inspect(cx.engine).get_pk_constraint("journey_transitions")
    on_postgres = cx.engine.dialect.name == "postgresql"
    assert key["constrained_columns"] == ([] if on_postgres else ["id"])


def test_journey_contacts_are_keyed_by_person_and_journey(cx: Candor) -> None:
    """No id of their own (migration 0017): the pair is the key, and no other unique index."""
    found = inspect(cx.engine)
    assert found.get_pk_constraint("journey_contacts")["constrained_columns"] == [
        "contact_id",
        "journey_id",
    ]
    assert "id" not in {c["name"] for c in found.get_columns("journey_contacts")}
    assert found.get_unique_constraints("journey_contacts") == []


def test_stored_builtin_messages_are_signed_by_the_controller_after_0018(cx: Candor) -> None:
    """Built-in templates stored before keep the product's name no more; changed ones stay."""
    config = alembic_config()
    old = {
        "email": {"subject": "S", "text": "Confirm: {{ verify_url }}\n\nYour Candor privacy team\n"}
    }
    mine = {"email": {"subject": "S", "text": "Confirm: {{ verify_url }}\n\nAnn, DPO\n"}}
    try:
        with cx.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0017")
            conn.execute(
                insert(templates),
                [
                    {"id": "dsr-verify", "parts": old, "updated_at": cx.clock.now()},
                    {"id": "doi-confirm-de", "parts": mine, "updated_at": cx.clock.now()},
                ],
            )
    finally:
        upgrade(cx.engine)
    with cx.engine.connect() as conn:
        stored = dict(conn.execute(select(templates.c.id, templates.c.parts)).all())
    signed = stored["dsr-verify"]["email"]["text"]
    assert signed.endswith("{% else %}Your privacy team{% endif %}\n") and "Candor" not in signed
    assert stored["doi-confirm-de"] == mine
