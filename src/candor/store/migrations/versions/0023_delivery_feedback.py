"""Delivery feedback: delivery state on communications, delivery reports, the WhatsApp window

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 10:00:00.000000

Communications gain their delivery state (and, for SMS, the encoding and segment count);
delivery_reports keeps every status callback, bounce and complaint; addresses remember the
person's latest inbound message, which opens WhatsApp's 24-hour customer-service window.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from candor.store.types import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("delivery_detail", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("delivery_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("provider_ref", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("encoding", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("segments", sa.Integer(), nullable=True))
        batch_op.create_index("ix_communications_provider_ref", ["provider_ref"], unique=False)
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_inbound_at", UTCDateTime(), nullable=True))
    op.create_table(
        "delivery_reports",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("contact_id", Id, nullable=True),
        sa.Column("communication_id", Id, nullable=True),
        sa.Column("outbox_id", Id, nullable=True),
        sa.Column("address_id", Id, nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("effect", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_reports")),
    )
    with op.batch_alter_table("delivery_reports", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_reports_contact", ["contact_id"], unique=False)
        batch_op.create_index("ix_delivery_reports_outbox", ["outbox_id", "state"], unique=False)
        batch_op.create_index(
            "ix_delivery_reports_address", ["address_id", "effect", "received_at"], unique=False
        )
        batch_op.create_index("ix_delivery_reports_state", ["state", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("delivery_reports")
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.drop_column("last_inbound_at")
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.drop_index("ix_communications_provider_ref")
        batch_op.drop_column("segments")
        batch_op.drop_column("encoding")
        batch_op.drop_column("provider_ref")
        batch_op.drop_column("delivery_at")
        batch_op.drop_column("delivery_detail")
        batch_op.drop_column("delivery_status")
