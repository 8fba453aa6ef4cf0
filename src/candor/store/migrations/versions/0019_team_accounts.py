"""team accounts: members with argon2 passwords, server-side sessions, login failures and locks

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 10:00:00.000000

Team members log in as themselves (e-mail and password) instead of pasting an API key; API
keys stay for machines. Sessions live in the database so logout, disabling a member and
changing a role end them at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "team_members",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("password_set_at", sa.DateTime(), nullable=True),
        sa.Column("link_digest", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_members")),
        sa.UniqueConstraint("email", name=op.f("uq_team_members_email")),
        sa.UniqueConstraint("link_digest", name=op.f("uq_team_members_link_digest")),
    )
    op.create_table(
        "team_sessions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_why", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["team_members.id"],
            name=op.f("fk_team_sessions_member_id_team_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_team_sessions_token_digest")),
    )
    op.create_index("ix_team_sessions_member", "team_sessions", ["member_id"])
    op.create_table(
        "team_login_failures",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("account_digest", sa.String(length=64), nullable=False),
        sa.Column("ip_digest", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_login_failures")),
    )
    op.create_index(
        "ix_team_login_failures_account", "team_login_failures", ["account_digest", "at"]
    )
    op.create_index("ix_team_login_failures_ip", "team_login_failures", ["ip_digest", "at"])
    op.create_table(
        "team_login_locks",
        sa.Column("account_digest", sa.String(length=64), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_digest", name=op.f("pk_team_login_locks")),
    )


def downgrade() -> None:
    op.drop_table("team_login_locks")
    op.drop_index("ix_team_login_failures_ip", table_name="team_login_failures")
    op.drop_index("ix_team_login_failures_account", table_name="team_login_failures")
    op.drop_table("team_login_failures")
    op.drop_index("ix_team_sessions_member", table_name="team_sessions")
    op.drop_table("team_sessions")
    op.drop_table("team_members")
