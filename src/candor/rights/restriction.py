"""Restriction (Art. 18) and objection (Art. 21): decide() denies at once, journeys drop the person.

Restriction stores the contact only: every purpose is denied with `restricted`. Objection is
an absolute stop of direct marketing and profiling on every channel (`objected`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, literal, null, select, update

from candor.core.errors import Conflict
from candor.figures import step_counts as here
from candor.ledger import audit
from candor.ledger.consents import lock_contact
from candor.ledger.events import publish_status
from candor.rights.messages import queue_restriction_lifted
from candor.rights.notices import record_notice
from candor.store.journey_tables import journey_contacts, journey_transitions, journeys, outbox
from candor.store.tables import contacts, purposes
from candor.store.types import UTCDateTime


def leave_journeys(
    conn: Connection,
    contact_ids: list[int],
    outcome: str,
    at: datetime,
    *,
    marketing_only: bool = False,
) -> int:
    """Take the contacts out of every active journey (a transition each) and cancel their queue."""
    jc = journey_contacts
    scope = [jc.c.contact_id.in_(contact_ids), jc.c.status.in_(("active", "waiting"))]
    queued = [outbox.c.contact_id.in_(contact_ids), outbox.c.status == "queued"]
    if marketing_only:
        marketing = (
            select(journeys.c.id)
            .join(purposes, purposes.c.id == journeys.c.purpose_id)
            .where(purposes.c.kind == "marketing")
        )
        scope.append(jc.c.journey_id.in_(marketing))
        marketing_purposes = select(purposes.c.id).where(purposes.c.kind == "marketing")
        queued.append(outbox.c.purpose_id.in_(marketing_purposes))
    here.subtract(conn, here.leaving(conn, and_(*scope)))  # Mission Control's head counts
    conn.execute(
        insert(journey_transitions).from_select(
            ["journey_id", "contact_id", "from_step", "to_step", "outcome", "at"],
            select(
                jc.c.journey_id,
                jc.c.contact_id,
                jc.c.step_id,
                null(),
                literal(outcome),
                literal(at, UTCDateTime()),
            ).where(*scope),
        )
    )
    left = conn.execute(update(jc).where(*scope).values(status="exited", step_entered_at=at))
    conn.execute(update(outbox).where(*queued).values(status="cancelled", error=outcome))
    return left.rowcount or 0


def restrict_contact(
    conn: Connection, contact_id: int, *, actor: str, at: datetime, request_id: int | None = None
) -> dict[str, Any]:
    """Restrict processing: stored only, decide says `restricted`, journeys drop the contact."""
    row = lock_contact(conn, contact_id)
    if row["restricted_at"] is not None:
        raise Conflict("contact: processing is already restricted")
    conn.execute(
        update(contacts).where(contacts.c.id == contact_id).values(restricted_at=at, updated_at=at)
    )
    left = leave_journeys(conn, [contact_id], "restricted", at)
    publish_status(conn, "contact.restricted", contact_id, at)
    audit.record(
        conn,
        actor=actor,
        action="contact.restrict",
        object_type="contact",
        object_id=contact_id,
        at=at,
        journeys_left=left,
        request=request_id,
    )
    return {"contact": contact_id, "restricted_at": at.isoformat(), "journeys_left": left}


def lift_restriction(
    conn: Connection, contact_id: int, *, actor: str, at: datetime, notify: bool = True
) -> dict[str, Any]:
    """Lift a restriction; the person is told beforehand (Art. 18(3)), recorded as a notice.

    `notify=False` where the system that lifted it already told the person (a connector).
    """
    row = lock_contact(conn, contact_id)
    if row["restricted_at"] is None:
        raise Conflict("contact: processing is not restricted")
    conn.execute(
        update(contacts)
        .where(contacts.c.id == contact_id)
        .values(restricted_at=None, updated_at=at)
    )
    notice = None
    if notify:
        notice = record_notice(conn, contact_id, "restriction_lifted", actor=actor, at=at)
        queue_restriction_lifted(conn, contact_id, at=at)  # the notice itself, to the person
    publish_status(conn, "contact.restriction_lifted", contact_id, at)
    audit.record(
        conn,
        actor=actor,
        action="contact.restriction_lift",
        object_type="contact",
        object_id=contact_id,
        at=at,
        notice=notice,
    )
    return {"contact": contact_id, "restricted_at": None, "notice_communication": notice}


def object_contact(
    conn: Connection, contact_id: int, *, actor: str, at: datetime, request_id: int | None = None
) -> dict[str, Any]:
    """Record an objection: every marketing purpose (profiling too) is denied on every channel."""
    row = lock_contact(conn, contact_id)
    if row["objected_at"] is not None:
        return {
            "contact": contact_id,
            "objected_at": row["objected_at"].isoformat(),
            "journeys_left": 0,
        }
    conn.execute(
        update(contacts).where(contacts.c.id == contact_id).values(objected_at=at, updated_at=at)
    )
    left = leave_journeys(conn, [contact_id], "objected", at, marketing_only=True)
    publish_status(conn, "contact.objected", contact_id, at)
    audit.record(
        conn,
        actor=actor,
        action="contact.object",
        object_type="contact",
        object_id=contact_id,
        at=at,
        journeys_left=left,
        request=request_id,
    )
    return {"contact": contact_id, "objected_at": at.isoformat(), "journeys_left": left}
