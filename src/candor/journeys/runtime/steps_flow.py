"""Flow steps: `wait` (duration, until, event with timeout), `branch`, `store` and `end`.

Event markers (written by the channels side as inbound communications):
`click:<journey>:<step>` for a tracked click, `open:<journey>:<step>` for an open, and
`reply` or `reply:<anything>` for a reply; consent and confirmation come from the ledger.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, literal, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from candor.core.durations import add
from candor.core.errors import InvalidInput
from candor.journeys.definition import EventCondition
from candor.journeys.runtime.batch_moves import (
    SEEN,
    Member,
    Move,
    Moves,
    StepContext,
    finish,
    go,
    hold,
    sort_into,
)
from candor.journeys.runtime.filters import compile_filter
from candor.journeys.runtime.handlers import Handler, register_handler
from candor.journeys.runtime.model import duration
from candor.journeys.runtime.step_support import consent_news, inbound_news, woken
from candor.ledger import audit
from candor.ledger.bulk import lock_contacts
from candor.ledger.profile import coerce_value
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.sql import in_batch
from candor.store.tables import communications, contacts

# --- wait --------------------------------------------------------------------------------


def wait_event_clause(ctx: StepContext, event: str) -> ColumnElement[bool]:
    """Correlated condition: the awaited event happened since the contact started waiting."""
    cm = communications
    if event == "consent":
        return consent_news(ctx, ctx.journey.purpose.id, ("granted", "confirmed"))
    if event == "confirmed":
        return consent_news(ctx, ctx.journey.purpose.id, ("confirmed",))
    if event == "click":
        marker = cm.c.content_ref.startswith(f"click:{ctx.journey.id}:", autoescape=True)
        return inbound_news(ctx, marker)
    return inbound_news(
        ctx, or_(cm.c.content_ref == "reply", cm.c.content_ref.startswith("reply:"))
    )


def wake_wait(ctx: StepContext) -> ColumnElement[bool] | None:
    event = ctx.settings.event
    return wait_event_clause(ctx, event) if event else None


def run_wait(ctx: StepContext, members: list[Member]) -> Moves:
    """Entering: hold until the duration, the moment or the timeout; then pass or time out."""
    s = ctx.settings
    moves: Moves = {}
    held = [m for m in members if m.status == "waiting"]
    happened = woken(ctx, held, wait_event_clause(ctx, s.event)) if s.event else set()
    passed = go(ctx.next(), "passed")
    entering: dict[datetime, Move] = {}  # a batch entered the step together: one move
    for m in members:
        if m.status == "active":
            move = entering.get(m.step_entered_at)
            if move is None:
                move = entering[m.step_entered_at] = _enter_wait(ctx, m.step_entered_at)
            sort_into(moves, move, m)
        elif s.event is None or m.contact_id in happened:
            sort_into(moves, passed, m)
        elif m.due_at <= ctx.now:
            sort_into(moves, go(ctx.exit("on_timeout"), "timeout"), m)
        else:
            sort_into(moves, SEEN, m)
    return moves


def _enter_wait(ctx: StepContext, entered: datetime) -> Move:
    """Where a contact that entered the step at `entered` goes: held, or on at once."""
    s = ctx.settings
    if s.duration:
        return hold(add(entered, duration(s.duration)))
    if s.until is not None:
        return hold(s.until) if s.until > ctx.now else go(ctx.next(), "passed")
    return hold(add(entered, duration(s.timeout)))


# --- branch ------------------------------------------------------------------------------


def branch_event_clause(ctx: StepContext, cond: EventCondition) -> ColumnElement[bool]:
    """Correlated condition over journey_contacts: the contact did `event` with step's message."""
    cm, jc, o = communications, journey_contacts, outbox
    if cond.event == "delivered":
        exact = (
            literal(f"{ctx.journey.id}:") + cast(jc.c.contact_id, String) + literal(f":{cond.step}")
        )
        return select(o.c.id).where(o.c.idempotency_key == exact, o.c.status == "sent").exists()
    if cond.event == "replied":
        marker = or_(cm.c.content_ref == "reply", cm.c.content_ref.startswith("reply:"))
        return _inbound_since_entry(marker)
    kind = "click" if cond.event == "clicked" else "open"
    return _inbound_since_entry(cm.c.content_ref == f"{kind}:{ctx.journey.id}:{cond.step}")


