"""Event types and payloads: pseudonymous, minimal, shaped per connector at delivery.

Stored per event: what receivers need, without identifying data. The shared identifier
(external_id, or the e-mail address for identifier=email connectors) is read at delivery;
an erased person's is frozen, sealed, at erasure. contact.erased carries nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from candor.ledger.connector_settings import WebhookConnector
from candor.ledger.external_ids import external_value
from candor.store.tables import addresses, contacts
from candor.store.vault import Vault

# Consent statuses a receiver can act on (requested and pending change nothing there).
SHARED_STATUSES = frozenset({"granted", "confirmed", "refused", "withdrawn", "expired"})
IDENTITY_CHANGES = ("first_name", "last_name", "addresses.email")
CHUNK = 1000


def identifiers(
    conn: Connection, vault: Vault, contact_ids: Iterable[int], needed: set[str]
) -> dict[int, dict[str, str]]:
    """Per (not erased) contact its shared identifiers of the kinds `needed`."""
    wanted = sorted(set(contact_ids))
    out: dict[int, dict[str, str]] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = conn.execute(
            select(contacts.c.id, contacts.c.key_id, contacts.c.external_id).where(
                contacts.c.id.in_(chunk), contacts.c.erased_at.is_(None)
            )
        ).all()
        keys = {int(r.id): r.key_id for r in rows}
        vault.load(keys.values())
        for r in rows:
            external = external_value(vault, r.key_id, r.external_id)
            out[int(r.id)] = (
                {"external_id": external} if "external_id" in needed and external else {}
            )
        if "email" in needed:
            for cid, email in _emails(conn, vault, keys).items():
                out[cid]["email"] = email
    return out


def holders(conn: Connection, contact_ids: list[int], kind: str) -> set[int]:
    """Which contacts have an identifier of this kind at all (no decryption needed)."""
    if kind == "email":
        query = select(addresses.c.contact_id).where(
            addresses.c.contact_id.in_(contact_ids), addresses.c.channel == "email"
        )
    else:
        query = select(contacts.c.id).where(
            contacts.c.id.in_(contact_ids), contacts.c.external_id.is_not(None)
        )
    return {int(v) for v in conn.execute(query.distinct()).scalars()}


def _emails(conn: Connection, vault: Vault, keys: dict[int, str]) -> dict[int, str]:
    """Each contact's first e-mail address (decrypted with its own key)."""
    rows = conn.execute(
        select(addresses.c.contact_id, addresses.c.value)
        .where(addresses.c.contact_id.in_(list(keys)), addresses.c.channel == "email")
        .order_by(addresses.c.contact_id, addresses.c.id)
    ).all()
    vault.load(keys[r.contact_id] for r in rows)
    out: dict[int, str] = {}
    for r in rows:
        if r.contact_id in out:
            continue
        plain = vault.decrypt(keys[r.contact_id], "address:email", r.value)
        if plain is not None:
            out[int(r.contact_id)] = plain.decode()
    return out


def consent_data(row: dict[str, Any]) -> dict[str, Any]:
    """consent.changed: purpose, theme, channel, status; an address scope only as a flag."""
    return {
        "purpose": row["purpose_id"],
        "theme": row["theme"],
        "channel": row["channel"],
        "address": row["address_id"] is not None,
        "status": row["status"],
        "occurred_at": row["occurred_at"].isoformat(),
    }


def block_data(
    block_id: int, channel: str | None, address_id: int | None, theme: str | None
) -> dict[str, Any]:
    """block.set: the block's id (for a later lift) and its scope; no reason text."""
    return {
        "block_id": str(block_id),
        "channel": channel,
        "theme": theme,
        "address": address_id is not None,
    }


def payload(
    row: Any, data: dict[str, Any], identifier: str, connector: WebhookConnector, source: str
) -> dict[str, Any]:
    """The JSON one connector receives: its kind of identifier and the data it may see."""
    if row.type == "contact.rectified" and connector.identifier != "email":
        changes = data.get("changes", {})
        data = {"changes": {k: v for k, v in changes.items() if k not in IDENTITY_CHANGES}}
    if row.type == "contact.erased":
        data = {}
    return {
        "id": row.event_id,
        "type": row.type,
        "occurred_at": row.occurred_at.isoformat(),
        "source": source,
        "subject": {"identifier_type": connector.identifier, "identifier": identifier},
        "data": data,
    }


def encode(value: dict[str, Any]) -> bytes:
    """Compact, stable JSON (the bytes that are signed are the bytes that are sent)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str).encode()
