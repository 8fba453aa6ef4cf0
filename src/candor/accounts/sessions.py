"""The session service: server-side team sessions behind a random cookie token.

Only the token's SHA-256 is stored. A session is valid while it has not ended, has not
expired (8 hours), has been used within the idle limit (1 hour) and its member is active.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, select, update
from sqlalchemy import insert as sql_insert

from candor.accounts.principal import Principal
from candor.ledger import audit
from candor.store.team_tables import team_members, team_sessions

VALID_FOR: Final = timedelta(hours=8)
IDLE_FOR: Final = timedelta(hours=1)
TOUCH_EVERY: Final = timedelta(minutes=1)  # seen_at is written at most this often


@dataclass(frozen=True)
class MemberSession:
    """A live session: whose it is (id, name, role, e-mail, time zone) and its token digest."""

    session_id: int
    token_digest: str
    member_id: int
    name: str
    email: str
    role: str
    time_zone: str
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal.of_member(self.member_id, self.role, self.name)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: Connection, member_id: int, *, at: datetime) -> str:
    """Open a session for the member; returns the cookie token (shown once, stored hashed)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        sql_insert(team_sessions).values(
            token_digest=token_digest(token),
            member_id=member_id,
            started_at=at,
            seen_at=at,
            expires_at=at + VALID_FOR,
        )
    )
    return token


def session_for(conn: Connection, token: str, *, at: datetime) -> MemberSession | None:
    """The live session behind a cookie token, or None (ended, expired, idle, disabled)."""
    if not 20 <= len(token) <= 100:
        return None
    s, m = team_sessions, team_members
    row = conn.execute(
        select(
            s.c.id,
            s.c.token_digest,
            s.c.seen_at,
            s.c.expires_at,
            m.c.id.label("member_id"),
            m.c.name,
            m.c.email,
            m.c.role,
            m.c.time_zone,
        )
        .join(m, m.c.id == s.c.member_id)
        .where(
            s.c.token_digest == token_digest(token),
            s.c.ended_at.is_(None),
            m.c.disabled_at.is_(None),
        )
    ).first()
    if row is None or row.expires_at <= at or row.seen_at + IDLE_FOR <= at:
        return None
    if at - row.seen_at >= TOUCH_EVERY:
        conn.execute(update(s).where(s.c.id == row.id).values(seen_at=at))
    return MemberSession(
        int(row.id),
        row.token_digest,
        int(row.member_id),
        row.name,
        row.email,
        row.role,
        row.time_zone,
        row.expires_at,
    )


def end_session(conn: Connection, session: MemberSession, *, at: datetime) -> None:
    """Log out: the session ends now, whoever still holds its cookie."""
    conn.execute(
        update(team_sessions)
        .where(team_sessions.c.id == session.session_id, team_sessions.c.ended_at.is_(None))
        .values(ended_at=at, ended_why="logout")
    )
    audit.record(
        conn,
        actor=session.principal.actor,
        action="session.logout",
        object_type="team_session",
        object_id=session.session_id,
        at=at,
    )


def end_sessions_of(
    conn: Connection, member_id: int, *, why: str, at: datetime, keep: str | None = None
) -> int:
    """End every open session of a member (but the one with digest `keep`); how many ended."""
    conditions = [team_sessions.c.member_id == member_id, team_sessions.c.ended_at.is_(None)]
    if keep is not None:
        conditions.append(team_sessions.c.token_digest != keep)
    ended = conn.execute(
        update(team_sessions).where(*conditions).values(ended_at=at, ended_why=why)
    )
    return int(ended.rowcount or 0)
