"""The team's contacts list: filters and keyset paging over the pseudonymous profile.

Names are read (decrypted) only when the caller may see identity, and only for the page
shown. A `purpose` filter asks the SQL twin of decide(), so the list agrees with the gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, Select, func, select

from candor.core.errors import InvalidInput
from candor.ledger.profile import attribute_types
from candor.ledger.registry import purpose_facts
from candor.policy.decide import ALLOWED
from candor.policy.twin import decisions
from candor.store.tables import addresses, contacts
from candor.store.vault import Vault

PAGE: Final = 50
Status = Literal["any", "active", "restricted", "objected"]


@dataclass(frozen=True)
class ContactFilter:
    """What the list shows: a status, one attribute's value, and/or the gate's answer."""

    status: Status = "any"
    attribute: str | None = None
    value: str | None = None
    purpose: str | None = None
    channel: str | None = None
    allowed: bool = True


@dataclass(frozen=True)
class ContactRow:
    """One listed contact: the pseudonymous profile, names only for those who see identity."""

    id: int
    created_at: datetime
    language: str
    attributes: dict[str, Any]
    channels: list[str]
    restricted: bool
    objected: bool
    name: str | None = None


@dataclass(frozen=True)
class ContactPage:
    rows: list[ContactRow]
    total: int
    next_after: int | None
    attributes: list[str] = field(default_factory=list)


def _conditions(conn: Connection, wanted: ContactFilter, at: datetime) -> list[Any]:
    c = contacts.c
    found: list[Any] = [c.erased_at.is_(None)]
    if wanted.status == "restricted":
        found.append(c.restricted_at.is_not(None))
    elif wanted.status == "objected":
        found.append(c.objected_at.is_not(None))
    elif wanted.status == "active":
        found += [c.restricted_at.is_(None), c.objected_at.is_(None)]
    if wanted.attribute:
        if wanted.attribute not in attribute_types(conn):
            raise InvalidInput("attribute", "not a declared attribute")
        found.append(c.attributes[wanted.attribute].as_string() == (wanted.value or ""))
    if wanted.purpose:
        facts = purpose_facts(conn, wanted.purpose)
        decided = decisions(facts, wanted.channel, None, at, dialect=conn.dialect.name).subquery()
        answer = decided.c.reason == ALLOWED if wanted.allowed else decided.c.reason != ALLOWED
        found.append(c.id.in_(select(decided.c.contact_id).where(answer)))
    return found


def _page_query(where: list[Any], after: int | None, limit: int) -> Select[Any]:
    query = select(contacts).where(*where).order_by(contacts.c.id).limit(limit + 1)
    return query if after is None else query.where(contacts.c.id > after)


def list_contacts(
    conn: Connection,
    wanted: ContactFilter,
    *,
    at: datetime,
    vault: Vault | None = None,
    after: int | None = None,
    limit: int = PAGE,
) -> ContactPage:
    """One page of contacts matching `wanted`, after id `after`; names only given a vault."""
    where = _conditions(conn, wanted, at)
    total = conn.execute(select(func.count()).select_from(contacts).where(*where)).scalar_one()
    rows = list(conn.execute(_page_query(where, after, limit)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    channels = _channels(conn, [r["id"] for r in rows])
    listed = [
        ContactRow(
            id=int(r["id"]),
            created_at=r["created_at"],
            language=r["language"],
            attributes=dict(r["attributes"] or {}),
            channels=channels.get(int(r["id"]), []),
            restricted=r["restricted_at"] is not None,
            objected=r["objected_at"] is not None,
            name=_name(vault, r) if vault is not None else None,
        )
        for r in rows
    ]
    return ContactPage(
        listed, int(total), int(rows[-1]["id"]) if more else None, sorted(attribute_types(conn))
    )


def _channels(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    out: dict[int, list[str]] = {}
    for row in conn.execute(
        select(addresses.c.contact_id, addresses.c.channel)
        .where(addresses.c.contact_id.in_(ids))
        .distinct()
        .order_by(addresses.c.contact_id, addresses.c.channel)
    ):
        out.setdefault(int(row.contact_id), []).append(row.channel)
    return out


def _name(vault: Vault, row: Any) -> str:
    raw = vault.decrypt(row["key_id"], "identity", row["identity"])
    identity = json.loads(raw) if raw else {}
    parts = [identity.get("first_name"), identity.get("last_name")]
    return " ".join(p for p in parts if p)
