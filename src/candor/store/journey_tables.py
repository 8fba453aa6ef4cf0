"""Tables of the journey studio: definitions, journey-scoped contact state, outbox, templates.

Journey-scoped tables (journey_contacts, journey_transitions) are purged when a journey
archives; journey_step_stats (aggregates) and communications (evidence) remain.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from candor.store.tables import Id, metadata
from candor.store.types import UTCDateTime

journeys = Table(
    "journeys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("version", Integer, nullable=False, default=1),
    Column("name", Text, nullable=False),
    Column("purpose_id", String(64), nullable=False),
    Column("definition", JSON, nullable=False),
    # draft | running | stopped | archived
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("launched_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("entered", Integer, nullable=False, default=0),
    # A launch enrols its group in batches of contacts in id order: the last id of the
    # group (NULL once every batch is in), the last id enrolled so far and when (a worker
    # continues a launch whose batches stopped coming; migration 0021).
    Column("enrol_until", Id, nullable=True),
    Column("enrolled_through", Id, nullable=True),
    Column("enrolled_at", UTCDateTime, nullable=True),
    # A triggered journey: what it listens to (`on` and its purpose, form, field or event
    # name; "" where the kind names none), so writers find their listeners by index.
    Column("trigger_on", String(32), nullable=True),
    Column("trigger_key", String(64), nullable=True),
    # Date and consent-expiry triggers: the moment up to which the clock was examined.
    Column("trigger_checked_at", UTCDateTime, nullable=True),
    Index("ix_journeys_trigger", "trigger_on", "trigger_key"),
)

# Where each contact stands in a journey; `data` holds only the journey's declared fields
# plus what the journey gathered. Deleted on archive and on erasure (explicitly: contacts and
# journeys are never deleted, so nothing cascaded). No foreign keys: launch inserts the whole
# group in one statement and, on PostgreSQL, the per-row checks were most of its cost; the
# launch holds the journey row and the group's people (FOR KEY SHARE) instead.
journey_contacts = Table(
    "journey_contacts",
    metadata,
    Column("journey_id", String(64), nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("step_id", String(64), nullable=False),
    # active (due at due_at) | waiting (held: due at its timeout, or woken by an event) |
    # done | exited
    Column("status", String(16), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("step_entered_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    # Events up to this moment were examined by an event-holding step (None: since entry).
    Column("checked_at", UTCDateTime, nullable=True),
    Column("data", JSON, nullable=False, default=dict),
    # A contact is in a journey once: the pair is the key (migration 0017), no id of its
    # own. Contact first: it also serves the lookups by person (erasure, access,
    # restriction), one index fewer to maintain on every move of a contact.
    PrimaryKeyConstraint("contact_id", "journey_id"),
    Index("ix_journey_contacts_due", "journey_id", "status", "step_id", "due_at", "contact_id"),
    # PostgreSQL: a partition per journey, dropped when it archives (store.partitions).
    postgresql_partition_by="LIST (journey_id)",
)

# The journey's log: one row per contact-step transition, the hottest insert of the runtime.
# No foreign keys either: on PostgreSQL their per-row checks cost nine tenths of each insert.
# Rows are written for claimed journey_contacts rows, by a batch that holds the journey and
# its people (FOR KEY SHARE) until it commits; archive and erasure delete them explicitly.
# No primary key index on PostgreSQL either (migration 0016): the id only orders one
# person's transitions, found by contact, and its index cost a fifth of every insert.
# SQLite keeps it: there the key is the rowid, which numbers the rows.
journey_transitions = Table(
    "journey_transitions",
    metadata,
    Column("id", Id, autoincrement=True),
    Column("journey_id", String(64), nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("from_step", String(64), nullable=True),
    Column("to_step", String(64), nullable=True),
    Column("outcome", String(48), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # Contact first: the access copy, erasure and restriction ask by person; the archive
    # purges per batch of the journey's contacts (migration 0015).
    Index("ix_journey_transitions_contact", "contact_id", "journey_id"),
    PrimaryKeyConstraint("id").ddl_if(dialect="sqlite"),
    postgresql_partition_by="LIST (journey_id)",  # as journey_contacts
)

# What a triggered journey heard (journeys.runtime.entry): one row per listening running
# journey and person. `pending` rows wait for the worker to let the person in through the
# gate; `entered` rows are the event data of the person's stay (only the properties the
# journey declared in `fields`), purged with the journey and on erasure like its
# journey_contacts row. `ref` names a clock-driven occurrence (a date, an expiring consent)
# so a second look at the same moment adds nothing. No foreign keys, like journey_contacts.
journey_events = Table(
    "journey_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("journey_id", String(64), nullable=False),
    Column("contact_id", Id, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("ref", String(96), nullable=True),
    Column("properties", JSON, nullable=False, default=dict),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # pending | entered
    UniqueConstraint("journey_id", "contact_id", "ref"),
    Index("ix_journey_events_due", "journey_id", "status", "id"),
    Index("ix_journey_events_contact", "contact_id", "journey_id"),
)

# Aggregates that outlive the journey: per step and outcome (decide's reason codes, passed,
# deferred:*), and how many contacts are at each step right now while it runs: the reserved
# outcome "(here)", maintained incrementally (figures.step_counts) and dropped on archive.
journey_step_stats = Table(
    "journey_step_stats",
    metadata,
    Column(
        "journey_id", String(64), ForeignKey("journeys.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("step_id", String(64), primary_key=True),
    Column("outcome", String(48), primary_key=True),
    Column("count", Integer, nullable=False, default=0),
)

# Outgoing messages. The gate decided inside the transaction that wrote the row; the
# idempotency key (journey, contact, step) makes a second enqueue impossible and gives the
# stable Message-ID, so a crash can at most re-deliver the same message.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("journey_id", String(64), nullable=True),
    Column("step_id", String(64), nullable=True),
    Column("contact_id", Id, nullable=False),  # no FK: see migration 0007
    Column("channel", String(16), nullable=False),
    Column("address_id", Id, nullable=True),
    Column("template_id", String(64), nullable=False),
    Column("purpose_id", String(64), nullable=False),
    Column("theme", String(64), nullable=True),
    # marketing | service | confirmation: what the message is, for headers and links
    Column("kind", String(16), nullable=False),
    Column("context", JSON, nullable=False, default=dict),
    Column("decision_reason", String(32), nullable=False),
    Column("decision_basis", String(32), nullable=True),
    Column("decision_event_id", Id, nullable=True),
    # queued | sending | sent | failed | cancelled
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("message_id", String(200), nullable=True),
    Column("communication_id", Id, nullable=True),
    Column("error", String(64), nullable=True),
    Index("ix_outbox_status_due", "status", "next_attempt_at"),
    Index("ix_outbox_contact_channel", "contact_id", "channel", "created_at"),
)

templates = Table(
    "templates",
    metadata,
    Column("id", String(64), primary_key=True),
    # channel -> parts (email: subject, html, text; sms/whatsapp: text): the default language
    Column("parts", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Further languages: language -> channel -> parts, chosen by the contact's language.
    Column("variants", JSON, nullable=True),
    # What the studio's author wrote (MJML, preheader, WhatsApp template name and parameters,
    # marketing or service) per language and channel; `parts` is what it compiled to.
    Column("authoring", JSON, nullable=True),
)

# Every saved draft of a journey, kept: the studio lists them and downloads any of them.
journey_versions = Table(
    "journey_versions",
    metadata,
    Column("journey_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("saved_at", UTCDateTime, nullable=False),
    Column("saved_by", String(64), nullable=False),
)

# Saved target groups: a filter over declared attributes and gate decisions, reused by name
# in journey targets (`{audience: id}`); purpose, channel and theme of its live count.
audiences = Table(
    "audiences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("filter", JSON, nullable=False),
    Column("purpose_id", String(64), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("theme", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
)
