"""Applying delivery reports: the message's delivery state, the address, blocks, evidence.

Every report is stored in delivery_reports (evidence sealed with the person's key): applied
to its communication; `waiting` when it arrived before the send was recorded (dispatch
settles it then); held for `review` when it matches no message of ours. A permanent
failure or hard bounce makes the address undeliverable, so decide() answers
`undeliverable`; soft bounces do so past a count in a window; a complaint (or a person
stopping marketing at the provider) records an address block, published like any block.
Set-based: a batch of reports costs a handful of statements, whatever its size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import Connection, bindparam, func, select, update

from candor.channels.report_review import hold_for_review
from candor.channels.reports import EVIDENCE, Report, Unreadable, advances
from candor.core.durations import DurationLike, subtract
from candor.ledger import audit
from candor.ledger.blocks import EVIDENCE_FIELD, insert_block
from candor.ledger.contacts import lock_contact
from candor.store.channel_tables import delivery_reports
from candor.store.journey_tables import outbox
from candor.store.sql import bulk_insert, in_batch
from candor.store.tables import addresses, block_lifts, blocks, communications, contacts
from candor.store.vault import Vault

BLOCK_SOURCES: Final[Mapping[str, tuple[str, str]]] = {
    "complaint": ("complaint", "spam complaint (abuse feedback report)"),
    "status": ("provider", "stopped marketing messages at the provider"),
}


class SoftRule(NamedTuple):
    """`limit` soft bounces of one address within `window` make it undeliverable."""

    limit: int
    window: DurationLike


@dataclass(frozen=True)
class Target:
    """The message a report is about, as far as it is known."""

    contact_id: int
    address_id: int | None
    communication_id: int | None
    outbox_id: int | None
    in_flight: bool = False  # sent but not yet recorded: the report waits for its record


@dataclass(frozen=True)
class Applied:
    """What a batch of reports did (counts only)."""

    applied: int = 0
    waiting: int = 0
    review: int = 0
    undeliverable: int = 0
    blocks: int = 0


def apply_reports(
    conn: Connection,
    vault: Vault,
    reports: Sequence[Report],
    *,
    at: datetime,
    soft: SoftRule | None = None,
    unreadable: Sequence[Unreadable] = (),
    actor: str = "delivery",
) -> Applied:
    """Store and apply a batch of reports in the caller's transaction."""
    targets = find_targets(conn, reports)
    keys = _contact_keys(conn, {t.contact_id for t in targets.values()})
    vault.load(keys.values())
    rows, review = [], list(unreadable)
    for index, report in enumerate(reports):
        target = targets.get(index)
        if target is None:
            review.append(Unreadable(report.channel, "matches no message", _raw(report)))
            continue
        rows.append(_row(vault, keys, report, target, at))
    bulk_insert(conn, delivery_reports, rows)
    bulk_insert(conn, delivery_reports, hold_for_review(vault, review, at))
    matched = [(r, targets[i]) for i, r in enumerate(reports) if i in targets]
    set_states(conn, [(t.communication_id, r) for r, t in matched if t.communication_id], at)
    gone = {t.address_id for r, t in matched if r.effect == "undeliverable" and t.address_id}
    gone |= _past_soft_limit(conn, matched, soft, at)
    marked = mark_undeliverable(conn, gone)
    # A block names the message it came with: one whose record is still to come waits for it.
    due = [(r, t) for r, t in matched if r.effect == "block" and not t.in_flight]
    blocked = _block(conn, vault, keys, due, at)
    result = Applied(
        applied=sum(1 for row in rows if row["state"] == "applied"),
        waiting=sum(1 for row in rows if row["state"] == "waiting"),
        review=len(review),
        undeliverable=marked,
        blocks=blocked,
    )
    if reports or review:
        audit.record(
            conn,
            actor=actor,
            action="delivery.reports",
            object_type="delivery_report",
            object_id="-",
            at=at,
            **result.__dict__,
        )
    return result


