"""Block steps: `advertising_block` (continue only where no block applies) and
`set_advertising_block` (record the block the person asked for, with the asking message)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from sqlalchemy import func, insert, select

from candor.figures import change_counts as counts
from candor.journeys.runtime.batch_moves import Member, Moves, StepContext, go, leave, sort_into
from candor.journeys.runtime.handlers import Handler, register_handler
from candor.journeys.runtime.step_support import address_map, contact_ids, decide_batch
from candor.ledger import audit
from candor.ledger.bulk import lock_contacts
from candor.ledger.events import publish_blocks
from candor.policy.decide import block_kind
from candor.store.journey_tables import outbox
from candor.store.tables import blocks, communications


def run_advertising_block(ctx: StepContext, members: list[Member]) -> Moves:
    """Blocked contacts (any kind, for the step's channel and theme) take `on_blocked`."""
    s = ctx.settings
    marketing = replace(ctx.journey.purpose, kind="marketing")  # blocks are what we look for
    decided = decide_batch(ctx, members, s.channel, ctx.journey.theme(s.theme), purpose=marketing)
    moves: Moves = {}
    for m in members:
        reason = decided[m.contact_id].reason
        if reason == "erased":
            sort_into(moves, leave(reason), m)
        elif reason.startswith("blocked:"):
            sort_into(moves, go(ctx.exit("on_blocked"), reason), m)
        else:
            sort_into(moves, go(ctx.next(), "passed"), m)
    return moves


def run_set_advertising_block(ctx: StepContext, members: list[Member]) -> Moves:
    """Insert one block per contact (executemany), linked to its latest inbound message."""
    s = ctx.settings
    present = lock_contacts(ctx.conn, contact_ids(members))
    ids = sorted(present)
    reached = _reached_addresses(ctx, ids) if s.address and s.channel else {}
    asked = _latest_inbound(ctx, ids)
    reason = s.reason or f"asked in journey {ctx.journey.id}, step {ctx.step.id}"
    rows = []
    for cid in ids:
        address_id = reached.get(cid)
        rows.append(
            {
                "contact_id": cid,
                "kind": block_kind(s.channel, address_id, s.theme),
                "channel": s.channel,
                "address_id": address_id,
                "theme": s.theme,
                "reason": reason,
                "source": "journey",
                "communication_id": asked.get(cid),
                "created_at": ctx.now,
            }
        )
    if rows:
        new = ctx.conn.execute(
            insert(blocks).returning(blocks.c.id, sort_by_parameter_order=True), rows
        )
        publish_blocks(ctx.conn, rows, list(new.scalars()), ctx.now)  # block.set to connectors
        counts.blocks_set(ctx.conn, Counter(r["kind"] for r in rows))  # Mission Control
        audit.record(
            ctx.conn,
            actor=f"journey:{ctx.journey.id}",
            action="block.set",
            object_type="journey",
            object_id=ctx.journey.id,
            at=ctx.now,
            step=ctx.step.id,
            contacts=len(rows),
        )
    moves: Moves = {}
    for m in members:
        move = go(ctx.next(), "block_set") if m.contact_id in present else leave("erased")
        sort_into(moves, move, m)
    return moves


def _reached_addresses(ctx: StepContext, ids: list[int]) -> dict[int, int]:
    """The address this journey last wrote to on the step's channel, else the default one."""
    o = outbox
    latest = (
        select(o.c.contact_id, func.max(o.c.id).label("id"))
        .where(
            o.c.journey_id == ctx.journey.id,
            o.c.contact_id.in_(ids),
            o.c.channel == ctx.settings.channel,
            o.c.address_id.is_not(None),
        )
        .group_by(o.c.contact_id)
        .subquery()
    )
    rows = ctx.conn.execute(
        select(o.c.contact_id, o.c.address_id).join(latest, latest.c.id == o.c.id)
    )
    found = {r.contact_id: r.address_id for r in rows}
    return address_map(ctx.conn, ctx.settings.channel, ids) | found


def _latest_inbound(ctx: StepContext, ids: list[int]) -> dict[int, int]:
    """Per contact its latest inbound communication: the message that asked for the block."""
    cm = communications
    rows = ctx.conn.execute(
        select(cm.c.contact_id, func.max(cm.c.id).label("id"))
        .where(cm.c.contact_id.in_(ids), cm.c.direction == "in")
        .group_by(cm.c.contact_id)
    )
    return {r.contact_id: r.id for r in rows}


register_handler("advertising_block", Handler(run=run_advertising_block, keeps_decisions=True))
register_handler("set_advertising_block", Handler(run=run_set_advertising_block))
