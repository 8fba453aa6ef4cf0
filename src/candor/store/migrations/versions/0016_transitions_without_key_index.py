"""journey_transitions: no primary key index on PostgreSQL

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 20:30:00.000000

The id only orders one person's transitions (the access copy), which are found along
ix_journey_transitions_contact and sorted in memory; its index cost a fifth of every insert
of the runtime's hottest table (1.5M transitions: 8.6 s with it, 5.6-6.7 s without). The
column keeps its sequence. SQLite keeps the key: there it is the rowid, which numbers rows.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_journey_transitions", "journey_transitions", type_="primary")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_primary_key("pk_journey_transitions", "journey_transitions", ["id"])
