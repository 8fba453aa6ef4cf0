"""Loads the ledger facts for one contact, so the pure decide() can judge a single request."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from candor.core.errors import NotFound
from candor.policy.decide import Decision, decide
from candor.policy.facts import (
    AddressFacts,
    BlockFacts,
    ConsentFacts,
    ContactFacts,
    PurposeFacts,
    ThemeRef,
)
from candor.store.tables import addresses, block_lifts, blocks, consent_events, contacts


def contact_facts(conn: Connection, contact_id: int, purpose_id: str) -> ContactFacts:
    """Everything decide() reads about one contact for one purpose."""
    row = conn.execute(
        select(
            contacts.c.id, contacts.c.erased_at, contacts.c.restricted_at, contacts.c.objected_at
        ).where(contacts.c.id == contact_id)
    ).first()
    if row is None:
        raise NotFound("contact", contact_id)
    addr = conn.execute(
        select(addresses.c.id, addresses.c.channel, addresses.c.deliverable).where(
            addresses.c.contact_id == contact_id
        )
    )
    blk = conn.execute(
        select(
            blocks.c.id,
            blocks.c.kind,
            blocks.c.channel,
            blocks.c.address_id,
            blocks.c.theme,
            blocks.c.created_at,
            block_lifts.c.lifted_at,
        )
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(blocks.c.contact_id == contact_id)
    )
    ev = conn.execute(
        select(
            consent_events.c.id,
            consent_events.c.purpose_id,
            consent_events.c.purpose_version,
            consent_events.c.status,
            consent_events.c.occurred_at,
            consent_events.c.theme,
            consent_events.c.channel,
            consent_events.c.address_id,
        ).where(
            consent_events.c.contact_id == contact_id, consent_events.c.purpose_id == purpose_id
        )
    )
    return ContactFacts(
        id=row.id,
        erased_at=row.erased_at,
        restricted_at=row.restricted_at,
        objected_at=row.objected_at,
        addresses=tuple(AddressFacts(a.id, a.channel, a.deliverable) for a in addr),
        blocks=tuple(BlockFacts(*b) for b in blk),
        events=tuple(
            ConsentFacts(
                e.id,
                e.purpose_id,
                e.purpose_version,
                e.status,
                e.occurred_at,
                e.theme,
                e.channel,
                e.address_id,
            )
            for e in ev
        ),
    )


def decide_for(
    conn: Connection,
    contact_id: int,
    purpose: PurposeFacts,
    channel: str | None,
    address_id: int | None,
    theme: ThemeRef | None,
    at: datetime,
) -> Decision:
    """Load one contact's facts and apply decide() to them."""
    return decide(
        contact_facts(conn, contact_id, purpose.id), purpose, channel, address_id, theme, at
    )
