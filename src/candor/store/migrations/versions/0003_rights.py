"""rights: requests, business records, suppression, certificates, automated decisions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 05:38:39.196457
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import candor.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Erasure deletes addresses; the FK from communications needs an index to find messages.
    op.create_index("ix_communications_address", "communications", ["address_id"], unique=False)
    op.create_table(
        "erasure_certificates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("issued_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ledger_digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_certificates")),
    )
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.create_index("ix_erasure_certificates_contact", ["contact_id"], unique=False)

    op.create_table(
        "suppression",
        sa.Column("blind_index", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("blind_index", name=op.f("pk_suppression")),
    )
    op.create_table(
        "automated_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("journey_id", sa.String(length=64), nullable=True),
        sa.Column("purpose_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("factors", sa.LargeBinary(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_automated_decisions_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automated_decisions")),
    )
    with op.batch_alter_table("automated_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_automated_decisions_contact", ["contact_id"], unique=False)

    op.create_table(
        "business_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("restricted_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("retain_until", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("retained_under", sa.String(length=96), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_business_records_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_records")),
    )
    with op.batch_alter_table("business_records", schema=None) as batch_op:
        batch_op.create_index("ix_business_records_contact", ["contact_id"], unique=False)
        batch_op.create_index("ix_business_records_retain", ["retain_until"], unique=False)

    op.create_table(
        "dsr_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("opened_by", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("due_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("extended_months", sa.Integer(), nullable=False),
        sa.Column("needs_approval", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("verified_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("closed_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("verification_token", sa.Text(), nullable=True),
        sa.Column("details", sa.LargeBinary(), nullable=True),
        sa.Column("result", sa.LargeBinary(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_dsr_requests_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_requests")),
    )
    with op.batch_alter_table("dsr_requests", schema=None) as batch_op:
        batch_op.create_index("ix_dsr_requests_contact", ["contact_id"], unique=False)
        batch_op.create_index("ix_dsr_requests_open", ["status", "due_at"], unique=False)

    op.create_table(
        "legal_holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", candor.store.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("released_at", candor.store.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_legal_holds_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index("ix_legal_holds_contact", ["contact_id"], unique=False)

    op.create_table(
        "automated_decision_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "decision_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["automated_decisions.id"],
            name=op.f("fk_automated_decision_history_decision_id_automated_decisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automated_decision_history")),
    )
    with op.batch_alter_table("automated_decision_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_automated_decision_history_decision", ["decision_id"], unique=False
        )

    op.create_table(
        "dsr_status_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("at", candor.store.types.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["dsr_requests.id"],
            name=op.f("fk_dsr_status_history_request_id_dsr_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsr_status_history")),
    )
    with op.batch_alter_table("dsr_status_history", schema=None) as batch_op:
        batch_op.create_index("ix_dsr_status_history_request", ["request_id", "id"], unique=False)

    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_index("ix_communications_address", table_name="communications")
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("dsr_status_history", schema=None) as batch_op:
        batch_op.drop_index("ix_dsr_status_history_request")

    op.drop_table("dsr_status_history")
    with op.batch_alter_table("automated_decision_history", schema=None) as batch_op:
        batch_op.drop_index("ix_automated_decision_history_decision")

    op.drop_table("automated_decision_history")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_holds_contact")

    op.drop_table("legal_holds")
    with op.batch_alter_table("dsr_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_dsr_requests_open")
        batch_op.drop_index("ix_dsr_requests_contact")

    op.drop_table("dsr_requests")
    with op.batch_alter_table("business_records", schema=None) as batch_op:
        batch_op.drop_index("ix_business_records_retain")
        batch_op.drop_index("ix_business_records_contact")

    op.drop_table("business_records")
    with op.batch_alter_table("automated_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_automated_decisions_contact")

    op.drop_table("automated_decisions")
    op.drop_table("suppression")
    with op.batch_alter_table("erasure_certificates", schema=None) as batch_op:
        batch_op.drop_index("ix_erasure_certificates_contact")

    op.drop_table("erasure_certificates")
    # ### end Alembic commands ###
