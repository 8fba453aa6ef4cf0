"""doi tokens: no foreign key to consent events

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:55:00.000000

Consent events are only ever deleted by erasure, which deletes the person's DOI tokens first
(rights.data_map lists them before the events). The cascade still ran one trigger query per
deleted event: half of a heavy contact's erasure on PostgreSQL (10,000 events: 100 ms).
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("doi_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_doi_tokens_event_id_consent_events"), type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("doi_tokens", schema=None) as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_doi_tokens_event_id_consent_events"),
            "consent_events",
            ["event_id"],
            ["id"],
            ondelete="CASCADE",
        )
