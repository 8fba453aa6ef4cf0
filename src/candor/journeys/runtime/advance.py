"""Advancing running journeys: claim due contacts in batches and move them in bulk.

Per journey and step, due contacts are claimed in batches (PostgreSQL: FOR UPDATE SKIP
LOCKED, so several workers share the work; SQLite: one writer at a time) and walked through
as many instantaneous steps as possible inside the batch's one transaction. Expired contacts
exit; a journey past its end archives. Time comes only from cx.clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from candor.core.context import Candor
from candor.journeys.definition import Step
from candor.journeys.runtime.archive import archive_journey
from candor.journeys.runtime.batch_moves import (
    Member,
    Moves,
    Pending,
    StepContext,
    apply,
    flush_stats,
    leave,
    write_pending,
)
from candor.journeys.runtime.collector import fewer_collections
from candor.journeys.runtime.handlers import Handler, get_handler
from candor.journeys.runtime.model import ACTIVE, Journey, running_journeys
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, journeys
from candor.store.sql import in_batch
from candor.store.tables import contacts

MAX_ROUNDS = 1000  # passes over one journey's steps in one advance (a guard, never reached)
MEMBER_COLUMNS = (
    "contact_id",
    "status",
    "step_entered_at",
    "due_at",
    "checked_at",
    "entered_at",
)


def advance(
    cx: Candor,
    *,
    batch_size: int = 5000,
    journey_id: str | None = None,
    budget: float | None = None,
) -> int:
    """Process everything due now in every running journey; returns contact-steps handled.

    With a `budget` (seconds), no batch starts after it ran out: a worker that also sends
    gets to its outbox while a launch keeps adding people, and comes back for the rest.
    """
    now = cx.clock.now()
    deadline = time.monotonic() + budget if budget is not None else math.inf
    with reading(cx.engine) as conn:
        journeys = running_journeys(conn)
    total = 0
    for journey in journeys:
        if journey_id is not None and journey.id != journey_id:
            continue
        if journey.ends_at is not None and now >= journey.ends_at:
            archive_journey(cx, journey.id, actor="worker", reason="ended")
            continue
        total += advance_journey(cx, journey, now, batch_size, deadline)
        if time.monotonic() > deadline:
            break
    return total


def advance_journey(
    cx: Candor, journey: Journey, now: datetime, batch_size: int, deadline: float = math.inf
) -> int:
    """Rounds over the journey's steps until a round finds nothing due (or time is up)."""
    total = 0
    for _ in range(MAX_ROUNDS):
        moved = expire(cx, journey, now, batch_size)
        for step in journey.defn.steps:
            moved += drain_step(cx, journey, step, now, batch_size, deadline)
        total += moved
        if moved == 0 or time.monotonic() > deadline:
            break
    return total


def drain_step(
    cx: Candor,
    journey: Journey,
    step: Step,
    now: datetime,
    batch_size: int,
    deadline: float = math.inf,
) -> int:
    """Claim and walk batches at one step until fewer than a batch are due there."""
    handler = get_handler(step.type)
    if handler is None:
        return 0  # a step type without a runtime yet: its contacts wait for it
    done = 0
    while True:
        with fewer_collections(), cx.engine.begin() as conn:
            if not still_running(conn, journey.id):
                return done
            ctx = StepContext(conn, cx, journey, step, now)
            members = claim(ctx, handler, batch_size)
            if members:
                hold_contacts(conn, [m.contact_id for m in members])
                walk(ctx, members)
                flush_stats(conn, journey.id, ctx.stats)
        done += len(members)
        if len(members) < batch_size or time.monotonic() > deadline:
            return done


def still_running(conn: Connection, journey_id: str) -> bool:
    """Whether the journey still runs; PostgreSQL holds its row (FOR KEY SHARE) till commit.

    Archiving locks the row FOR UPDATE: it waits for the batches in flight, and batches that
    start later see the journey archived and stop.
    """
    query = select(journeys.c.state).where(journeys.c.id == journey_id)
    if not is_sqlite(conn.engine):
        query = query.with_for_update(read=True, key_share=True)
    return conn.execute(query).scalar_one_or_none() == "running"


def hold_contacts(conn: Connection, contact_ids: list[int]) -> None:
    """Hold the batch's people (FOR KEY SHARE, in id order) until the batch commits.

    An erasure locks them FOR UPDATE, so it waits for the batch and then removes everything
    the batch wrote (transitions, messages): once per batch what foreign keys did per row.
    """
    if is_sqlite(conn.engine) or not contact_ids:
        return
    c = contacts
    query = select(c.c.id).where(in_batch(c.c.id, sorted(set(contact_ids)))).order_by(c.c.id)
    held = query.with_for_update(read=True, key_share=True).subquery()
    conn.execute(select(func.count()).select_from(held)).scalar_one()  # one row back, not all


