"""Business records (orders, invoices), legal holds, and the retention rules that keep them.

A record is sealed with the contact's key. When the contact is erased, a record that a
retention rule or legal hold still requires is re-sealed under a retention key of its own,
restricted, and deleted (key and all) by `run_retention` once nothing requires it any more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

from candor.core.durations import add, parse_duration
from candor.core.errors import InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.contacts import contact_row
from candor.store.rights_tables import business_records, legal_holds
from candor.store.tables import attributes, retention_rules
from candor.store.vault import Vault

RECORD_FIELD = "record"


@dataclass(frozen=True)
class Keep:
    """Why and until when a record outlives an erasure (until None: an open-ended hold)."""

    until: datetime | None
    under: str


def declared_categories(conn: Connection) -> set[str]:
    """Data categories a record may be filed under: retention rules and attribute categories."""
    rules = set(conn.execute(select(retention_rules.c.category)).scalars())
    return rules | set(conn.execute(select(attributes.c.category)).scalars())


def add_business_record(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    category: str,
    occurred_at: datetime,
    data: dict[str, Any],
    actor: str,
    at: datetime,
) -> int:
    """Store one record under a declared category, sealed with the contact's key."""
    row = contact_row(conn, contact_id)
    if category not in declared_categories(conn):
        raise InvalidInput("category", "not a declared data category (retention rule or attribute)")
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at", "must include a time zone offset")
    sealed = vault.encrypt(row["key_id"], RECORD_FIELD, json.dumps(data, sort_keys=True).encode())
    record_id = int(
        conn.execute(
            insert(business_records)
            .values(
                contact_id=contact_id,
                category=category,
                occurred_at=occurred_at,
                key_id=row["key_id"],
                data=sealed,
                created_at=at,
                actor=actor,
            )
            .returning(business_records.c.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action="record.add",
        object_type="business_record",
        object_id=record_id,
        at=at,
        contact=contact_id,
        category=category,
    )
    return record_id


def record_view(vault: Vault, row: Any) -> dict[str, Any]:
    raw = vault.decrypt(row["key_id"], RECORD_FIELD, row["data"])
    return {
        "id": row["id"],
        "category": row["category"],
        "occurred_at": row["occurred_at"].isoformat(),
        "data": json.loads(raw) if raw is not None else None,
        "restricted": row["restricted_at"] is not None,
        "retain_until": row["retain_until"].isoformat() if row["retain_until"] else None,
        "retained_under": row["retained_under"],
    }


def list_business_records(conn: Connection, vault: Vault, contact_id: int) -> list[dict[str, Any]]:
    """The contact's records, decrypted, oldest first."""
    rows = conn.execute(
        select(business_records)
        .where(business_records.c.contact_id == contact_id)
        .order_by(business_records.c.occurred_at, business_records.c.id)
    ).mappings()
    return [record_view(vault, r) for r in rows]


def place_legal_hold(
    conn: Connection,
    contact_id: int,
    *,
    reason: str,
    category: str | None = None,
    until: datetime | None = None,
    actor: str,
    at: datetime,
) -> int:
    """Keep the contact's records (of `category`, or all) beyond erasure until `until`."""
    contact_row(conn, contact_id)
    if not reason:
        raise InvalidInput("reason", "is required")
    if category is not None and category not in declared_categories(conn):
        raise InvalidInput("category", "not a declared data category")
    hold_id = int(
        conn.execute(
            insert(legal_holds)
            .values(
                contact_id=contact_id,
                category=category,
                reason=reason,
                until=until,
                created_at=at,
                actor=actor,
            )
            .returning(legal_holds.c.id)
        ).scalar_one()
    )
    audit.record(
        conn,
        actor=actor,
        action="hold.place",
        object_type="legal_hold",
        object_id=hold_id,
        at=at,
        contact=contact_id,
    )
    return hold_id


def release_legal_hold(conn: Connection, hold_id: int, *, actor: str, at: datetime) -> None:
    """End a hold; its records fall back to the retention rules at the next retention run."""
    done = conn.execute(
        update(legal_holds)
        .where(legal_holds.c.id == hold_id, legal_holds.c.released_at.is_(None))
        .values(released_at=at)
    )
    if not done.rowcount:
        raise NotFound("legal hold", hold_id)
    audit.record(
        conn, actor=actor, action="hold.release", object_type="legal_hold", object_id=hold_id, at=at
    )


def rule_until(rule: Any, occurred_at: datetime) -> datetime:
    """The end of a rule for one record: the period from the event or from the year's end."""
    start = occurred_at
    if rule["from_"] == "end_of_year":
        start = datetime(occurred_at.year + 1, 1, 1, tzinfo=UTC)
    return add(start, parse_duration(rule["period"]))


def keep_plan(conn: Connection, contact_ids: list[int], at: datetime) -> dict[int, Keep]:
    """Per record id of these contacts: why it must be kept; records not named may go."""
    rules = {r["category"]: r for r in conn.execute(select(retention_rules)).mappings()}
    holds: dict[int, list[Any]] = {}
    active = conn.execute(
        select(legal_holds).where(
            legal_holds.c.contact_id.in_(contact_ids),
            legal_holds.c.released_at.is_(None),
            or_(legal_holds.c.until.is_(None), legal_holds.c.until > at),
        )
    ).mappings()
    for hold in active:
        holds.setdefault(hold["contact_id"], []).append(hold)
    plan: dict[int, Keep] = {}
    rows = conn.execute(
        select(
            business_records.c.id,
            business_records.c.contact_id,
            business_records.c.category,
            business_records.c.occurred_at,
        ).where(business_records.c.contact_id.in_(contact_ids))
    )
    for rec in rows:
        keeps: list[Keep] = []
        rule = rules.get(rec.category)
        if rule is not None and (until := rule_until(rule, rec.occurred_at)) > at:
            keeps.append(Keep(until, f"retention:{rec.category}"))
        for hold in holds.get(rec.contact_id, []):
            if hold["category"] in (None, rec.category):
                keeps.append(Keep(hold["until"], f"legal_hold:{hold['id']}"))
        if keeps:
            open_ended = next((k for k in keeps if k.until is None), None)
            plan[rec.id] = open_ended or max(keeps, key=lambda k: k.until or at)
    return plan


def run_retention(conn: Connection, vault: Vault, *, actor: str, at: datetime) -> dict[str, Any]:
    """Delete kept records nothing requires any more, then shred their retention keys."""
    due = conn.execute(
        select(
            business_records.c.id, business_records.c.contact_id, business_records.c.key_id
        ).where(
            business_records.c.restricted_at.is_not(None),
            or_(business_records.c.retain_until.is_(None), business_records.c.retain_until <= at),
        )
    ).all()
    plan = keep_plan(conn, sorted({r.contact_id for r in due}), at) if due else {}
    gone = [r for r in due if r.id not in plan]
    extended = [
        {"rid": r.id, "until": plan[r.id].until, "under": plan[r.id].under}
        for r in due
        if r.id in plan
    ]
    if extended:  # one executemany for every record a rule or hold still keeps
        conn.execute(
            update(business_records)
            .where(business_records.c.id == bindparam("rid"))
            .values(retain_until=bindparam("until"), retained_under=bindparam("under")),
            extended,
        )
    if gone:
        conn.execute(
            delete(business_records).where(business_records.c.id.in_([r.id for r in gone]))
        )
    keys = {r.key_id for r in gone}
    still_used = (
        set(
            conn.execute(
                select(business_records.c.key_id).where(business_records.c.key_id.in_(keys))
            ).scalars()
        )
        if keys
        else set()
    )
    shredded = vault.destroy(keys - still_used) if keys - still_used else 0
    audit.record(
        conn,
        actor=actor,
        action="retention.run",
        object_type="retention",
        object_id="run",
        at=at,
        deleted=len(gone),
        extended=len(due) - len(gone),
        keys_destroyed=shredded,
    )
    return {"deleted": len(gone), "extended": len(due) - len(gone), "keys_destroyed": shredded}
