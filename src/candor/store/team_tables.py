"""Tables of the team: members (argon2 password hashes), their server-side sessions, and
the failed logins that lock an account or an address out for a while."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from candor.store.tables import Id, metadata
from candor.store.types import UTCDateTime

team_members = Table(
    "team_members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # admin | marketer | dpo | auditor
    Column("time_zone", String(64), nullable=False, default="UTC"),
    Column("password_hash", String(256), nullable=True),  # argon2id; NULL until set
    Column("password_set_at", UTCDateTime, nullable=True),
    # The one-time set-password link: its SHA-256 only, and when it stops working.
    Column("link_digest", String(64), nullable=True, unique=True),
    Column("link_expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("disabled_at", UTCDateTime, nullable=True),
)

# A login: the cookie holds a random token, this table its SHA-256. Ending a session is a
# row update, so logout, disabling a member or changing a role take effect on the next request.
team_sessions = Table(
    "team_sessions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("token_digest", String(64), nullable=False, unique=True),
    Column("member_id", Id, ForeignKey("team_members.id"), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("ended_why", String(32), nullable=True),  # logout | disabled | role | password
    Index("ix_team_sessions_member", "member_id"),
)

# Wrong passwords, keyed by keyed hashes of the e-mail given and of the client address
# (never the values): known and unknown e-mails lock alike, so a lock reveals no account.
team_login_failures = Table(
    "team_login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_digest", String(64), nullable=False),
    Column("ip_digest", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_team_login_failures_account", "account_digest", "at"),
    Index("ix_team_login_failures_ip", "ip_digest", "at"),
)

team_login_locks = Table(
    "team_login_locks",
    metadata,
    Column("account_digest", String(64), primary_key=True),
    Column("locked_until", UTCDateTime, nullable=False),
    Column("failures", Integer, nullable=False),
)
