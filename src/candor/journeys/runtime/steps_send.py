"""The `send` step: the gate, caps and quiet hours, and the outbox, in one batch transaction.

The twin decides for the whole batch, once; allowed contacts not deferred by caps or quiet
hours get their outbox row through one INSERT ... SELECT in the same transaction, storing
that decision (basis, event, resolved address) with each message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, String, cast, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from candor.journeys.runtime import caps
from candor.journeys.runtime.batch_moves import Member, Moves, StepContext, defer, go, sort_into
from candor.journeys.runtime.batch_values import rows_table
from candor.journeys.runtime.handlers import Handler, register_handler
from candor.journeys.runtime.step_support import (
    contact_ids,
    decide_batch,
    message_key,
    stay,
    upsert_insert,
)
from candor.policy.decide import ALLOWED, Decision
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
    addresses: dict[int, int | None] = {}
    decided = decide_batch(ctx, members, s.channel, journey.theme(s.theme), addresses=addresses)
    allowed = sorted({cid for cid, d in decided.items() if d.allowed})
    rules = caps.sending_rules(ctx.conn)
    marketing = journey.outbox_kind == "marketing"
    later = caps.deferrals(ctx.conn, rules, s.channel, allowed, ctx.now, marketing=marketing)
    due_now = set(allowed) - later.keys()
    now_due = [m for m in members if m.contact_id in due_now]
    queued = queue_sends(ctx, now_due, decided, addresses)
    missing = [m.contact_id for m in now_due if m.contact_id not in queued]
    queued |= _already_queued(ctx, [m for m in now_due if m.contact_id not in queued])
    unsent = set(missing) - queued
    gone = [m for m in members if m.contact_id in unsent]
    fresh = decide_batch(ctx, gone, s.channel, journey.theme(s.theme), reuse=False)
    moves: Moves = {}
    passed = go(ctx.next(), "passed")
    for m in members:
        if m.contact_id in queued:
            sort_into(moves, passed, m)
        elif m.contact_id in later:
            due, reason = later[m.contact_id]
            sort_into(moves, defer(due, reason), m)
        else:
            decision = fresh.get(m.contact_id, decided[m.contact_id])
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


def queue_sends(
    ctx: StepContext,
    members: Sequence[Member],
    decided: dict[int, Decision],
    addresses: dict[int, int | None],
) -> set[int]:
    """One INSERT ... SELECT of the allowed contacts' messages; returns who got one.

    Each row stores the gate's decision taken in this transaction (basis, event, and the
    address it resolved), so the twin runs once per batch, not again inside the INSERT.
    """
    if not members:
        return set()
    s, journey, step = ctx.settings, ctx.journey, ctx.step
    stays = {m.contact_id: stay(ctx, m) for m in members}
    gate = rows_table(
        ctx.conn,
        "gate",
        {"contact_id": BigInteger(), "basis": String(), "event_id": BigInteger(),
         "address_id": BigInteger(), "stay": String()},
        [
            (cid, decided[cid].basis, decided[cid].event_id, addresses.get(cid), stays[cid])
            for cid in sorted(m.contact_id for m in members)
        ],
    )  # fmt: skip
    jc = journey_contacts
    # The member's data per member by primary key (a join let the planner hash the whole
    # table), once: OFFSET 0 keeps PostgreSQL from inlining the probe again into the WHERE.
    mine = (jc.c.contact_id == gate.c.contact_id, jc.c.journey_id == journey.id)
    entrants = select(
        gate, select(jc.c.data).where(*mine).scalar_subquery().label("data")
    ).offset(0).subquery("entrants")  # fmt: skip
    e = entrants.c
    now = literal(ctx.now, UTCDateTime())
    key = literal(f"{journey.id}:") + cast(e.contact_id, String) + literal(f":{step.id}") + e.stay
    values: list[Any] = [
        key,
        literal(journey.id),
        literal(step.id),
        e.contact_id,
        literal(s.channel),
        e.address_id,  # the address the gate resolved: the one it decided for
        literal(s.template),
        literal(journey.purpose.id),
        literal(s.theme, String()),
        literal(journey.outbox_kind),
        _with_link(ctx.conn, e.data, s.link),
        literal(ALLOWED),
        e.basis,
        e.event_id,
        literal("queued"),
        literal(0),
        now,
        now,
    ]
    query = select(*values).where(e.data.is_not(None))
    return _insert_messages(ctx.conn, query)


def _insert_messages(conn: Connection, query: Any) -> set[int]:
    """INSERT the rows of `query` into the outbox; returns the contacts that got one.

    PostgreSQL first tries a plain INSERT in a savepoint, because ON CONFLICT makes every row
    a speculative insertion, for a key that exists only when a journey loops back to a step or
    a batch is retried. Should one exist, the savepoint rolls back and ON CONFLICT skips it.
    (A look for the key first is planned as a scan of the outbox per member whenever its
    statistics call it empty.)
    """
    columns = list(OUTBOX_COLUMNS)
    if not is_sqlite(conn.engine):
        queued = _insert_if_all_new(conn, columns, query)
        if queued is not None:
            return queued
    stmt = (
        upsert_insert(conn, outbox)
        .from_select(columns, query)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(outbox.c.contact_id)
    )
    return set(conn.execute(stmt).scalars().all())  # all(): one fetch, not one per row


def _insert_if_all_new(conn: Connection, columns: list[str], query: Any) -> set[int] | None:
    """The plain INSERT in a savepoint; None when a key existed and nothing was written.

    Any other integrity error comes back from the ON CONFLICT statement that follows.
    """
    plain = outbox.insert().from_select(columns, query).returning(outbox.c.contact_id)
    try:
        with conn.begin_nested():
            return set(conn.execute(plain).scalars().all())
    except IntegrityError:
        return None


def _already_queued(ctx: StepContext, members: Sequence[Member]) -> set[int]:
    """Contacts whose message for this step was queued before (a retried batch)."""
    if not members:
        return set()
    keys = {
        message_key(ctx.journey.id, m.contact_id, ctx.step.id, stay(ctx, m)): m.contact_id
        for m in members
    }
    found = ctx.conn.execute(
        select(outbox.c.idempotency_key).where(in_batch(outbox.c.idempotency_key, keys))
    )
    return {keys[k] for k in found.scalars()}


register_handler("send", Handler(run=run_send, keeps_decisions=True))

__all__ = ["contact_ids", "queue_sends", "run_send"]
