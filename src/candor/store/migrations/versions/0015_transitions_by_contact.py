"""journey_transitions: indexed by contact first, for erasure, access and restriction

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 18:45:00.000000

Every reader of one person's transitions (the access copy, erasure, restriction) asks by
contact alone, which (journey_id, contact_id) cannot answer on PostgreSQL: with 3M
transitions the access copy scanned the whole table (150 ms). The archive, the only reader
by journey, now purges per batch of the journey's contacts (journeys.runtime.archive).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_journey_transitions_journey", table_name="journey_transitions")
    op.create_index(
        "ix_journey_transitions_contact", "journey_transitions", ["contact_id", "journey_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_journey_transitions_contact", table_name="journey_transitions")
    op.create_index(
        "ix_journey_transitions_journey", "journey_transitions", ["journey_id", "contact_id"]
    )
