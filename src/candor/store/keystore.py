"""The key store: contact data keys, wrapped by the master key, in a database of their own."""

from __future__ import annotations

from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table

from candor.store.types import UTCDateTime

keystore_metadata = MetaData()

contact_keys = Table(
    "contact_keys",
    keystore_metadata,
    Column("key_id", String(32), primary_key=True),
    Column("wrapped", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


def init_keystore(engine: Engine) -> None:
    """Create the key store's single table; it has no history to migrate."""
    keystore_metadata.create_all(engine)
