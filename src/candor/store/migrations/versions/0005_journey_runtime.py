"""journey runtime: no per-row FK checks on journey rows, one index fewer on journey_contacts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 08:30:00.000000

Launch inserts the whole target group and the runtime several transitions per contact and
step; on PostgreSQL the foreign key checks were most of the cost of those inserts. Launch
and each batch hold the journey and its people (FOR KEY SHARE) once instead; archive and
erasure delete these rows explicitly (contacts and journeys are never deleted). The unique
(contact_id, journey_id) replaces (journey_id, contact_id) plus the index on contact_id.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("journey_contacts", "journey_transitions")
PARENTS = (("contacts", "contact_id"), ("journeys", "journey_id"))


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for parent, column in PARENTS:
                batch_op.drop_constraint(op.f(f"fk_{table}_{column}_{parent}"), type_="foreignkey")
    with op.batch_alter_table("journey_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_journey_contacts_contact")
        batch_op.drop_constraint(op.f("uq_journey_contacts_journey_id_contact_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_journey_contacts_contact_id_journey_id"), ["contact_id", "journey_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("journey_contacts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_journey_contacts_contact_id_journey_id"), type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_journey_contacts_journey_id_contact_id"), ["journey_id", "contact_id"]
        )
        batch_op.create_index("ix_journey_contacts_contact", ["contact_id"], unique=False)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for parent, column in PARENTS:
                batch_op.create_foreign_key(
                    op.f(f"fk_{table}_{column}_{parent}"),
                    parent,
                    [column],
                    ["id"],
                    ondelete="CASCADE",
                )
