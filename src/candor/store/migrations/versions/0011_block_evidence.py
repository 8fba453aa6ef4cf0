"""blocks and block_lifts: the evidence of the act, sealed with the contact's key

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 14:40:00.000000

A block or lift asked for on a page (preference center), through the API or by an inbound
keyword records its evidence (page, wording, time, IP, user agent) as consent events do.
Rows written before this revision keep NULL: their evidence was never captured.

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("blocks", sa.Column("evidence", sa.LargeBinary(), nullable=True))
    op.add_column("block_lifts", sa.Column("evidence", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("block_lifts", schema=None) as batch_op:
        batch_op.drop_column("evidence")
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_column("evidence")
