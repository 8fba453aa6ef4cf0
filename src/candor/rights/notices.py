"""Notices the law requires us to send (an extension, a lifted restriction): recorded as messages.

The notice is an outbound service communication with the decision record that allowed it;
the dispatcher delivers it. Service messages are not advertising: blocks do not stop them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, insert, select

from candor.ledger import audit
from candor.ledger.registry import facts_from_row
from candor.policy.load import decide_for
from candor.store.tables import addresses, communications, purposes

_BASIS_ORDER = {"legal_obligation": 0, "contract": 1, "legitimate_interest": 2, "consent": 3}


def service_purpose(conn: Connection) -> str | None:
    """The service purpose notices go out under (a legal obligation first), if one is declared."""
    rows = conn.execute(select(purposes).where(purposes.c.kind == "service")).mappings().all()
    if not rows:
        return None
    best = min(rows, key=lambda r: (_BASIS_ORDER.get(r["legal_basis"], 9), r["id"]))
    return str(best["id"])


def record_notice(
    conn: Connection, contact_id: int, topic: str, *, actor: str, at: datetime
) -> int | None:
    """Record an outbound notice (`content_ref` notice:<topic>); None when there is no address."""
    email_first = case((addresses.c.channel == "email", 0), else_=1)
    address = conn.execute(
        select(addresses.c.id, addresses.c.channel)
        .where(addresses.c.contact_id == contact_id, addresses.c.deliverable.is_(True))
        .order_by(email_first, addresses.c.id)
        .limit(1)
    ).first()
    if address is None:
        return None
    purpose_id = service_purpose(conn)
    decision = None
    if purpose_id is not None:
        row = conn.execute(select(purposes).where(purposes.c.id == purpose_id)).mappings().one()
        decision = decide_for(
            conn, contact_id, facts_from_row(row), address.channel, address.id, None, at
        )
    comm_id = int(
        conn.execute(
            insert(communications)
            .values(
                contact_id=contact_id,
                channel=address.channel,
                address_id=address.id,
                direction="out",
                purpose_id=purpose_id,
                occurred_at=at,
                content_ref=f"notice:{topic}",
                decision_reason=decision.reason if decision else None,
                decision_basis=decision.basis if decision else None,
                decision_event_id=decision.event_id if decision else None,
            )
            .returning(communications.c.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action="notice.record",
        object_type="communication",
        object_id=comm_id,
        at=at,
        contact=contact_id,
        topic=topic,
    )
    return comm_id
