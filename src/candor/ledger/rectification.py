"""Rectification (Art. 16): change names, attributes, language, time zone, add addresses or
correct one (`corrections`: the address row keeps its id, so consents scoped to it follow).

Every changed value keeps its old and new value sealed under the contact's key in the
rectifications table, and the change is published to connectors (contact.rectified).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from candor.core.errors import Conflict, InvalidInput
from candor.ledger import audit, triggers
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.contacts import (
    IDENTITY_FIELDS,
    NewAddress,
    add_address,
    contact_row,
    normalized_addresses,
)
from candor.ledger.events import publish_rectified
from candor.ledger.profile import attribute_types, coerce_attributes
from candor.ledger.suppression import refuse_suppressed
from candor.store.tables import addresses, contacts, rectifications
from candor.store.vault import Vault

CHANGEABLE = frozenset(
    {*IDENTITY_FIELDS, "attributes", "addresses", "corrections", "language", "timezone"}
)


def rectify_contact(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
    at: datetime,
) -> list[str]:
    """Apply changes (names, attributes, new addresses); each change keeps old and new value."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "cannot be changed")
    row = contact_row(conn, contact_id)
    change = _Rectifying(conn, vault, contact_id, row["key_id"], actor, at)
    change.identity(row["identity"], changes)
    if "attributes" in changes:
        change.attributes(row["attributes"], changes["attributes"])
    for name in ("language", "timezone"):
        if name in changes and changes[name] != row[name]:
            change.values[name] = changes[name]
            change.changed.append(name)
    change.addresses(changes.get("addresses") or [])
    for n, item in enumerate(changes.get("corrections") or []):
        change.correct(f"corrections[{n}]", item)
    if change.values:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(updated_at=at, **change.values)
        )
    publish_rectified(conn, vault, contact_id, change.changed, changes, at)
    attributes = [
        n.removeprefix("attributes.") for n in change.changed if n.startswith("attributes.")
    ]
    triggers.attributes_changed(conn, contact_id, attributes, at)
    audit.record(
        conn,
        actor=actor,
        action="contact.rectify",
        object_type="contact",
        object_id=contact_id,
        at=at,
        fields=change.changed,
    )
    return change.changed


@dataclass
class _Rectifying:
    """One rectification under way: the column values to write and the fields changed."""

    conn: Connection
    vault: Vault
    contact_id: int
    key_id: str
    actor: str
    at: datetime
    values: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)

    def identity(self, sealed: bytes | None, changes: dict[str, Any]) -> None:
        raw = self.vault.decrypt(self.key_id, "identity", sealed)
        identity = json.loads(raw) if raw else {}
        new_identity = dict(identity)
        for name in IDENTITY_FIELDS:
            if name in changes and changes[name] != identity.get(name):
                self.history(name, identity.get(name), changes[name])
                new_identity[name] = changes[name]
        if new_identity != identity:
            blob = json.dumps(new_identity).encode()
            self.values["identity"] = self.vault.encrypt(self.key_id, "identity", blob)

    def attributes(self, current: dict[str, Any], given: dict[str, Any]) -> None:
        merged = dict(current)
        for name, value in coerce_attributes(given, attribute_types(self.conn)).items():
            if merged.get(name) != value:
                self.history(f"attributes.{name}", merged.get(name), value)
                merged[name] = value
        self.values["attributes"] = merged

    def addresses(self, given: list[dict[str, Any]]) -> None:
        added = normalized_addresses([NewAddress(**a) for a in given])
        refuse_suppressed(self.conn, added, self.vault.blind_index)  # erased: new consent first
        for channel, value in added:
            if self._holds(channel, value):
                continue
            add_address(
                self.conn, self.vault, self.contact_id, self.key_id, channel, value, at=self.at
            )
            self.history(f"addresses.{channel}", None, value)

    def correct(self, path: str, item: dict[str, Any]) -> None:
        """Replace a wrong address ({"address": id, "value": new}) in its row."""
        row = self.conn.execute(
            select(addresses).where(
                addresses.c.id == item.get("address"), addresses.c.contact_id == self.contact_id
            )
        ).first()
        if row is None:
            raise InvalidInput(f"{path}.address", "not an address of this contact")
        try:
            value = normalize(row.channel, str(item.get("value") or ""))
        except AddressError as exc:
            raise InvalidInput(f"{path}.value", str(exc)) from None
        refuse_suppressed(self.conn, [(row.channel, value)], self.vault.blind_index, "corrections")
        index = self.vault.blind_index(row.channel, value)
        if index == row.blind_index:
            return
        if self._owned_elsewhere(row.channel, index):
            raise Conflict(f"{path}.value: this {row.channel} address is held already")
        field_name = f"address:{row.channel}"
        old = self.vault.decrypt(self.key_id, field_name, row.value)
        self.conn.execute(
            update(addresses)
            .where(addresses.c.id == row.id)
            .values(
                blind_index=index,
                value=self.vault.encrypt(self.key_id, field_name, value.encode()),
                deliverable=True,
            )
        )
        self.history(f"addresses.{row.channel}", old.decode() if old else None, value)

    def _owned_elsewhere(self, channel: str, index: str) -> bool:
        """Whether any address row (this contact's or another's) holds the value already."""
        owner = self.conn.execute(
            select(addresses.c.contact_id).where(
                addresses.c.channel == channel, addresses.c.blind_index == index
            )
        ).scalar()
        return owner is not None

    def _holds(self, channel: str, value: str) -> bool:
        index = self.vault.blind_index(channel, value)
        found = self.conn.execute(
            select(addresses.c.id).where(
                addresses.c.contact_id == self.contact_id,
                addresses.c.channel == channel,
                addresses.c.blind_index == index,
            )
        ).first()
        return found is not None

    def history(self, name: str, old: Any, new: Any) -> None:
        """Keep the old and new value of one field, sealed, and note the field as changed."""

        def seal(value: Any) -> bytes | None:
            if value is None:
                return None
            return self.vault.encrypt(self.key_id, f"rect:{name}", json.dumps(value).encode())

        self.conn.execute(
            insert(rectifications).values(
                contact_id=self.contact_id,
                at=self.at,
                actor=self.actor,
                field=name,
                old_value=seal(old),
                new_value=seal(new),
            )
        )
        self.changed.append(name)
