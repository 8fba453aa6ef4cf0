"""The `send` step: the gate, caps and quiet hours, and the outbox, in one batch transaction.

The twin decides for the whole batch; allowed contacts not deferred by caps or quiet hours
get their outbox row through one INSERT ... SELECT that evaluates the twin again inside the
statement, so the decision stored with each message is the one taken as it was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Connection, String, and_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from candor.journeys.runtime import caps
from candor.journeys.runtime.common import (
    batch_target,
    contact_ids,
    decide_batch,
    message_key,
    upsert_insert,
)
from candor.journeys.runtime.handlers import Handler, register_handler
from candor.journeys.runtime.moves import Member, Moves, StepContext, defer, go, sort_into
from candor.policy.twin import decisions
from candor.store.engine import is_sqlite
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.sql import in_batch
from candor.store.types import UTCDateTime

OUTBOX_COLUMNS = (
    "idempotency_key",
    "journey_id",
    "step_id",
    "contact_id",
    "channel",
    "address_id",
    "template_id",
    "purpose_id",
    "theme",
    "kind",
    "context",
    "decision_reason",
    "decision_basis",
    "decision_event_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def run_send(ctx: StepContext, members: list[Member]) -> Moves:
    """Gate, defer or queue each contact of the batch; denied ones take `on_denied`."""
    s, journey = ctx.settings, ctx.journey
    decided = decide_batch(ctx, members, s.channel, journey.theme(s.theme))
    allowed = sorted({cid for cid, d in decided.items() if d.allowed})
    rules = caps.sending_rules(ctx.conn)
    marketing = journey.outbox_kind == "marketing"
    later = caps.deferrals(ctx.conn, rules, s.channel, allowed, ctx.now, marketing=marketing)
    queued = queue_sends(ctx, [c for c in allowed if c not in later])
    missing = [c for c in allowed if c not in later and c not in queued]
    queued |= _already_queued(ctx, missing)
    fresh = decide_batch(
        ctx,
        [m for m in members if m.contact_id in set(missing) - queued],
        s.channel,
        journey.theme(s.theme),
    )
    moves: Moves = {}
    for m in members:
        decision = fresh.get(m.contact_id, decided[m.contact_id])
        if m.contact_id in later:
            due, reason = later[m.contact_id]
            sort_into(moves, defer(due, reason), m)
        elif m.contact_id in queued:
            sort_into(moves, go(ctx.next(), "passed"), m)
        else:
            reason = decision.reason if not decision.allowed else "denied"
            sort_into(moves, go(ctx.exit("on_denied"), reason), m)
    return moves


def _with_link(conn: Connection, data: Any, link: Any) -> Any:
    """The journey data, plus the step's tracked link target when it has one."""
    if link is None:
        return data
    if is_sqlite(conn.engine):
        return func.json_set(data, "$.click_target", str(link))
    merged = cast(data, JSONB).op("||")(func.jsonb_build_object("click_target", str(link)))
    return cast(merged, JSON)


def queue_sends(ctx: StepContext, ids: Sequence[int]) -> set[int]:
    """INSERT ... SELECT the messages of the allowed contacts; returns who got one."""
    if not ids:
        return set()
    s, journey, step = ctx.settings, ctx.journey, ctx.step
    decided = decisions(
        journey.purpose, s.channel, journey.theme(s.theme), ctx.now, batch_target(ids)
    ).subquery("d")
    jc = journey_contacts
    now = literal(ctx.now, UTCDateTime())
    key = literal(f"{journey.id}:") + cast(decided.c.contact_id, String) + literal(f":{step.id}")
    values: list[Any] = [
        key,
        literal(journey.id),
        literal(step.id),
        decided.c.contact_id,
        literal(s.channel),
        decided.c.address_id,  # the address the gate resolved: the one it decided for
        literal(s.template),
        literal(journey.purpose.id),
        literal(s.theme, String()),
        literal(journey.outbox_kind),
        _with_link(ctx.conn, jc.c.data, s.link),
        decided.c.reason,
        decided.c.basis,
        decided.c.event_id,
        literal("queued"),
        literal(0),
        now,
        now,
    ]
    query = (
        select(*values)
        .select_from(decided)
        .join(jc, and_(jc.c.contact_id == decided.c.contact_id, jc.c.journey_id == journey.id))
        .where(decided.c.reason == "allowed")
    )
    stmt = (
        upsert_insert(ctx.conn, outbox)
        .from_select(list(OUTBOX_COLUMNS), query)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox.c.contact_id)
    )
    return set(ctx.conn.execute(stmt).scalars())


def _already_queued(ctx: StepContext, ids: Sequence[int]) -> set[int]:
    """Contacts whose message for this step was queued before (a retried batch)."""
    if not ids:
        return set()
    keys = {message_key(ctx.journey.id, cid, ctx.step.id): cid for cid in ids}
    found = ctx.conn.execute(
        select(outbox.c.idempotency_key).where(in_batch(outbox.c.idempotency_key, keys))
    )
    return {keys[k] for k in found.scalars()}


register_handler("send", Handler(run=run_send))

__all__ = ["contact_ids", "queue_sends", "run_send"]
