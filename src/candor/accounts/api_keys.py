"""API keys with roles: shown once at creation, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, insert, select, update

from candor.accounts.principal import ROLES, Principal
from candor.core.errors import Conflict, InvalidInput, NotFound
from candor.ledger import audit
from candor.store.tables import api_keys

KEY_PREFIX: Final = "cnd_"
__all__ = [
    "ROLES",
    "ApiKey",
    "Principal",
    "authenticate",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
]


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never the key itself (only its hash is kept)."""

    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(conn: Connection, role: str, name: str, *, actor: str, at: datetime) -> str:
    """Create a key for `role`; the plain key is returned once and never stored."""
    if role not in ROLES:
        raise InvalidInput("role", f"must be one of {', '.join(ROLES)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.execute(
        insert(api_keys)
        .values(name=name, role=role, key_hash=_digest(key), created_at=at)
        .returning(api_keys.c.id)
    ).scalar_one()
    audit.record(
        conn,
        actor=actor,
        action="api_key.create",
        object_type="api_key",
        object_id=key_id,
        at=at,
        role=role,
    )
    return key


def authenticate(conn: Connection, key: str) -> Principal | None:
    """The principal for a presented key, or None when unknown or revoked."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = conn.execute(
        select(api_keys.c.id, api_keys.c.role, api_keys.c.name).where(
            api_keys.c.key_hash == _digest(key), api_keys.c.revoked_at.is_(None)
        )
    ).first()
    return None if row is None else Principal.of_key(int(row.id), row.role, row.name)


_LISTED = select(
    api_keys.c.id, api_keys.c.name, api_keys.c.role, api_keys.c.created_at, api_keys.c.revoked_at
)


def list_api_keys(conn: Connection) -> list[ApiKey]:
    """Every key, oldest first, revoked ones included (they stay for the audit trail)."""
    rows = conn.execute(_LISTED.order_by(api_keys.c.id))
    return [ApiKey(int(r.id), r.name, r.role, r.created_at, r.revoked_at) for r in rows]


def revoke_api_key(conn: Connection, key_id: int, *, actor: str, at: datetime) -> ApiKey:
    """Revoke a key: it stops working at once; revoking twice is a conflict."""
    row = conn.execute(_LISTED.where(api_keys.c.id == key_id)).first()
    if row is None:
        raise NotFound("api key", key_id)
    if row.revoked_at is not None:
        raise Conflict(f"api key {key_id}: already revoked")
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=at))
    audit.record(
        conn, actor=actor, action="api_key.revoke", object_type="api_key", object_id=key_id, at=at
    )
    return ApiKey(int(row.id), row.name, row.role, row.created_at, at)
