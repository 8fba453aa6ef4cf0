"""doi tokens: indexes on event_id and contact_id

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 09:10:00.000000

Erasing a contact deletes its consent events; the foreign key from doi_tokens made each
deleted event look for tokens without an index (quadratic as tokens accumulate).
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("doi_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_doi_tokens_event", ["event_id"], unique=False)
        batch_op.create_index("ix_doi_tokens_contact", ["contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("doi_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_doi_tokens_contact")
        batch_op.drop_index("ix_doi_tokens_event")
