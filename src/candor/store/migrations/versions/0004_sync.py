"""sync: outbox, deliveries, replay guard, block links, source rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 06:01:30.045583
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import candor.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_received",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("received_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("connector", "event_id", name=op.f("pk_sync_received")),
    )
    op.create_table(
        "sync_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("origin", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_sync_events_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_sync_events_event_id")),
    )
    with op.batch_alter_table("sync_events", schema=None) as batch_op:
        batch_op.create_index("ix_sync_events_contact", ["contact_id", "id"], unique=False)

    op.create_table(
        "sync_source_rows",
        sa.Column("journey_id", sa.String(length=64), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_sync_source_rows_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("journey_id", "contact_id", name=op.f("pk_sync_source_rows")),
    )
    op.create_table(
        "sync_block_links",
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("remote_block", sa.String(length=64), nullable=False),
        sa.Column("block_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["block_id"],
            ["blocks.id"],
            name=op.f("fk_sync_block_links_block_id_blocks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connector", "remote_block", name=op.f("pk_sync_block_links")),
    )
    with op.batch_alter_table("sync_block_links", schema=None) as batch_op:
        batch_op.create_index("ix_sync_block_links_block", ["block_id"], unique=False)

    op.create_table(
        "sync_deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "event_row", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("last_attempt_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_sync_deliveries_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_row"],
            ["sync_events.id"],
            name=op.f("fk_sync_deliveries_event_row_sync_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_deliveries")),
        sa.UniqueConstraint(
            "event_row", "connector", name=op.f("uq_sync_deliveries_event_row_connector")
        ),
    )
    with op.batch_alter_table("sync_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_sync_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_sync_deliveries_line", ["connector", "contact_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_deliveries_line")
        batch_op.drop_index("ix_sync_deliveries_due")

    op.drop_table("sync_deliveries")
    with op.batch_alter_table("sync_block_links", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_block_links_block")

    op.drop_table("sync_block_links")
    op.drop_table("sync_source_rows")
    with op.batch_alter_table("sync_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_events_contact")

    op.drop_table("sync_events")
    op.drop_table("sync_received")
