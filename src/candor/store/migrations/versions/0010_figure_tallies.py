"""figure_tallies: Mission Control's consent figures kept by the writers; a day index

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:00:00.000000

Mission Control counted distinct contacts over all of consent_state (and all contacts) on
every refresh. The writers now insert signed counts of (contact, purpose) pairs per
signature into figure_tallies (figures.consent_tallies); this migration creates the table and fills
it from the data already there. ix_consent_state_purpose gains occurred_at: the refresh
counts the agreed rows of the one day on which a purpose's lapse instant falls on it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "figure_tallies",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("purpose_id", sa.String(64), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("agreed_version", sa.Integer(), nullable=True),
        sa.Column("agreed_on", sa.Date(), nullable=True),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_figure_tallies")),
    )
    op.drop_index("ix_consent_state_purpose", table_name="consent_state")
    op.create_index(
        "ix_consent_state_purpose", "consent_state", ["purpose_id", "status", "occurred_at"]
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    day = "date(first)" if sqlite else "CAST(first AS DATE)"
    false = "0" if sqlite else "false"
    op.execute(
        f"""
        INSERT INTO figure_tallies (purpose_id, pending, agreed_version, agreed_on, contacts)
        SELECT purpose_id, pending = 1, version, {day}, count(*)
        FROM (
            SELECT purpose_id,
                   max(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
                   min(CASE WHEN status IN ('granted', 'confirmed') THEN purpose_version END)
                       AS version,
                   min(CASE WHEN status IN ('granted', 'confirmed') THEN occurred_at END)
                       AS first
            FROM consent_state
            GROUP BY contact_id, purpose_id
        ) AS pairs
        GROUP BY purpose_id, pending = 1, version, {day}
        """
    )
    op.execute(
        f"""
        INSERT INTO figure_tallies (purpose_id, pending, agreed_version, agreed_on, contacts)
        SELECT NULL, {false}, NULL, NULL, count(*) FROM contacts WHERE erased_at IS NULL
        """
    )


def downgrade() -> None:
    op.drop_index("ix_consent_state_purpose", table_name="consent_state")
    op.create_index("ix_consent_state_purpose", "consent_state", ["purpose_id", "status"])
    op.drop_table("figure_tallies")