def _inbound_since_entry(marker: ColumnElement[bool]) -> ColumnElement[bool]:
    cm, jc = communications, journey_contacts
    return (
        select(cm.c.id)
        .where(
            and_(
                cm.c.contact_id == jc.c.contact_id,
                cm.c.direction == "in",
                marker,
                cm.c.occurred_at >= jc.c.entered_at,
            )
        )
        .exists()
    )


def run_branch(ctx: StepContext, members: list[Member]) -> Moves:
    """The first case that holds (one query per case over the batch) decides; else default."""
    jc = journey_contacts
    remaining = {m.contact_id: m for m in members}
    moves: Moves = {}
    for case in ctx.settings.cases:
        if not remaining:
            break
        clause = compile_filter(
            case.when, jc.c.data, ctx.journey.types, lambda c: branch_event_clause(ctx, c)
        )
        mine = (jc.c.journey_id == ctx.journey.id, in_batch(jc.c.contact_id, remaining))
        hits = ctx.conn.execute(select(jc.c.contact_id).where(*mine, clause))
        for contact_id in hits.scalars():
            sort_into(moves, go(case.next, f"case:{case.next}"), remaining.pop(contact_id))
    for m in remaining.values():
        sort_into(moves, go(ctx.settings.default, "default"), m)
    return moves


# --- store and end -----------------------------------------------------------------------


def run_store(ctx: StepContext, members: list[Member]) -> Moves:
    """Persist the named journey data into the profile (one executemany), then go on."""
    jc = journey_contacts
    ids = sorted({m.contact_id for m in members})
    lock_contacts(ctx.conn, ids)
    rows = ctx.conn.execute(
        select(jc.c.contact_id, jc.c.data, contacts.c.attributes)
        .join(contacts, contacts.c.id == jc.c.contact_id)
        .where(
            jc.c.journey_id == ctx.journey.id,
            in_batch(jc.c.contact_id, ids),
            contacts.c.erased_at.is_(None),
        )
    )
    changes = []
    for row in rows:
        merged = _stored(ctx, dict(row.data or {}), dict(row.attributes or {}))
        if merged is not None:
            changes.append({"cid": row.contact_id, "attributes": merged, "updated_at": ctx.now})
    if changes:
        stmt = update(contacts).where(contacts.c.id == bindparam("cid"))
        ctx.conn.execute(stmt, changes)
        audit.record(
            ctx.conn,
            actor=f"journey:{ctx.journey.id}",
            action="journey.store",
            object_type="journey",
            object_id=ctx.journey.id,
            at=ctx.now,
            step=ctx.step.id,
            contacts=len(changes),
            fields=sorted(ctx.settings.values),
        )
    moves: Moves = {}
    for m in members:
        sort_into(moves, go(ctx.next(), "stored"), m)
    return moves


def _stored(ctx: StepContext, data: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The contact's attributes with the step's values applied (None: nothing changes)."""
    merged = dict(attrs)
    for name, source in ctx.settings.values.items():
        value = data.get(source.data) if hasattr(source, "data") else source
        kind = ctx.journey.types.get(name)
        if value is None or kind is None:
            continue
        try:
            merged[name] = coerce_value(value, kind, name)
        except InvalidInput:
            continue  # gathered data that does not fit the attribute is not stored
    return merged if merged != attrs else None


def run_end(ctx: StepContext, members: list[Member]) -> Moves:
    """Leave the journey: done."""
    return {finish("done"): list(members)}


register_handler("wait", Handler(run=run_wait, wake=wake_wait, keeps_decisions=True))
register_handler("branch", Handler(run=run_branch, keeps_decisions=True))
register_handler("store", Handler(run=run_store))
register_handler("end", Handler(run=run_end, keeps_decisions=True))