def find_targets(conn: Connection, reports: Sequence[Report]) -> dict[int, Target]:
    """Report index -> its message: by outbox id (checked against our message id if the
    report carries one), else by the provider's id on the communication."""
    by_outbox = {i: r.outbox_id for i, r in enumerate(reports) if r.outbox_id is not None}
    rows = {}
    if by_outbox:
        # The row's own address, else the one the gate resolved when it was sent.
        address = func.coalesce(outbox.c.address_id, communications.c.address_id)
        query = (
            select(
                outbox.c.id,
                outbox.c.contact_id,
                address.label("address_id"),
                outbox.c.communication_id,
                outbox.c.message_id,
                outbox.c.channel,
                outbox.c.status,
            )
            .outerjoin(communications, communications.c.id == outbox.c.communication_id)
            .where(in_batch(outbox.c.id, sorted(set(by_outbox.values()))))
        )
        rows = {r.id: r for r in conn.execute(query)}
    found: dict[int, Target] = {}
    for index, outbox_id in by_outbox.items():
        row, report = rows.get(outbox_id), reports[index]
        if row is None or row.channel != report.channel:
            continue
        if report.message_id is not None and row.message_id not in (None, report.message_id):
            continue
        in_flight = row.communication_id is None and row.status in ("queued", "sending")
        found[index] = Target(
            row.contact_id, row.address_id, row.communication_id, row.id, in_flight
        )
    refs = {i: r.provider_ref for i, r in enumerate(reports) if i not in found and r.provider_ref}
    if refs:
        query = select(
            communications.c.id,
            communications.c.contact_id,
            communications.c.address_id,
            communications.c.channel,
            communications.c.provider_ref,
        ).where(in_batch(communications.c.provider_ref, sorted(set(refs.values()))))
        comms = {(r.provider_ref, r.channel): r for r in conn.execute(query)}
        for index, ref in refs.items():
            comm = comms.get((ref, reports[index].channel))
            if comm is not None:
                found[index] = Target(comm.contact_id, comm.address_id, comm.id, None)
    return found


