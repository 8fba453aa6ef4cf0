"""studio: journey versions, saved audiences, template language variants and authoring

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import candor.store.types

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("variants", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("authoring", sa.JSON(), nullable=True))
    op.create_table(
        "journey_versions",
        sa.Column("journey_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("saved_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("journey_id", "version", name=op.f("pk_journey_versions")),
    )
    op.create_table(
        "audiences",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("purpose_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("theme", sa.String(length=64), nullable=True),
        sa.Column("updated_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audiences")),
    )


def downgrade() -> None:
    op.drop_table("audiences")
    op.drop_table("journey_versions")
    with op.batch_alter_table("templates", schema=None) as batch_op:
        batch_op.drop_column("authoring")
        batch_op.drop_column("variants")
