"""The data database's tables (SQLAlchemy Core). Identifying data is stored encrypted only."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from candor.store.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# An integer id column that is a BIGINT on PostgreSQL and a rowid alias on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

# ---------------------------------------------------------------- configuration registry

attributes = Table(
    "attributes",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("category", String(64), nullable=False),
    Column("description", Text, nullable=False, default=""),
)

themes = Table(
    "themes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("group_id", String(64), nullable=True),
)

purposes = Table(
    "purposes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("legal_basis", String(32), nullable=False),
    Column("dpv", String(128), nullable=False, default=""),
    Column("current_version", Integer, nullable=False),
    # Highest version whose change is material: consents to older versions need re-consent.
    Column("reconsent_floor", Integer, nullable=False, default=0),
    Column("consent_valid_for", String(32), nullable=True),
    Column("double_opt_in", JSON, nullable=False, default=list),
    Column("updated_at", UTCDateTime, nullable=False),
)

purpose_versions = Table(
    "purpose_versions",
    metadata,
    Column("purpose_id", String(64), ForeignKey("purposes.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("wording", Text, nullable=False),
    Column("reconsent", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
)

retention_rules = Table(
    "retention_rules",
    metadata,
    Column("category", String(64), primary_key=True),
    Column("period", String(32), nullable=False),
    Column("from_", String(16), nullable=False),
    Column("basis", Text, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

# ---------------------------------------------------------------- contacts and identity vault

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # The back-end's customer number, as a keyed hash for look-ups and as ciphertext under
    # the contact's key: after crypto-shredding an old backup cannot link the row to anyone.
    Column("external_index", String(64), nullable=True, unique=True),
    Column("external_id", LargeBinary, nullable=True),
    # Names of the key in the separate key store; destroying that key shreds the row.
    Column("key_id", String(32), nullable=False, unique=True),
    Column("identity", LargeBinary, nullable=True),
    Column("attributes", JSON, nullable=False, default=dict),
    Column("language", String(8), nullable=False, default="en"),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("source", String(32), nullable=False, default="api"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime, nullable=True),
    Column("restricted_at", UTCDateTime, nullable=True),
    Column("objected_at", UTCDateTime, nullable=True),
)

# addresses, consent_events and consent_state have no foreign keys (migration 0014): the
# import's per-row checks were three fifths of PostgreSQL's work. Contacts and purposes are
# never deleted, and every writer holds its contact's row lock or has just inserted it.
addresses = Table(
    "addresses",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("blind_index", String(64), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("deliverable", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The person's latest message from this address: opens WhatsApp's 24-hour window.
    Column("last_inbound_at", UTCDateTime, nullable=True),
    UniqueConstraint("channel", "blind_index"),
    Index("ix_addresses_contact_channel", "contact_id", "channel", "id"),
    Index("ix_addresses_blind_index", "blind_index"),
)

communications = Table(
    "communications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("address_id", Id, ForeignKey("addresses.id", ondelete="SET NULL"), nullable=True),
    Column("direction", String(8), nullable=False),
    Column("theme", String(64), nullable=True),
    Column("purpose_id", String(64), nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("content_ref", Text, nullable=False, default=""),
    Column("decision_reason", String(32), nullable=True),
    Column("decision_basis", String(32), nullable=True),
    Column("decision_event_id", Id, nullable=True),
    # Outbound delivery state (channels.delivery): queued | sent | delivered | failed |
    # undelivered | bounced | complained, with the latest report's code and time.
    Column("delivery_status", String(16), nullable=True),
    Column("delivery_detail", String(64), nullable=True),
    Column("delivery_at", UTCDateTime, nullable=True),
    # The provider's id of the message (Twilio's SID, WhatsApp's wamid): callbacks name it.
    Column("provider_ref", String(200), nullable=True),
    # SMS only: gsm7 | ucs2 and the number of segments, computed before sending.
    Column("encoding", String(8), nullable=True),
    Column("segments", Integer, nullable=True),
    Index("ix_communications_contact", "contact_id", "id"),
    Index("ix_communications_provider_ref", "provider_ref"),
    # Deleting an address (erasure) looks up its messages through this FK.
    Index("ix_communications_address", "address_id"),
)

# ---------------------------------------------------------------- consent ledger

consent_events = Table(
    "consent_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, nullable=False),
    # Position in the contact's own hash chain (1, 2, ...): gaps reveal removed events.
    Column("seq", Integer, nullable=False),
    Column("purpose_id", String(64), nullable=False),
    Column("purpose_version", Integer, nullable=False),
    Column("theme", String(64), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("address_id", Id, nullable=True),
    Column("status", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("evidence", LargeBinary, nullable=True),
    Column("communication_id", Id, nullable=True),
    Column("confirms_event_id", Id, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("contact_id", "seq"),
)

# Projection: the latest event per exact scope, so decisions never replay history.
# '' and 0 stand for "any" so the primary key needs no NULLs.
consent_state = Table(
    "consent_state",
    metadata,
    Column("contact_id", Id, primary_key=True),
    Column("purpose_id", String(64), primary_key=True),
    Column("scope_theme", String(64), primary_key=True),
    Column("scope_channel", String(16), primary_key=True),
    Column("scope_address", Id, primary_key=True),
    Column("event_id", Id, nullable=False),
    Column("status", String(16), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("purpose_version", Integer, nullable=False),
    # With occurred_at: Mission Control counts one day's agreed rows per purpose on it.
    Index("ix_consent_state_purpose", "purpose_id", "status", "occurred_at"),
)
# PostgreSQL reads each contact's newest covering row along this (policy.twin, DISTINCT ON);
# SQLite finds it by primary key lookups and would only pay for the index on every write.
Index(
    "ix_consent_state_newest",
    consent_state.c.purpose_id,
    consent_state.c.contact_id,
    consent_state.c.occurred_at.desc(),
    consent_state.c.event_id.desc(),
).ddl_if(dialect="postgresql")

# Mission Control's consent figures (figures.consent_tallies): signed counts of (contact, purpose)
# pairs per signature, inserted by every writer of consent_state in its own transaction and
# summed per refresh; rows without a purpose count live (not erased) contacts.
figure_tallies = Table(
    "figure_tallies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("purpose_id", String(64), nullable=True),
    Column("pending", Boolean, nullable=False),
    Column("agreed_version", Integer, nullable=True),
    Column("agreed_on", Date, nullable=True),
    Column("contacts", Integer, nullable=False),
)

# Mission Control's counted figures other than consent (figures.change_counts): signed deltas that
# writers insert in their own transaction, summed per (figure, item, state) by a refresh and
# folded into one row per key when they pile up. figure "blocks": item = kind, state
# "active"; figure "sync": item = connector, state = delivery status.
figure_counts = Table(
    "figure_counts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("figure", String(16), nullable=False),
    Column("item", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("count", Integer, nullable=False),
)

# The last link of each contact's hash chain: removing the newest event is detected too.
ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("contact_id", Id, primary_key=True),
    Column("last_event_id", Id, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("event_count", Integer, nullable=False),
)

doi_tokens = Table(
    "doi_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    # No FK to consent_events (migration 0008): erasure deletes tokens before the events.
    Column("event_id", Id, nullable=False),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
    # Deleting consent events (erasure) checks each one here: without these, a scan per row.
    Index("ix_doi_tokens_event", "event_id"),
    Index("ix_doi_tokens_contact", "contact_id"),
)

# ---------------------------------------------------------------- contact blocks

blocks = Table(
    "blocks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    # all | channel | address | theme: which reason code the block yields (see policy.decide).
    Column("kind", String(16), nullable=False),
    Column("channel", String(16), nullable=True),
    Column("address_id", Id, nullable=True),
    Column("theme", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("communication_id", Id, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # What the person did to ask for it (page, wording, time, IP, user agent): JSON sealed
    # with the contact's key, like consent evidence; NULL where a path has none.
    Column("evidence", LargeBinary, nullable=True),
    Index("ix_blocks_contact", "contact_id"),
)

# Lifting a block is its own recorded act; the block row is never updated.
block_lifts = Table(
    "block_lifts",
    metadata,
    Column("block_id", Id, ForeignKey("blocks.id", ondelete="CASCADE"), primary_key=True),
    Column("lifted_at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("communication_id", Id, nullable=True),
    Column("evidence", LargeBinary, nullable=True),  # sealed like blocks.evidence
)

# ---------------------------------------------------------------- access and audit

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(64), nullable=False),
    # Pseudonymous details only: ids, counts, codes; never names or addresses.
    Column("details", JSON, nullable=False, default=dict),
)

# Rectification history: who changed what when; old and new values under the contact's key.
rectifications = Table(
    "rectifications",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("contact_id", Id, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("field", String(96), nullable=False),
    Column("old_value", LargeBinary, nullable=True),
    Column("new_value", LargeBinary, nullable=True),
    Index("ix_rectifications_contact", "contact_id"),
)

# ---------------------------------------------------------------- sign-up forms

# Submissions of the hosted forms, waiting for the worker (candor.forms.process): the HTTP
# answer does the same work for every address, known, new or erased, so neither its words
# nor its timing tell them apart. The payload (address, answers, evidence) is sealed under
# a key of the submission's own, destroyed with the row once processed: no contact column,
# nothing readable outlives the few seconds it waits.
form_submissions = Table(
    "form_submissions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("form_id", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)