def _contact_keys(conn: Connection, contact_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(contact_ids)
    if not ids:
        return {}
    query = select(contacts.c.id, contacts.c.key_id).where(in_batch(contacts.c.id, ids))
    return {r.id: r.key_id for r in conn.execute(query)}


def _evidence(report: Report) -> dict[str, Any]:
    return {"kind": report.kind, "state": report.state, **dict(report.evidence)}


def _row(
    vault: Vault, keys: Mapping[int, str], report: Report, target: Target, at: datetime
) -> dict[str, Any]:
    key = keys.get(target.contact_id)
    sealed = vault.encrypt_json(key, EVIDENCE, _evidence(report)) if key else None
    return {
        "contact_id": target.contact_id,
        "communication_id": target.communication_id,
        "outbox_id": target.outbox_id,
        "address_id": target.address_id,
        "channel": report.channel,
        "kind": report.kind,
        "outcome": report.state,
        "effect": report.effect,
        "detail": (report.detail or "")[:64] or None,
        "state": "waiting" if target.in_flight else "applied",
        "received_at": at,
        "evidence": sealed,
        "raw": None,
        "key_id": None,
    }


def _raw(report: Report) -> bytes:
    if report.raw is not None:
        return report.raw
    return json.dumps(_evidence(report), sort_keys=True, default=str).encode()


def set_states(conn: Connection, changes: Sequence[tuple[int, Report]], at: datetime) -> None:
    """Move communications to the reports' delivery states (never backwards): one read,
    one batched update."""
    wanted = sorted({comm for comm, _ in changes})
    if not wanted:
        return
    query = select(communications.c.id, communications.c.delivery_status).where(
        in_batch(communications.c.id, wanted)
    )
    current: dict[int, str | None] = {r.id: r.delivery_status for r in conn.execute(query)}
    latest: dict[int, Report] = {}
    for comm, report in changes:
        if comm in current and advances(current[comm], report.state):
            current[comm] = report.state
            latest[comm] = report
    if not latest:
        return
    conn.execute(
        update(communications)
        .where(communications.c.id == bindparam("b_id"))
        .values(
            delivery_status=bindparam("b_state"),
            delivery_detail=bindparam("b_detail"),
            delivery_at=bindparam("b_at"),
        ),
        [
            {"b_id": comm, "b_state": r.state, "b_detail": r.detail, "b_at": at}
            for comm, r in sorted(latest.items())
        ],
    )


def _past_soft_limit(
    conn: Connection,
    matched: Sequence[tuple[Report, Target]],
    soft: SoftRule | None,
    at: datetime,
) -> set[int]:
    """Addresses whose soft bounces in the window (this batch's included) reach the limit."""
    touched = {t.address_id for r, t in matched if r.effect == "soft_bounce" and t.address_id}
    if soft is None or not touched:
        return set()
    d = delivery_reports
    query = (
        select(d.c.address_id, func.count())
        .where(
            in_batch(d.c.address_id, sorted(touched)),
            d.c.effect == "soft_bounce",
            d.c.received_at > subtract(at, soft.window),
        )
        .group_by(d.c.address_id)
    )
    return {address for address, count in conn.execute(query) if count >= soft.limit}


def mark_undeliverable(conn: Connection, address_ids: Iterable[int | None]) -> int:
    """Mark addresses unusable: decide() says `undeliverable` for them from now on."""
    ids = sorted({a for a in address_ids if a is not None})
    if not ids:
        return 0
    result = conn.execute(
        update(addresses)
        .where(in_batch(addresses.c.id, ids), addresses.c.deliverable.is_(True))
        .values(deliverable=False)
    )
    return int(result.rowcount or 0)


def _block(
    conn: Connection,
    vault: Vault,
    keys: Mapping[int, str],
    items: Sequence[tuple[Report, Target]],
    at: datetime,
) -> int:
    """An address block per complaint (one per address: a repeated report adds none)."""
    done: set[tuple[int, int | None]] = set()
    made = 0
    for report, target in items:
        place = (target.contact_id, target.address_id)
        if place in done or target.address_id is None:
            continue
        done.add(place)
        lock_contact(conn, target.contact_id)
        source, reason = BLOCK_SOURCES[report.kind]
        if _blocked_already(conn, target.address_id, source):
            continue
        key = keys.get(target.contact_id)
        insert_block(
            conn,
            target.contact_id,
            report.channel,
            target.address_id,
            None,
            reason,
            source,
            target.communication_id,
            "delivery",
            at,
            sealed=vault.encrypt_json(key, EVIDENCE_FIELD, _evidence(report)) if key else None,
        )
        made += 1
    return made


def _blocked_already(conn: Connection, address_id: int, source: str) -> bool:
    query = (
        select(blocks.c.id)
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(
            blocks.c.address_id == address_id,
            blocks.c.source == source,
            block_lifts.c.block_id.is_(None),
        )
    )
    return conn.execute(query.limit(1)).first() is not None


def settle_waiting(conn: Connection, vault: Vault, outbox_ids: Sequence[int], at: datetime) -> int:
    """Apply reports that arrived before their message was recorded: now that the send is
    recorded (or has finally failed), attach them, move its state, set their blocks."""
    if not outbox_ids:
        return 0
    d, c = delivery_reports, communications
    query = (
        select(
            d,
            outbox.c.communication_id.label("recorded"),
            func.coalesce(d.c.address_id, c.c.address_id).label("address"),
        )
        .join(outbox, outbox.c.id == d.c.outbox_id)
        .outerjoin(c, c.c.id == outbox.c.communication_id)
        .where(in_batch(d.c.outbox_id, sorted(outbox_ids)), d.c.state == "waiting")
        .order_by(d.c.id)
    )
    ready = conn.execute(query).mappings().all()
    if not ready:
        return 0
    conn.execute(
        update(d)
        .where(d.c.id == bindparam("b_id"))
        .values(
            communication_id=bindparam("b_comm"), address_id=bindparam("b_address"), state="applied"
        ),
        [{"b_id": w["id"], "b_comm": w["recorded"], "b_address": w["address"]} for w in ready],
    )
    keys = _contact_keys(conn, {w["contact_id"] for w in ready})
    reports = [(_reopened(vault, keys, w), w) for w in ready]
    set_states(conn, [(w["recorded"], r) for r, w in reports if w["recorded"]], at)
    mark_undeliverable(conn, [w["address"] for r, w in reports if r.effect == "undeliverable"])
    blocks = [
        (r, Target(w["contact_id"], w["address"], w["recorded"], w["outbox_id"]))
        for r, w in reports
        if r.effect == "block"
    ]
    _block(conn, vault, keys, blocks, at)
    return len(ready)


def _reopened(vault: Vault, keys: Mapping[int, str], row: Mapping[Any, Any]) -> Report:
    """A stored report as a Report again (its evidence decrypted for the block it may set)."""
    key = keys.get(row["contact_id"])
    evidence = vault.decrypt_json(key, EVIDENCE, row["evidence"]) if key else None
    return Report(
        row["channel"],
        row["kind"],
        row["outcome"],
        row["effect"],
        row["detail"],
        outbox_id=row["outbox_id"],
        evidence={k: v for k, v in (evidence or {}).items() if k not in ("kind", "state")},
    )
