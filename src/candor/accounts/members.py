"""The member service: team accounts added, given a one-time set-password link, re-roled,
disabled and re-passworded; each change one verb that writes an audit entry naming who did it.

Disabling a member, changing a role or setting a password ends the member's sessions in the
same transaction, so an open browser loses its access on its next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, func, insert, select, update

from candor.accounts.passwords import check_new_password, hash_password, verify_password
from candor.accounts.principal import ROLES, Principal
from candor.accounts.sessions import end_sessions_of
from candor.core.errors import Conflict, InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.addresses import AddressError, normalize_email
from candor.store.team_tables import team_members

LINK_VALID_FOR: Final = timedelta(days=3)
LINK_PATH: Final = "/team/set-password/"


@dataclass(frozen=True)
class Member:
    """A team member as the service shows it: never the password hash or the link."""

    id: int
    email: str
    name: str
    role: str
    time_zone: str
    created_at: datetime
    disabled_at: datetime | None
    password_set: bool
    link_expires_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def principal(self) -> Principal:
        return Principal.of_member(self.id, self.role, self.name)


@dataclass(frozen=True)
class PasswordLink:
    """A one-time set-password link's token (shown once; only its digest is stored)."""

    member: Member
    token: str
    expires_at: datetime

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}{LINK_PATH}{self.token}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def member_from(row: Any) -> Member:
    return Member(
        int(row.id),
        row.email,
        row.name,
        row.role,
        row.time_zone,
        row.created_at,
        row.disabled_at,
        row.password_hash is not None,
        row.link_expires_at,
    )


def _email(value: str) -> str:
    try:
        return normalize_email(value.strip())
    except AddressError as exc:
        raise InvalidInput("email", str(exc)) from None


def _role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    return role


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("time_zone", "not a known IANA time zone") from None
    return value


def _name(value: str, email: str) -> str:
    name = " ".join(value.split()) or email.split("@")[0]
    if len(name) > 200 or "\x00" in name:
        raise InvalidInput("name", "at most 200 characters, no NUL")
    return name


def list_members(conn: Connection) -> list[Member]:
    """Every member, active ones first, then by e-mail."""
    rows = conn.execute(
        select(team_members).order_by(team_members.c.disabled_at.is_not(None), team_members.c.email)
    )
    return [member_from(r) for r in rows]


def member_by_id(conn: Connection, member_id: int) -> Member:
    row = conn.execute(select(team_members).where(team_members.c.id == member_id)).first()
    if row is None:
        raise NotFound("member", member_id)
    return member_from(row)


def member_by_email(conn: Connection, email: str) -> Member | None:
    """The member with this e-mail (compared lower-cased), or None."""
    try:
        normalized = _email(email)
    except InvalidInput:
        return None
    row = conn.execute(select(team_members).where(team_members.c.email == normalized)).first()
    return None if row is None else member_from(row)


def _audit(conn: Connection, action: str, member: int, actor: str, at: datetime, **kw: Any) -> None:
    audit.record(
        conn, actor=actor, action=action, object_type="team_member", object_id=member, at=at, **kw
    )


def add_member(
    conn: Connection,
    email: str,
    role: str,
    *,
    name: str = "",
    time_zone: str = "UTC",
    actor: str,
    at: datetime,
) -> PasswordLink:
    """Add a member with no password yet; returns the one-time link to set one."""
    address = _email(email)
    values = {
        "email": address,
        "name": _name(name, address),
        "role": _role(role),
        "time_zone": _time_zone(time_zone),
        "created_at": at,
    }
    if member_by_email(conn, address) is not None:
        raise Conflict("email: a member with this e-mail exists")
    member_id = int(
        conn.execute(
            insert(team_members).values(**values).returning(team_members.c.id)
        ).scalar_one()
    )
    _audit(conn, "member.add", member_id, actor, at, role=role)
    return issue_password_link(conn, member_id, actor=actor, at=at)


def issue_password_link(
    conn: Connection, member_id: int, *, actor: str, at: datetime
) -> PasswordLink:
    """A new one-time link to set the password (any earlier link stops working)."""
    member = member_by_id(conn, member_id)
    if not member.active:
        raise Conflict("member: disabled")
    token = secrets.token_urlsafe(32)
    expires = at + LINK_VALID_FOR
    conn.execute(
        update(team_members)
        .where(team_members.c.id == member_id)
        .values(link_digest=digest(token), link_expires_at=expires)
    )
    _audit(conn, "member.password_link", member_id, actor, at)
    return PasswordLink(member_by_id(conn, member_id), token, expires)


