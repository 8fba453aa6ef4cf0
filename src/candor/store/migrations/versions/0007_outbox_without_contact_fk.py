"""outbox: no per-row foreign key check on contact_id

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 11:30:00.000000

A send step queues its whole batch with one INSERT ... SELECT; on PostgreSQL the foreign key
check to contacts was half of that insert's cost. Every outbox row is made from a journey
member under FOR KEY SHARE on its contact, and contacts are never deleted (erasure empties
them and cancels their queued messages), so the check never catches anything.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_outbox_contact_id_contacts"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_outbox_contact_id_contacts"),
            "contacts",
            ["contact_id"],
            ["id"],
            ondelete="CASCADE",
        )
