"""Moving a claimed batch: where each contact goes, applied with a few bulk statements.

A step handler sorts the batch into Moves (go to a step, hold, defer, finish, leave); apply()
records the transitions (one INSERT ... SELECT per group), counts outcomes and each step's
"here" change (figures.step_counts) for journey_step_stats (flushed once per transaction) and
collects each row's change, written once per batch by write_pending as one
UPDATE ... WHERE id IN (...) per distinct change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, insert, literal, select, update

from candor.core.context import Candor
from candor.figures.step_counts import HERE, HERE_STATUSES, add_step_counts
from candor.journeys.definition import Step
from candor.journeys.runtime.batch_values import ids_table
from candor.journeys.runtime.model import Journey
from candor.policy.decide import Decision
from candor.store.journey_tables import journey_contacts, journey_transitions
from candor.store.sql import in_batch
from candor.store.types import UTCDateTime

Decided = tuple[Decision, int | None]  # the gate's decision and the address it resolved
TRANSITION_COLUMNS = ["journey_id", "contact_id", "from_step", "to_step", "outcome", "at"]


@dataclass(slots=True)
class Member:
    """One claimed journey_contacts row; in its journey the contact id names it."""

    contact_id: int
    status: str
    step_entered_at: datetime
    due_at: datetime
    checked_at: datetime | None = None
    entered_at: datetime | None = None  # the stay: a journey people re-enter keys messages by it

    @property
    def since(self) -> datetime:
        """Events after this moment are news to the step holding the contact."""
        return self.checked_at or self.step_entered_at


class Move(NamedTuple):
    """What happens to a group: `to` another step (None: stay), with an outcome to count.

    A named tuple, not a dataclass: handlers key their groups by it once per member, and a
    tuple hashes in C.
    """

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
    # Gate decisions taken in this batch's transaction, by (purpose, channel, theme): a send
    # after a consent step reuses them. The walk empties it after any step that writes what
    # decide() reads.
    decisions: dict[Hashable, dict[int, Decided]] = field(default_factory=dict)

    @property
    def settings(self) -> Any:
        return self.step.settings

    def next(self) -> str | None:
        return self.journey.next_of(self.step)

    def exit(self, name: str) -> str | None:
        return self.journey.exit(self.step, name)


Change = tuple[tuple[str, Any], ...]  # journey_contacts columns and values, sorted by column


class Pending:
    """contact id -> the journey_contacts change still to write, merged over the batch's steps.

    Members move in groups, so a change and a merge are built once per group and shared.
    """

    def __init__(self) -> None:
        self.changes: dict[int, Change] = {}
        self._merged: dict[tuple[Change, Change], Change] = {}

    def add(self, members: Iterable[Member], values: dict[str, Any]) -> None:
        change: Change = tuple(sorted(values.items()))
        changes, merged = self.changes, self._merged
        for m in members:
            before = changes.get(m.contact_id)
            if before is None:
                changes[m.contact_id] = change
                continue
            after = merged.get((before, change))
            if after is None:
                after = merged[(before, change)] = tuple(sorted({**dict(before), **values}.items()))
            changes[m.contact_id] = after


def apply(
    ctx: StepContext, moves: Moves, pending: Pending | None = None
) -> list[tuple[str, list[Member]]]:
    """Write the moves; returns (step, members) now due at once at another step.

    With `pending`, the journey_contacts changes are collected there instead of written, so
    a batch walking several steps writes each row once (write_pending) at the end.
    """
    onward: list[tuple[str, list[Member]]] = []
    for move, members in moves.items():
        if not members:
            continue
        values = _values(ctx, move)
        _remember(members, values)
        if pending is None:
            _write(ctx.conn, ctx.journey.id, [m.contact_id for m in members], values)
        else:
            pending.add(members, values)
        if move.outcome is not None:
            ctx.stats[(ctx.step.id, move.outcome)] += len(members)
            _record(ctx, move, members)
        if not move.seen and (move.to is not None or move.status not in HERE_STATUSES):
            ctx.stats[(ctx.step.id, HERE)] -= len(members)  # members are all here (claimed)
            if move.status in HERE_STATUSES:
                ctx.stats[(ctx.step.id if move.to is None else move.to, HERE)] += len(members)
        if move.to is not None and move.status == "active" and (move.due_at or ctx.now) <= ctx.now:
            onward.append((move.to, members))
    return onward


def _record(ctx: StepContext, move: Move, members: list[Member]) -> None:
    """The group's transitions: one INSERT ... SELECT over its contact ids (stay-moves record
    the step itself as `to`)."""
    to = (
        move.to
        if move.to is not None
        else (ctx.step.id if move.status in ("active", "waiting") else None)
    )
    ids = ids_table(ctx.conn, "moved", [m.contact_id for m in members])
    rows = select(
        literal(ctx.journey.id),
        ids.c.id,
        literal(ctx.step.id),
        literal(to, String()),
        literal(move.outcome),
        literal(ctx.now, UTCDateTime()),
    )
    ctx.conn.execute(insert(journey_transitions).from_select(TRANSITION_COLUMNS, rows))


def _values(ctx: StepContext, move: Move) -> dict[str, Any]:
    """The journey_contacts columns a move sets."""
    if move.seen:
        return {"checked_at": ctx.now}
    values = {"status": move.status, "due_at": move.due_at or ctx.now}
    if move.to is not None:
        values |= {"step_id": move.to, "step_entered_at": ctx.now, "checked_at": None}
    return values


def _remember(members: list[Member], values: dict[str, Any]) -> None:
    """The same change on the in-memory members (later steps of the batch read them)."""
    for name in ("checked_at", "status", "due_at", "step_entered_at"):
        if name in values:
            value = values[name]
            for m in members:
                setattr(m, name, value)


def _write(conn: Connection, journey_id: str, ids: list[int], values: dict[str, Any]) -> None:
    jc = journey_contacts
    where = (jc.c.journey_id == journey_id, in_batch(jc.c.contact_id, ids))
    conn.execute(update(jc).where(*where).values(values))


def write_pending(conn: Connection, journey_id: str, pending: Pending) -> None:
    """One UPDATE per distinct final change: each row is written once per batch.

    Writing a row once matters on PostgreSQL: a row updated again in the transaction that
    last wrote it has its foreign keys re-checked, and every version costs index entries.
    """
    groups: dict[Change, list[int]] = defaultdict(list)
    for contact_id, change in pending.changes.items():
        groups[change].append(contact_id)
    for change, ids in groups.items():
        _write(conn, journey_id, sorted(ids), dict(change))
    pending.changes.clear()


def flush_stats(conn: Connection, journey_id: str, counts: Counter[tuple[str, str]]) -> None:
    """Add the batch's counts per (step, outcome) to journey_step_stats in one upsert."""
    add_step_counts(conn, {(journey_id, step, outcome): n for (step, outcome), n in counts.items()})


def group_by(members: Iterable[Member], key: dict[int, Any]) -> dict[Any, list[Member]]:
    """Members grouped by `key[contact_id]`."""
    out: dict[Any, list[Member]] = defaultdict(list)
    for m in members:
        out[key.get(m.contact_id)].append(m)
    return out
