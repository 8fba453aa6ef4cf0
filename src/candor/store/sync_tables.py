"""Tables of the connectors: the sync outbox, deliveries per connector, inbound replay guard.

Shared identifiers are read from the contact at delivery; what must outlive the contact row
(an erased person's identifier) or identifies (new names) is sealed with the vault: under a
key of its own for erasure events, destroyed once every connector acknowledged.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from candor.store.tables import Id, metadata
from candor.store.types import UTCDateTime

# One row per domain event, written in the transaction of the change.
sync_events = Table(
    "sync_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    # The connector the change came from (never sent back there).
    Column("origin", String(64), nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    # NULL: the body holds ids and scopes only; else the key identifying parts are sealed with.
    Column("key_id", String(32), nullable=True),
    # What receivers need, without identifying data (ids, scopes, statuses, profile values).
    Column("data", JSON, nullable=False),
    # Identity changes, or an erased person's identifiers, encrypted under key_id.
    Column("sealed", LargeBinary, nullable=True),
    Index("ix_sync_events_contact", "contact_id", "id"),
)

# One row per (event, connector): the state of its signed webhook delivery.
sync_deliveries = Table(
    "sync_deliveries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_row", Id, ForeignKey("sync_events.id", ondelete="CASCADE"), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=True),
    # pending | delivered | dead
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(64), nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("event_row", "connector"),
    Index("ix_sync_deliveries_due", "status", "next_attempt_at"),
    Index("ix_sync_deliveries_line", "connector", "contact_id", "id"),
    # Erasure deletes a person's deliveries and checks none is left (migration 0021).
    Index("ix_sync_deliveries_contact", "contact_id"),
)

# Event ids received from connectors: a replay is answered `duplicate` and applied once.
sync_received = Table(
    "sync_received",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # applied | unknown_subject | ignored (never shown to the sender)
    Column("outcome", String(32), nullable=False),
)

# A block set on a connector's word: lifting it there lifts it here.
sync_block_links = Table(
    "sync_block_links",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("remote_block", String(64), primary_key=True),
    Column("block_id", Id, ForeignKey("blocks.id", ondelete="CASCADE"), nullable=False),
    Index("ix_sync_block_links_block", "block_id"),
)

# Journey data loaded from a back-end system at launch; emptied in the launch transaction.
sync_source_rows = Table(
    "sync_source_rows",
    metadata,
    Column("journey_id", String(64), primary_key=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("data", JSON, nullable=False),
)
