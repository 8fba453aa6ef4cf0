"""Tables of the channels' feedback: delivery reports (callbacks, bounces, complaints).

Every report a provider or a mail server sends back is kept: applied to its communication,
waiting for it (a callback faster than the send's own record), or held for review when it
cannot be read or matched. Evidence is sealed with the contact's key, like block evidence.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, LargeBinary, String, Table

from candor.store.tables import Id, metadata
from candor.store.types import UTCDateTime

delivery_reports = Table(
    "delivery_reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # None while a report matches nobody (held for review).
    Column("contact_id", Id, nullable=True),
    Column("communication_id", Id, nullable=True),
    Column("outbox_id", Id, nullable=True),
    Column("address_id", Id, nullable=True),
    Column("channel", String(16), nullable=False),
    # status (a provider's callback) | bounce (RFC 3464) | complaint (RFC 5965) | unreadable
    Column("kind", String(16), nullable=False),
    # the delivery state it moves the message to (channels.reports.STATES)
    Column("outcome", String(16), nullable=False),
    # what it did to the address: none | undeliverable | soft_bounce | block
    Column("effect", String(16), nullable=False),
    Column("detail", String(64), nullable=True),
    # applied | waiting (its message not yet recorded) | review (unreadable or unmatched)
    Column("state", String(16), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # The report's machine-readable part as JSON, sealed with the contact's key.
    Column("evidence", LargeBinary, nullable=True),
    # Only for reports held for review: the message as received (bounded), to read by hand,
    # sealed under a key of its own (key_id), destroyed when the report is discarded.
    Column("raw", LargeBinary, nullable=True),
    Column("key_id", String(32), nullable=True),
    Index("ix_delivery_reports_contact", "contact_id"),
    Index("ix_delivery_reports_outbox", "outbox_id", "state"),
    Index("ix_delivery_reports_address", "address_id", "effect", "received_at"),
    Index("ix_delivery_reports_state", "state", "id"),
)
