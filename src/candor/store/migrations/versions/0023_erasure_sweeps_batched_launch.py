"""erasure sweeps, batched launch, erasure by contact on sync deliveries

Revision ID: 0023
Revises: 0017
Create Date: 2026-11-30 01:30:00.000000

An erasure checks what indexes can answer inside its transaction and leaves the substring
sweep of free text to one pass per period: erasure_sweeps holds what each erasure searched
for (sealed under a key the sweep destroys), erasure_certificates the sweep's result. A
launch enrols its group in batches that workers start on while later batches go in
(journeys.enrol_until, enrolled_through). Erasure deletes a person's sync deliveries along
an index of their own instead of scanning the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import candor.store.types

revision = "0023"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("swept_at", candor.store.types.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("sweep", sa.JSON(), nullable=True))
    op.create_table(
        "erasure_sweeps",
        sa.Column("certificate_id", Id, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("identifiers", sa.LargeBinary(), nullable=False),
        sa.Column("erased_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["erasure_certificates.id"],
            name=op.f("fk_erasure_sweeps_certificate_id_erasure_certificates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("certificate_id", name=op.f("pk_erasure_sweeps")),
    )
    op.create_index("ix_erasure_sweeps_erased", "erasure_sweeps", ["erased_at"])
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enrol_until", Id, nullable=True))
        batch_op.add_column(sa.Column("enrolled_through", Id, nullable=True))
        batch_op.add_column(
            sa.Column("enrolled_at", candor.store.types.UTCDateTime(), nullable=True)
        )
    op.create_index("ix_sync_deliveries_contact", "sync_deliveries", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_sync_deliveries_contact", table_name="sync_deliveries")
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_column("enrolled_at")
        batch_op.drop_column("enrolled_through")
        batch_op.drop_column("enrol_until")
    op.drop_index("ix_erasure_sweeps_erased", table_name="erasure_sweeps")
    op.drop_table("erasure_sweeps")
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.drop_column("sweep")
        batch_op.drop_column("swept_at")
