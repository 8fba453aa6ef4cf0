"""Contacts: create, read, find by address and rectify; identifying data only in the vault."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from candor.core.errors import Conflict, Erased, InvalidInput, NotFound
from candor.figures import consent_tallies as tallies
from candor.ledger import triggers
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.external_ids import external_index, external_value, seal_external
from candor.ledger.profile import attribute_types, coerce_attributes
from candor.ledger.suppression import refuse_suppressed
from candor.store.engine import is_sqlite
from candor.store.sql import in_batch
from candor.store.tables import addresses, audit_log, contacts
from candor.store.vault import Vault

IDENTITY_FIELDS = ("first_name", "last_name")


@dataclass
class NewAddress:
    channel: str
    value: str


@dataclass
class NewContact:
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    addresses: list[NewAddress] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    language: str = "en"
    timezone: str = "UTC"
    source: str = "api"


def normalized_addresses(items: list[NewAddress], path: str = "addresses") -> list[tuple[str, str]]:
    """(channel, normalised value) per address, or InvalidInput naming the item."""
    out = []
    for index, item in enumerate(items):
        try:
            out.append((item.channel, normalize(item.channel, item.value)))
        except AddressError as exc:
            raise InvalidInput(f"{path}[{index}].value", str(exc)) from None
    return out


def create_contact(
    conn: Connection, vault: Vault, new: NewContact, *, actor: str, at: datetime
) -> int:
    """Insert one contact with its encrypted identity and addresses; returns its id."""
    return create_contacts(conn, vault, [new], actor=actor, at=at)[0]


def create_contacts(
    conn: Connection, vault: Vault, items: Sequence[NewContact], *, actor: str, at: datetime
) -> list[int]:
    """Insert contacts with their encrypted identities and addresses, a statement per table
    (not per contact); returns their ids in order. An address may belong to one only."""
    if not items:
        return []
    types = attribute_types(conn)
    attrs = [coerce_attributes(new.attributes, types) for new in items]
    normalized = [normalized_addresses(new.addresses) for new in items]
    for found in normalized:  # erased addresses need new consent
        refuse_suppressed(conn, found, vault.blind_index)
    keys = vault.create_keys(len(items))
    rows = [
        _contact_row(vault, key_id, new, values, at)
        for key_id, new, values in zip(keys, items, attrs, strict=True)
    ]
    try:
        inserted = conn.execute(
            insert(contacts).returning(contacts.c.id, sort_by_parameter_order=True), rows
        )
        ids = [int(i) for i in inserted.scalars()]
        _insert_addresses(conn, vault, ids, keys, normalized, at)
    except IntegrityError:
        raise Conflict("external_id: a contact with this external_id exists") from None
    tallies.write(conn, {}, live=len(ids))  # Mission Control's count of live contacts
    triggers.contacts_created(conn, ids, at)
    conn.execute(
        insert(audit_log),
        [
            {"at": at, "actor": actor, "action": "contact.create", "object_type": "contact",
             "object_id": str(contact_id), "details": {}}
            for contact_id in ids
        ],
    )  # fmt: skip
    return ids


def _contact_row(
    vault: Vault, key_id: str, new: NewContact, attributes: dict[str, Any], at: datetime
) -> dict[str, Any]:
    identity = {"first_name": new.first_name, "last_name": new.last_name}
    external = new.external_id
    return {
        "external_index": None if external is None else external_index(vault, external),
        "external_id": None if external is None else seal_external(vault, key_id, external),
        "key_id": key_id,
        "identity": vault.encrypt(key_id, "identity", json.dumps(identity).encode()),
        "attributes": attributes,
        "language": new.language,
        "timezone": new.timezone,
        "source": new.source,
        "created_at": at,
        "updated_at": at,
    }


def _insert_addresses(
    conn: Connection,
    vault: Vault,
    ids: list[int],
    keys: list[str],
    normalized: list[list[tuple[str, str]]],
    at: datetime,
) -> None:
    """The new contacts' addresses in one statement; Conflict when one is taken already."""
    rows = [
        {
            "contact_id": contact_id,
            "channel": channel,
            "blind_index": vault.blind_index(channel, value),
            "value": vault.encrypt(key_id, f"address:{channel}", value.encode()),
            "deliverable": True,
            "created_at": at,
        }
        for contact_id, key_id, found in zip(ids, keys, normalized, strict=True)
        for channel, value in dict.fromkeys(found)  # the same address twice is one address
    ]
    if not rows:
        return
    taken = conn.execute(
        select(addresses.c.channel).where(
            in_batch(addresses.c.blind_index, sorted({r["blind_index"] for r in rows}))
        )
    ).first()
    if taken is not None:
        raise Conflict(f"addresses: this {taken.channel} address belongs to another contact")
    conn.execute(insert(addresses), rows)