def claim(ctx: StepContext, handler: Handler, limit: int) -> list[Member]:
    """Lock up to `limit` contacts due at the step, then any woken by their awaited event.

    The due come along the due index, per status, in (due_at, contact_id) order: a batch is
    a run of neighbouring people, so its statements read neighbouring pages of every table
    instead of reading everything at random. The woken come in a statement of their own,
    because an OR of both makes PostgreSQL scan the table for every batch.
    """
    jc = journey_contacts
    here = (jc.c.journey_id == ctx.journey.id, jc.c.step_id == ctx.step.id)
    members: list[Member] = []
    for status in ACTIVE:
        due = _claim_query(limit - len(members), *here, jc.c.status == status)
        due = due.where(jc.c.due_at <= ctx.now).order_by(jc.c.due_at, jc.c.contact_id)
        members += _locked(ctx.conn, due)
        if len(members) >= limit:
            return members
    wake = handler.wake(ctx) if handler.wake is not None else None
    if wake is not None:
        early = (jc.c.status == "waiting", jc.c.due_at > ctx.now, wake)
        members += _locked(ctx.conn, _claim_query(limit - len(members), *here, *early))
    return members


def _claim_query(limit: int, *conditions: Any) -> Any:
    jc = journey_contacts
    return select(*[jc.c[name] for name in MEMBER_COLUMNS]).where(*conditions).limit(limit)


def _locked(conn: Connection, query: Any) -> list[Member]:
    if not is_sqlite(conn.engine):
        query = query.with_for_update(skip_locked=True, of=journey_contacts)
    return [Member(*row) for row in conn.execute(query).all()]


def walk(ctx: StepContext, members: list[Member]) -> None:
    """Run the batch through its step and every step it reaches at once (same transaction).

    Each row's journey_contacts change is written once, after the last step it reached.
    """
    todo: list[tuple[Step, list[Member]]] = [(ctx.step, members)]
    pending = Pending()
    hops = 0
    limit = 4 * len(ctx.journey.steps) + 4
    while todo and hops < limit:
        step, group = todo.pop()
        hops += 1
        handler = get_handler(step.type)
        if handler is None:
            continue
        here = replace(ctx, step=step)
        moves = handler.run(here, group)
        if not handler.keeps_decisions:
            ctx.decisions.clear()
        _all_sorted(step, group, moves)
        for to, onward in apply(here, moves, pending):
            todo.append((ctx.journey.steps[to], onward))
    write_pending(ctx.conn, ctx.journey.id, pending)


def _all_sorted(step: Step, group: Sequence[Member], moves: Moves) -> None:
    sorted_ids = {m.contact_id for ms in moves.values() for m in ms}
    if len(sorted_ids) != len({m.contact_id for m in group}):
        raise RuntimeError(f"handler for step {step.id!r} left contacts unsorted")


def expire(cx: Candor, journey: Journey, now: datetime, batch_size: int) -> int:
    """Contacts whose stay ran out (expires_at passed) exit with outcome `expired`."""
    if not journey.defn.expires_after:
        # Only launch sets expires_at, from a definition that cannot change once launched:
        # no stay can run out, and the look (a scan of the journey's rows) is skipped.
        return 0
    jc = journey_contacts
    done = 0
    while True:
        with cx.engine.begin() as conn:
            if not still_running(conn, journey.id):
                return done
            query = select(*[jc.c[name] for name in (*MEMBER_COLUMNS, "step_id")]).where(
                jc.c.journey_id == journey.id, jc.c.status.in_(ACTIVE), jc.c.expires_at <= now
            )
            rows = _locked_rows(conn, query.limit(batch_size))
            hold_contacts(conn, [r["contact_id"] for r in rows])
            stats = StepContext(conn, cx, journey, journey.defn.steps[0], now).stats
            for step_id in sorted({r["step_id"] for r in rows}):
                members = [
                    Member(**{k: r[k] for k in MEMBER_COLUMNS})
                    for r in rows
                    if r["step_id"] == step_id
                ]
                step = journey.steps.get(step_id, journey.defn.steps[0])
                apply(StepContext(conn, cx, journey, step, now, stats), {leave("expired"): members})
            flush_stats(conn, journey.id, stats)
        done += len(rows)
        if len(rows) < batch_size:
            return done


def _locked_rows(conn: Connection, query: Any) -> list[Any]:
    if not is_sqlite(conn.engine):
        query = query.with_for_update(skip_locked=True, of=journey_contacts)
    return list(conn.execute(query).mappings())
