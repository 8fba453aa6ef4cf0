"""Moving a claimed batch: where each contact goes, applied with a few bulk statements.

A step handler sorts the batch into Moves (go to a step, hold, defer, finish, leave); apply()
turns each group into one UPDATE ... WHERE id IN (...), records the transitions with one
executemany, and counts outcomes for journey_step_stats (flushed once per transaction).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from candor.journeys.definition import Step
from candor.journeys.runtime.model import Journey
from candor.runtime import Candor
from candor.store.engine import is_sqlite
from candor.store.journey_tables import journey_contacts, journey_step_stats, journey_transitions
from candor.store.sql import bulk_insert, in_batch


@dataclass
class Member:
    """One claimed journey_contacts row (the personal part is only the contact id)."""

    id: int
    contact_id: int
    status: str
    step_entered_at: datetime
    due_at: datetime
    checked_at: datetime | None = None

    @property
    def since(self) -> datetime:
        """Events after this moment are news to the step holding the contact."""
        return self.checked_at or self.step_entered_at


@dataclass(frozen=True)
class Move:
    """What happens to a group: `to` another step (None: stay), with an outcome to count."""

    to: str | None
    outcome: str | None
    status: str = "active"
    due_at: datetime | None = None
    seen: bool = False  # stay, only mark the events so far as examined


def go(to: str | None, outcome: str) -> Move:
    """On to step `to` (None: nowhere left to go, so the contact is done)."""
    return Move(to, outcome) if to is not None else Move(None, outcome, "done")


def hold(due_at: datetime, outcome: str | None = None) -> Move:
    """Stay at this step, waiting, until `due_at` (or an event wakes the contact)."""
    return Move(None, outcome, "waiting", due_at)


def defer(due_at: datetime, outcome: str) -> Move:
    """Stay at this step and try again at `due_at` (caps, quiet hours)."""
    return Move(None, outcome, "active", due_at)


def finish(outcome: str = "done") -> Move:
    return Move(None, outcome, "done")


def leave(outcome: str) -> Move:
    """Exit the journey early (expired, erased, restricted)."""
    return Move(None, outcome, "exited")


SEEN = Move(None, None, "waiting", seen=True)

Moves = dict[Move, list[Member]]


def sort_into(moves: Moves, move: Move, member: Member) -> None:
    moves.setdefault(move, []).append(member)


@dataclass
class StepContext:
    """What a handler sees: the transaction, the product, the journey, the step, the time."""

    conn: Connection
    cx: Candor
    journey: Journey
    step: Step
    now: datetime
    stats: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def settings(self) -> Any:
        return self.step.settings

    def next(self) -> str | None:
        return self.journey.next_of(self.step)

    def exit(self, name: str) -> str | None:
        return self.journey.exit(self.step, name)


def apply(ctx: StepContext, moves: Moves) -> list[tuple[str, list[Member]]]:
    """Write the moves; returns (step, members) now due at once at another step."""
    onward: list[tuple[str, list[Member]]] = []
    transitions: list[dict[str, Any]] = []
    for move, members in moves.items():
        if not members:
            continue
        _update(ctx, move, members)
        if move.outcome is not None:
            ctx.stats[(ctx.step.id, move.outcome)] += len(members)
            to = (
                move.to
                if move.to is not None
                else (ctx.step.id if move.status in ("active", "waiting") else None)
            )
            transitions += [
                {
                    "journey_id": ctx.journey.id,
                    "contact_id": m.contact_id,
                    "from_step": ctx.step.id,
                    "to_step": to,
                    "outcome": move.outcome,
                    "at": ctx.now,
                }
                for m in members
            ]
        if move.to is not None and move.status == "active" and (move.due_at or ctx.now) <= ctx.now:
            onward.append((move.to, members))
    bulk_insert(ctx.conn, journey_transitions, transitions)
    return onward


def _update(ctx: StepContext, move: Move, members: list[Member]) -> None:
    """One UPDATE for the group, and the same change on the in-memory members."""
    jc = journey_contacts
    values: dict[str, Any]
    if move.seen:
        values = {"checked_at": ctx.now}
    else:
        values = {"status": move.status, "due_at": move.due_at or ctx.now}
        if move.to is not None:
            values |= {"step_id": move.to, "step_entered_at": ctx.now, "checked_at": None}
    ids = [m.id for m in members]
    ctx.conn.execute(update(jc).where(in_batch(jc.c.id, ids)).values(values))
    for m in members:
        m.checked_at = values.get("checked_at", m.checked_at)
        m.status = values.get("status", m.status)
        m.due_at = values.get("due_at", m.due_at)
        m.step_entered_at = values.get("step_entered_at", m.step_entered_at)


def flush_stats(conn: Connection, journey_id: str, counts: Counter[tuple[str, str]]) -> None:
    """Add the counts to journey_step_stats: one upsert call, keys in order (no deadlocks)."""
    rows = [
        {"journey_id": journey_id, "step_id": step, "outcome": outcome, "count": n}
        for (step, outcome), n in sorted(counts.items())
        if n
    ]
    if not rows:
        return
    stmt = (sqlite_insert if is_sqlite(conn.engine) else pg_insert)(journey_step_stats)
    stmt = stmt.on_conflict_do_update(
        index_elements=["journey_id", "step_id", "outcome"],
        set_={"count": journey_step_stats.c.count + stmt.excluded["count"]},
    )
    conn.execute(stmt, rows)


def group_by(members: Iterable[Member], key: dict[int, Any]) -> dict[Any, list[Member]]:
    """Members grouped by `key[contact_id]`."""
    out: dict[Any, list[Member]] = defaultdict(list)
    for m in members:
        out[key.get(m.contact_id)].append(m)
    return out
