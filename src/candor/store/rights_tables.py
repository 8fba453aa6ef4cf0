"""Tables of the data subject rights: requests, business records, erasure, automated decisions.

Personal content (request details and results, business record data, decision factors) is
stored encrypted under a key from the key store, so destroying that key shreds every copy.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from candor.store.tables import Id, metadata
from candor.store.types import UTCDateTime

# A data subject request (DSR). contact_id is NULL until the identity is known.
dsr_requests = Table(
    "dsr_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # access | portability | rectification | erasure | restriction | objection
    Column("type", String(16), nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True),
    # api | web | email | letter | phone | journey: how the request reached us
    Column("channel", String(16), nullable=False),
    # dpo | admin | subject: who opened it (a subject's request needs verification)
    Column("opened_by", String(16), nullable=False),
    Column("actor", String(64), nullable=False),
    # received | verifying | in_progress | fulfilled | denied (extended only in history)
    Column("status", String(16), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("extended_months", Integer, nullable=False, default=0),
    Column("needs_approval", Integer, nullable=False, default=0),
    Column("approved_by", String(64), nullable=True),
    Column("verified_at", UTCDateTime, nullable=True),
    Column("closed_at", UTCDateTime, nullable=True),
    # The signed verification token (a capability the dispatcher puts into the link).
    Column("verification_token", Text, nullable=True),
    # Details and result may hold personal data: encrypted under the contact's key.
    Column("details", LargeBinary, nullable=True),
    Column("result", LargeBinary, nullable=True),
    # What the result is, without personal data (counts, certificate id, changed fields).
    Column("summary", JSON, nullable=False, default=dict),
    Index("ix_dsr_requests_contact", "contact_id"),
    Index("ix_dsr_requests_open", "status", "due_at"),
)

dsr_status_history = Table(
    "dsr_status_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("request_id", Id, ForeignKey("dsr_requests.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    # A reason code or the DPO's reason (denial, extension); never the person's data.
    Column("note", Text, nullable=False, default=""),
    Index("ix_dsr_status_history_request", "request_id", "id"),
)

# Records from back-end systems (orders, invoices) under a declared data category.
business_records = Table(
    "business_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(64), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    # The key the data is sealed with: the contact's, or a retention key after erasure.
    Column("key_id", String(32), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    # Set when erasure keeps the record: restricted to the rule's purpose until retain_until.
    Column("restricted_at", UTCDateTime, nullable=True),
    Column("retain_until", UTCDateTime, nullable=True),
    Column("retained_under", String(96), nullable=True),
    Index("ix_business_records_contact", "contact_id"),
    Index("ix_business_records_retain", "retain_until"),
)

# A legal hold keeps a contact's records (of one category, or all) beyond erasure.
legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("category", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("until", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("released_at", UTCDateTime, nullable=True),
    Index("ix_legal_holds_contact", "contact_id"),
)

# Keyed hashes (blind indexes) of erased addresses: re-adding them needs new consent.
suppression = Table(
    "suppression",
    metadata,
    Column("blind_index", String(64), primary_key=True),
    # email | phone | post: the kind the blind index was computed for
    Column("kind", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The proof of each erasure; holds ids, counts, rules and digests only (no personal data).
erasure_certificates = Table(
    "erasure_certificates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, nullable=False),
    Column("request_id", Id, nullable=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("ledger_digest", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    # The substring sweep's result (rights.sweep), appended once it ran: NULL while pending.
    Column("swept_at", UTCDateTime, nullable=True),
    Column("sweep", JSON, nullable=True),
    Index("ix_erasure_certificates_contact", "contact_id"),
)

# Erasures waiting for the substring sweep of free text (rights.sweep): what each searched
# for, sealed under a key of its own that the sweep destroys with the row, so the identifiers
# outlive the erasure only as ciphertext, and only until the sweep (within a day).
erasure_sweeps = Table(
    "erasure_sweeps",
    metadata,
    Column(
        "certificate_id",
        Id,
        ForeignKey("erasure_certificates.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key_id", String(32), nullable=False),
    Column("identifiers", LargeBinary, nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
    # Set by the sweep that took the row; a sweep that died leaves it for a later one.
    Column("claimed_at", UTCDateTime, nullable=True),
    Index("ix_erasure_sweeps_erased", "erased_at"),
)

# Art. 22: each automated decision with its model and factors (the explanation).
automated_decisions = Table(
    "automated_decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("journey_id", String(64), nullable=True),
    Column("purpose_id", String(64), nullable=False),
    Column("model", JSON, nullable=False),
    Column("factors", LargeBinary, nullable=False),
    Column("score", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("outcome", String(16), nullable=False),
    # decided | contested | reviewed
    Column("status", String(16), nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    Index("ix_automated_decisions_contact", "contact_id"),
)

automated_decision_history = Table(
    "automated_decision_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "decision_id", Id, ForeignKey("automated_decisions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Index("ix_automated_decision_history_decision", "decision_id"),
)
