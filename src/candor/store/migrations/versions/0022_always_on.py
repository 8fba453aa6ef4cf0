"""always on: journey triggers, the events they heard, and sign-up form submissions

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 09:00:00.000000

A journey may be entered when something happens (a consent change, a form, an event, a
date): the journeys row names what it listens to, journey_events holds what it heard
(pending entry, then the event data of the person's stay), and form_submissions holds
sign-up form posts sealed until the worker processes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from candor.store.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trigger_on", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("trigger_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("trigger_checked_at", UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_journeys_trigger"), ["trigger_on", "trigger_key"], unique=False
        )
    op.create_table(
        "journey_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("journey_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ref", sa.String(length=96), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_events")),
        sa.UniqueConstraint(
            "journey_id",
            "contact_id",
            "ref",
            name=op.f("uq_journey_events_journey_id_contact_id_ref"),
        ),
    )
    op.create_index(
        "ix_journey_events_due", "journey_events", ["journey_id", "status", "id"], unique=False
    )
    op.create_index(
        "ix_journey_events_contact", "journey_events", ["contact_id", "journey_id"], unique=False
    )
    op.create_table(
        "form_submissions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("form_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_submissions")),
    )


def downgrade() -> None:
    op.drop_table("form_submissions")
    op.drop_index("ix_journey_events_contact", table_name="journey_events")
    op.drop_index("ix_journey_events_due", table_name="journey_events")
    op.drop_table("journey_events")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journeys_trigger"))
        batch_op.drop_column("trigger_checked_at")
        batch_op.drop_column("trigger_key")
        batch_op.drop_column("trigger_on")
