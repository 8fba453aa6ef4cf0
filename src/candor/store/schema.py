"""The complete schema: imports every table module so `metadata` holds all tables."""

from __future__ import annotations

from candor.store import (
    channel_tables,
    journey_tables,
    rights_tables,
    sync_tables,
    tables,
    team_tables,
)
from candor.store.tables import metadata

TABLE_MODULES = (tables, journey_tables, rights_tables, sync_tables, team_tables, channel_tables)

__all__ = ["TABLE_MODULES", "metadata"]
