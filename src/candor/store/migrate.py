"""Create or upgrade the data database with Alembic (`candor init`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
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
