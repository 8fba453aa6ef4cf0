"""figure_counts and the "(here)" step counts: Mission Control without counting rows

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00.000000

Mission Control counted every block (joined with its lift), every sync delivery and every
contact of every running journey on each refresh. The writers now keep those figures:
figure_counts holds signed deltas of active blocks by kind and deliveries per connector and
status (figures.change_counts); journey_step_stats gains the reserved outcome "(here)", the contacts
at a step of a running journey now (figures.step_counts). This migration creates the table and
counts the data already there once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "figure_counts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("figure", sa.String(16), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figure_counts")),
    )
    op.execute(
        """
        INSERT INTO figure_counts (figure, item, state, count)
        SELECT 'blocks', b.kind, 'active', count(*)
        FROM blocks b LEFT JOIN block_lifts l ON l.block_id = b.id
        WHERE l.block_id IS NULL
        GROUP BY b.kind
        """
    )
    op.execute(
        """
        INSERT INTO figure_counts (figure, item, state, count)
        SELECT 'sync', connector, status, count(*)
        FROM sync_deliveries
        GROUP BY connector, status
        """
    )
    op.execute(
        """
        INSERT INTO journey_step_stats (journey_id, step_id, outcome, count)
        SELECT jc.journey_id, jc.step_id, '(here)', count(*)
        FROM journey_contacts jc JOIN journeys j ON j.id = jc.journey_id
        WHERE j.state = 'running' AND jc.status IN ('active', 'waiting')
        GROUP BY jc.journey_id, jc.step_id
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM journey_step_stats WHERE outcome = '(here)'")
    op.drop_table("figure_counts")
