"""How many contacts are at each step of a running journey, kept in journey_step_stats.

Mission Control showed, per running journey and step, the journey_contacts rows there now
(status active or waiting): a GROUP BY over every contact in every running journey, on
each refresh. The runtime already adds per (journey, step, outcome) deltas to
journey_step_stats once per batch (journeys.runtime.batch_moves.flush_stats); the "here" count
rides along under the reserved outcome HERE, which no reason code can spell:

- launch: +entered at the first step (journeys.runtime.enroll);
- a move (journeys.runtime.batch_moves.apply), per group: -n at the step it leaves, +n at the
  step it reaches when it stays in the journey (moved on, held); done, exited, expired and
  erased by the forget step only subtract. Members a batch holds are all "here" at the
  step, so the change follows from the group's size: no per-contact work, no statement;
- rows that leave outside the runtime: erasure (rights.erasure, forget included) and
  restriction or objection (rights.restriction) subtract what they took, read first with
  one GROUP BY over the people's own rows (subtract / leaving);
- archive ends the journey: its HERE rows are dropped (its figures stop mattering; the
  purge of its rows that follows corrects nothing).

Readers (figures.mission_control, journeys.runtime.archive.journey_status) keep HERE apart from the
outcomes. tests/figures/test_step_counts.py proves the counts equal the old GROUP BY after
random launches, advances, expiries, stops, erasures and forget steps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import Connection, delete, func, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from candor.store.journey_tables import journey_contacts, journey_step_stats, journeys

HERE: Final = "(here)"  # parentheses: like the "(enter)" step, never a reason code
HERE_STATUSES: Final = ("active", "waiting")
# A step's clicks and opens, whoever made them (channels.engagement): counted beside the
# outcomes, but no contact passes a step by clicking, so they are never "passed".
CLICKED: Final = "clicked"
OPENED: Final = "opened"
ENGAGEMENT: Final = (CLICKED, OPENED)

Place = tuple[str, str]  # journey, step
Outcomes = dict[Place, dict[str, int]]  # other outcomes by step


def add(conn: Connection, counts: Mapping[Place, int]) -> None:
    """Add the (signed) deltas to the HERE rows."""
    add_step_counts(conn, {(j, s, HERE): n for (j, s), n in counts.items()})


def add_step_counts(conn: Connection, counts: Mapping[tuple[str, str, str], int]) -> None:
    """Add signed counts to journey_step_stats per (journey, step, outcome): one upsert,
    keys in order (no deadlocks). The runtime's flush and the HERE corrections share it."""
    rows = [
        {"journey_id": j, "step_id": s, "outcome": o, "count": n}
        for (j, s, o), n in sorted(counts.items())
        if n
    ]
    if not rows:
        return
    sqlite = conn.dialect.name == "sqlite"
    stmt = (sqlite_insert if sqlite else pg_insert)(journey_step_stats)
    stmt = stmt.on_conflict_do_update(
        index_elements=["journey_id", "step_id", "outcome"],
        set_={"count": journey_step_stats.c.count + stmt.excluded["count"]},
    )
    conn.execute(stmt, rows)


def leaving(conn: Connection, where: Any, *, skip_journey: str | None = None) -> Counter[Place]:
    """The rows `where` selects that count "here" in running journeys, by (journey, step).

    `skip_journey`: a journey whose batch counts its own members' departure (forget).
    """
    jc = journey_contacts
    running = select(journeys.c.id).where(journeys.c.state == "running")
    query = (
        select(jc.c.journey_id, jc.c.step_id, func.count())
        .where(where, jc.c.status.in_(HERE_STATUSES), jc.c.journey_id.in_(running))
        .group_by(jc.c.journey_id, jc.c.step_id)
    )
    if skip_journey is not None:
        query = query.where(jc.c.journey_id != skip_journey)
    return Counter({(j, s): int(n) for j, s, n in conn.execute(query)})


def subtract(conn: Connection, gone: Mapping[Place, int]) -> None:
    """Those rows left their steps (read with `leaving` before they changed)."""
    add(conn, {place: -n for place, n in gone.items()})


def drop(conn: Connection, journey_id: str) -> None:
    """The journey ended (archive): its HERE rows go, the outcome aggregates stay."""
    st = journey_step_stats
    conn.execute(delete(st).where(st.c.journey_id == journey_id, st.c.outcome == HERE))


def split(
    rows: Iterable[tuple[str, str, str, int]],
) -> tuple[dict[Place, int], dict[Place, dict[str, int]]]:
    """journey_step_stats rows (journey, step, outcome, count) -> (here, other outcomes).

    A HERE count of zero is left out, as the old GROUP BY found no row for an empty step.
    """
    here: dict[Place, int] = {}
    outcomes: Outcomes = {}
    for journey_id, step_id, outcome, n in rows:
        if outcome == HERE:
            if n:
                here[(journey_id, step_id)] = int(n)
        else:
            outcomes.setdefault((journey_id, step_id), {})[outcome] = int(n)
    return here, outcomes


def rebuild(conn: Connection) -> None:
    """Recount HERE for every running journey from journey_contacts (seeding, repair)."""
    st, jc = journey_step_stats, journey_contacts
    conn.execute(delete(st).where(st.c.outcome == HERE))
    running = select(journeys.c.id).where(journeys.c.state == "running")
    counted = (
        select(jc.c.journey_id, jc.c.step_id, literal(HERE), func.count())
        .where(jc.c.status.in_(HERE_STATUSES), jc.c.journey_id.in_(running))
        .group_by(jc.c.journey_id, jc.c.step_id)
    )
    columns = ["journey_id", "step_id", "outcome", "count"]
    conn.execute(insert(st).from_select(columns, counted))
