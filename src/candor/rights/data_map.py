"""The data map: every place personal data lives. Access, erasure and the scan read it.

Each entry names a table, how rows belong to a contact (a contact column, or a parent row),
which columns are encrypted, the copy section that exports it, the data category, and what
erasure does with it. A test fails when a table with a contact column is missing here, so a
new table cannot be forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Select, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

from candor.store import channel_tables as ct
from candor.store import journey_tables as jt
from candor.store import rights_tables as rt
from candor.store import sync_tables as st
from candor.store import tables as t
from candor.store.sql import in_batch

# delete: rows go; tombstone: the contact row stays with only its id; scrub: the row stays
# (accountability) with the listed columns cleared; retain: kept where a retention rule or
# legal hold still requires it, else deleted.
EraseMode = Literal["delete", "tombstone", "scrub", "retain"]


@dataclass(frozen=True)
class Place:
    """One table holding personal data, and how each right treats it."""

    table: Table
    section: str
    category: str
    erase: EraseMode = "delete"
    contact_column: str | None = "contact_id"
    # (own column, parent table, parent column) when rows belong to a contact via a parent.
    parent: tuple[str, Table, str] | None = None
    encrypted: tuple[str, ...] = ()
    scrub: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.table.name

    def owned_by(self, contact_ids: list[int]) -> ColumnElement[bool]:
        """The WHERE condition selecting the rows of these contacts."""
        if self.contact_column is not None:
            return in_batch(self.table.c[self.contact_column], contact_ids)
        assert self.parent is not None, self.name
        own, parent, key = self.parent
        return self.table.c[own].in_(
            select(parent.c[key]).where(in_batch(parent.c.contact_id, contact_ids))
        )

    def counts(self, contact_ids: list[int]) -> Select[tuple[int, int]]:
        """Rows per contact: SELECT contact, count(*) ... GROUP BY contact."""
        if self.contact_column is not None:
            owner = self.table.c[self.contact_column]
            return select(owner, func.count()).where(in_batch(owner, contact_ids)).group_by(owner)
        assert self.parent is not None, self.name
        own, parent, key = self.parent
        return (
            select(parent.c.contact_id, func.count())
            .select_from(self.table.join(parent, self.table.c[own] == parent.c[key]))
            .where(in_batch(parent.c.contact_id, contact_ids))
            .group_by(parent.c.contact_id)
        )


PLACES: list[Place] = [
    # Children first: erasure walks this list in order.
    Place(t.doi_tokens, "consents", "consent"),
    Place(
        st.sync_block_links,
        "blocks",
        "preferences",
        contact_column=None,
        parent=("block_id", t.blocks, "id"),
    ),
    Place(
        t.block_lifts,
        "blocks",
        "preferences",
        contact_column=None,
        parent=("block_id", t.blocks, "id"),
        encrypted=("evidence",),
    ),
    Place(t.blocks, "blocks", "preferences", encrypted=("evidence",)),
    Place(t.consent_state, "consents", "consent"),
    Place(t.consent_events, "consents", "consent", encrypted=("evidence",)),
    Place(t.ledger_heads, "consents", "consent"),
    # A contact.erased event is published after the erasure's deletes and scan, so it
    # survives as the proof that connectors were told; its identifier is sealed under a key
    # of its own.
    Place(st.sync_deliveries, "communications", "communication"),
    Place(st.sync_events, "communications", "communication", encrypted=("sealed",)),
    Place(st.sync_source_rows, "journeys", "journey"),
    Place(t.rectifications, "rectifications", "identity", encrypted=("old_value", "new_value")),
    Place(jt.journey_events, "journeys", "journey"),
    Place(jt.journey_transitions, "journeys", "journey"),
    Place(jt.journey_contacts, "journeys", "journey"),
    Place(jt.outbox, "messages_pending", "communication"),
    Place(ct.delivery_reports, "communications", "communication", encrypted=("evidence", "raw")),
    Place(t.communications, "communications", "communication"),
    Place(
        rt.automated_decision_history,
        "automated_decisions",
        "profiling",
        contact_column=None,
        parent=("decision_id", rt.automated_decisions, "id"),
    ),
    Place(rt.automated_decisions, "automated_decisions", "profiling", encrypted=("factors",)),
    Place(rt.business_records, "business_records", "business", erase="retain", encrypted=("data",)),
    Place(rt.legal_holds, "legal_holds", "business", erase="retain"),
    Place(
        rt.dsr_status_history,
        "requests",
        "requests",
        erase="scrub",
        contact_column=None,
        parent=("request_id", rt.dsr_requests, "id"),
    ),
    Place(
        rt.dsr_requests,
        "requests",
        "requests",
        erase="scrub",
        encrypted=("details", "result"),
        scrub=("details", "result", "verification_token"),
    ),
    Place(t.addresses, "addresses", "identity", encrypted=("value",)),
    Place(
        t.contacts,
        "contact",
        "identity",
        erase="tombstone",
        contact_column="id",
        encrypted=("identity", "external_id"),
    ),
]

# Tables that name a contact but hold no personal data of their own (proofs, audit).
NOT_PERSONAL: dict[str, str] = {
    "erasure_certificates": "the proof of erasure: ids, counts, rules and digests only",
}


def place(name: str) -> Place:
    """The entry of one table (KeyError when the table is not registered)."""
    return next(p for p in PLACES if p.name == name)


def sections() -> list[str]:
    """Every section of the access copy that registry rows are exported into."""
    return sorted({p.section for p in PLACES})
