"""Logging in: e-mail and password checked against the argon2 hash, with limits per account
and per client address.

Ten wrong passwords for one e-mail within 15 minutes lock that login for 15 minutes; known
and unknown e-mails are counted and locked alike (keyed hashes, never the values), so a lock
tells nothing about who has an account. An address with 50 wrong passwords in 15 minutes is
refused until its oldest counted failure is older than that.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import Connection, delete, func, insert, select, update

from candor.accounts.members import member_by_email
from candor.accounts.passwords import hash_password, needs_rehash, verify_password
from candor.accounts.sessions import start_session
from candor.ledger import audit
from candor.store.team_tables import team_login_failures, team_login_locks, team_members

MAX_FAILURES: Final = 10
WINDOW: Final = timedelta(minutes=15)
LOCK_FOR: Final = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS: Final = 50

Refusal = Literal["wrong", "locked", "address"]


@dataclass(frozen=True)
class Attempt:
    """What the login form sent and where from (the address only ever stored as a keyed hash)."""

    email: str
    password: str
    ip: str


@dataclass(frozen=True)
class LoginResult:
    """A session token, or why not: wrong credentials, the login locked, the address limited."""

    token: str | None = None
    refused: Refusal | None = None
    until: datetime | None = None


def _keyed(pepper: bytes, kind: str, value: str) -> str:
    return hmac.new(pepper, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def log_in(conn: Connection, attempt: Attempt, *, pepper: bytes, at: datetime) -> LoginResult:
    """Check the attempt; a failure is recorded (and may lock) in the caller's transaction."""
    account = _keyed(pepper, "account", attempt.email.strip().lower())
    address = _keyed(pepper, "ip", attempt.ip)
    locked = conn.execute(
        select(team_login_locks.c.locked_until).where(
            team_login_locks.c.account_digest == account, team_login_locks.c.locked_until > at
        )
    ).scalar()
    if locked is not None:
        return LoginResult(refused="locked", until=locked)
    address_limit = _address_limited(conn, address, at)
    if address_limit is not None:
        return LoginResult(refused="address", until=address_limit)
    member = member_by_email(conn, attempt.email)
    stored = None
    if member is not None and member.active:
        stored = conn.execute(
            select(team_members.c.password_hash).where(team_members.c.id == member.id)
        ).scalar()
    if not verify_password(stored, attempt.password):
        return _failed(conn, account, address, member.id if member else None, at)
    assert member is not None and stored is not None
    conn.execute(delete(team_login_failures).where(team_login_failures.c.account_digest == account))
    if needs_rehash(stored):
        conn.execute(
            update(team_members)
            .where(team_members.c.id == member.id)
            .values(password_hash=hash_password(attempt.password))
        )
    token = start_session(conn, member.id, at=at)
    audit.record(
        conn,
        actor=member.principal.actor,
        action="session.login",
        object_type="team_member",
        object_id=member.id,
        at=at,
    )
    return LoginResult(token=token)


def _address_limited(conn: Connection, address: str, at: datetime) -> datetime | None:
    """When the address may try again, if it has used up its failures in the window."""
    times = select(team_login_failures.c.at).where(
        team_login_failures.c.ip_digest == address, team_login_failures.c.at > at - WINDOW
    )
    count = conn.execute(select(func.count()).select_from(times.subquery())).scalar_one()
    if count < MAX_FAILURES_PER_ADDRESS:
        return None
    oldest = conn.execute(times.order_by(team_login_failures.c.at).limit(1)).scalar_one()
    until: datetime = oldest + WINDOW
    return until


def _failed(
    conn: Connection, account: str, address: str, member_id: int | None, at: datetime
) -> LoginResult:
    """Record a wrong password; the tenth in the window locks the login."""
    failures = team_login_failures
    conn.execute(delete(failures).where(failures.c.at <= at - WINDOW))  # keeps the table small
    conn.execute(insert(failures).values(account_digest=account, ip_digest=address, at=at))
    count = conn.execute(
        select(func.count()).where(failures.c.account_digest == account)
    ).scalar_one()
    audit.record(
        conn,
        actor="anonymous",
        action="session.login_failed",
        object_type="team_member",
        object_id=member_id or "-",
        at=at,
        failures=count,
    )
    if count < MAX_FAILURES:
        return LoginResult(refused="wrong")
    until = at + LOCK_FOR
    conn.execute(delete(team_login_locks).where(team_login_locks.c.account_digest == account))
    conn.execute(
        insert(team_login_locks).values(account_digest=account, locked_until=until, failures=count)
    )
    conn.execute(delete(failures).where(failures.c.account_digest == account))
    audit.record(
        conn,
        actor="anonymous",
        action="session.locked",
        object_type="team_member",
        object_id=member_id or "-",
        at=at,
        until=until.isoformat(),
    )
    return LoginResult(refused="locked", until=until)
