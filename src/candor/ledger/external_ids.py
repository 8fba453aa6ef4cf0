"""The back-end's customer number (external_id): a keyed hash to find it, ciphertext to read it.

Kept under the contact's own key, so crypto-shredding leaves an old backup unable to link
the pseudonymous profile to anyone.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from candor.store.tables import contacts
from candor.store.vault import Vault


def external_index(vault: Vault, external_id: str) -> str:
    """The keyed hash that finds a contact by the back-end's customer number."""
    return vault.blind_index("external", external_id)


def seal_external(vault: Vault, key_id: str, external_id: str) -> bytes:
    return vault.encrypt(key_id, "external_id", external_id.encode())


def external_value(vault: Vault, key_id: str, sealed: bytes | None) -> str | None:
    """The customer number in clear, or None (none given, or the key was destroyed)."""
    plain = vault.decrypt(key_id, "external_id", sealed)
    return None if plain is None else plain.decode()


def find_by_external_id(conn: Connection, vault: Vault, external_id: str) -> int | None:
    """The (not erased) contact holding a customer number, via its keyed hash."""
    found = conn.execute(
        select(contacts.c.id).where(
            contacts.c.external_index == external_index(vault, external_id),
            contacts.c.erased_at.is_(None),
        )
    ).scalar()
    return int(found) if found is not None else None
