"""Create or upgrade the data database with Alembic (`candor init`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """Alembic settings without an ini file; the connection is handed over in attributes."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "heads")


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the tables (developer tool)."""
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.revision(config, message=message, autogenerate=True)


def schema_problem(engine: Engine) -> str | None:
    """Why the database cannot be used yet (missing or behind the migrations), else None."""
    script = ScriptDirectory.from_config(alembic_config())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if not current:
        return "the database has no Candor schema: run `candor init` first"
    if current != set(script.get_heads()):
        return "the database schema is older than this Candor: run `candor init` to upgrade"
    return None
