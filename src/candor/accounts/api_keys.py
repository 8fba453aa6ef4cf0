"""API keys with roles: shown once at creation, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Connection, insert, select

from candor.core.errors import InvalidInput
from candor.ledger import audit
from candor.store.tables import api_keys

ROLES: Final = ("admin", "marketer", "dpo", "auditor")
KEY_PREFIX: Final = "cnd_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id (as the audit actor) and its role."""

    key_id: int
    role: str
    name: str

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    @property
    def sees_identity(self) -> bool:
        """Marketers never see identifying data in clear."""
        return self.role in ("admin", "dpo", "auditor")

    @property
    def may_write(self) -> bool:
        return self.role != "auditor"


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
    return None if row is None else Principal(int(row.id), row.role, row.name)