def add_address(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    key_id: str,
    channel: str,
    value: str,
    *,
    at: datetime,
) -> int:
    """Attach a normalised address; an address belongs to one contact only."""
    index = vault.blind_index(channel, value)
    owner = conn.execute(
        select(addresses.c.contact_id).where(
            addresses.c.channel == channel, addresses.c.blind_index == index
        )
    ).scalar()
    if owner is not None:
        if owner == contact_id:
            return int(
                conn.execute(
                    select(addresses.c.id).where(
                        addresses.c.channel == channel, addresses.c.blind_index == index
                    )
                ).scalar_one()
            )
        raise Conflict(f"addresses: this {channel} address belongs to another contact")
    return int(
        conn.execute(
            insert(addresses)
            .values(
                contact_id=contact_id,
                channel=channel,
                blind_index=index,
                value=vault.encrypt(key_id, f"address:{channel}", value.encode()),
                deliverable=True,
                created_at=at,
            )
            .returning(addresses.c.id)
        ).scalar_one()
    )


def contact_row(conn: Connection, contact_id: int) -> Any:
    """The contact's row; NotFound, or Erased for a contact gone by erasure."""
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).mappings().first()
    if row is None:
        raise NotFound("contact", contact_id)
    if row["erased_at"] is not None:
        raise Erased(contact_id, row["erased_at"])
    return row


def read_contact(
    conn: Connection, vault: Vault, contact_id: int, *, identifying: bool = True
) -> dict[str, Any]:
    """The contact as the API shows it; identifying=False leaves names and addresses out."""
    row = contact_row(conn, contact_id)
    identity: dict[str, Any] = {"first_name": None, "last_name": None}
    if identifying:
        raw = vault.decrypt(row["key_id"], "identity", row["identity"])
        identity = json.loads(raw) if raw else identity
    addr_rows = conn.execute(
        select(addresses).where(addresses.c.contact_id == contact_id).order_by(addresses.c.id)
    ).mappings()
    items = []
    for a in addr_rows:
        value = None
        if identifying:
            plain = vault.decrypt(row["key_id"], f"address:{a['channel']}", a["value"])
            value = plain.decode() if plain is not None else None
        items.append(
            {
                "id": a["id"],
                "channel": a["channel"],
                "value": value,
                "deliverable": a["deliverable"],
            }
        )
    return {
        "id": row["id"],
        "external_id": external_value(vault, row["key_id"], row["external_id"]),
        **identity,
        "addresses": items,
        "attributes": row["attributes"],
        "language": row["language"],
        "timezone": row["timezone"],
        "created_at": row["created_at"].isoformat(),
        "restricted": row["restricted_at"] is not None,
        "objected": row["objected_at"] is not None,
    }


def find_by_address(conn: Connection, vault: Vault, channel: str, value: str) -> int | None:
    """The contact holding an address, via the blind index (phones match sms and whatsapp)."""
    try:
        normalized = normalize(channel, value)
    except AddressError as exc:
        raise InvalidInput("email" if channel == "email" else "phone", str(exc)) from None
    channels = ("sms", "whatsapp") if channel in ("sms", "whatsapp") else (channel,)
    index = vault.blind_index(channel, normalized)
    found = conn.execute(
        select(addresses.c.contact_id)
        .join(contacts, contacts.c.id == addresses.c.contact_id)
        .where(
            addresses.c.channel.in_(channels),
            addresses.c.blind_index == index,
            contacts.c.erased_at.is_(None),
        )
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None


def lock_contact(conn: Connection, contact_id: int) -> Any:
    """Serialise writers of one contact's chain (row lock on PostgreSQL, the DB lock on SQLite)."""
    row = contact_row(conn, contact_id)
    if not is_sqlite(conn.engine):
        conn.execute(select(contacts.c.id).where(contacts.c.id == contact_id).with_for_update())
    return row


def address_id_for(
    conn: Connection, vault: Vault, contact_id: int, channel: str | None, value: str | None
) -> int | None:
    """The id of one of the contact's own addresses, given its value."""
    if value is None:
        return None
    if channel is None:
        raise InvalidInput("channel", "required when an address is given")
    try:
        index = vault.blind_index(channel, normalize(channel, value))
    except AddressError as exc:
        raise InvalidInput("address", str(exc)) from None
    found = conn.execute(
        select(addresses.c.id).where(
            addresses.c.contact_id == contact_id,
            addresses.c.channel == channel,
            addresses.c.blind_index == index,
        )
    ).scalar()
    if found is None:
        raise InvalidInput("address", "not an address of this contact")
    return int(found)