def member_by_link(conn: Connection, token: str, *, at: datetime) -> Member:
    """The active member a current, unused link belongs to; else InvalidInput on `link`."""
    row = None
    if 20 <= len(token) <= 100:
        row = conn.execute(
            select(team_members).where(team_members.c.link_digest == digest(token))
        ).first()
    if row is None or row.disabled_at is not None or row.link_expires_at <= at:
        raise InvalidInput("link", "unknown, already used or expired: ask an admin for a new one")
    return member_from(row)


def set_password_with_link(conn: Connection, token: str, password: str, *, at: datetime) -> Member:
    """Set the password from a one-time link; the link is spent and open sessions end."""
    member = member_by_link(conn, token, at=at)
    check_new_password(password, email=member.email)
    _store_password(conn, member.id, password, at)
    end_sessions_of(conn, member.id, why="password", at=at)
    _audit(conn, "member.password_set", member.id, f"member:{member.id}", at, via="link")
    return member_by_id(conn, member.id)


def change_password(
    conn: Connection,
    member_id: int,
    current: str,
    new: str,
    *,
    keep_session: str | None,
    at: datetime,
) -> None:
    """The member changes their own password; their other sessions end."""
    row = conn.execute(select(team_members).where(team_members.c.id == member_id)).first()
    if row is None or not verify_password(row.password_hash, current):
        raise InvalidInput("current_password", "is not your current password")
    check_new_password(new, email=row.email)
    _store_password(conn, member_id, new, at)
    end_sessions_of(conn, member_id, why="password", at=at, keep=keep_session)
    _audit(conn, "member.password_set", member_id, f"member:{member_id}", at, via="change")


def _store_password(conn: Connection, member_id: int, password: str, at: datetime) -> None:
    conn.execute(
        update(team_members)
        .where(team_members.c.id == member_id)
        .values(
            password_hash=hash_password(password),
            password_set_at=at,
            link_digest=None,
            link_expires_at=None,
        )
    )


def _other_admins(conn: Connection, member_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                team_members.c.role == "admin",
                team_members.c.disabled_at.is_(None),
                team_members.c.id != member_id,
            )
        ).scalar_one()
    )


def change_role(conn: Connection, member_id: int, role: str, *, actor: str, at: datetime) -> Member:
    """Give the member another role; their sessions end (they log in again under it)."""
    member = member_by_id(conn, member_id)
    _role(role)
    if role == member.role:
        return member
    if member.role == "admin" and member.active and _other_admins(conn, member_id) == 0:
        raise Conflict("role: the last active admin keeps the admin role")
    conn.execute(update(team_members).where(team_members.c.id == member_id).values(role=role))
    ended = end_sessions_of(conn, member_id, why="role", at=at)
    _audit(conn, "member.role", member_id, actor, at, role=role, was=member.role, ended=ended)
    return member_by_id(conn, member_id)


def disable_member(conn: Connection, member_id: int, *, actor: str, at: datetime) -> Member:
    """Disable the member: no login, no link, and every open session ends now."""
    member = member_by_id(conn, member_id)
    if not member.active:
        raise Conflict("member: already disabled")
    if member.role == "admin" and _other_admins(conn, member_id) == 0:
        raise Conflict("member: the last active admin cannot be disabled")
    conn.execute(
        update(team_members)
        .where(team_members.c.id == member_id)
        .values(disabled_at=at, link_digest=None, link_expires_at=None)
    )
    ended = end_sessions_of(conn, member_id, why="disabled", at=at)
    _audit(conn, "member.disable", member_id, actor, at, ended=ended)
    return member_by_id(conn, member_id)


def set_time_zone(conn: Connection, member_id: int, time_zone: str, *, at: datetime) -> Member:
    """The member's own time zone, in which the team pages show every time."""
    conn.execute(
        update(team_members)
        .where(team_members.c.id == member_id)
        .values(time_zone=_time_zone(time_zone))
    )
    _audit(conn, "member.time_zone", member_id, f"member:{member_id}", at)
    return member_by_id(conn, member_id)
