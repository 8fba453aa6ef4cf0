"""Storing and launching journeys: the checks, the journeys row, and set-based enrollment.

A launch marks the journey running, then enrols its target group in batches of contacts in
id order, each one INSERT ... SELECT from the SQL twin of decide in a transaction of its own,
so workers start on the first people while later batches go in (a worker continues a launch
whose batches stopped coming). Erased, restricted, objected and completely blocked people
never enter; only the declared `fields` that are profile attributes are copied into the
journey-scoped data. `enroll_batch` enrols any batch of people (a launch's, a trigger's).
A journey with a trigger enrols nobody at launch: it runs, and people enter when it fires
(journeys.runtime.entry), its target narrowing who may.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, String, func, insert, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from candor.core.context import Candor
from candor.core.durations import add
from candor.core.errors import Conflict
from candor.figures.step_counts import HERE
from candor.journeys.definition import JourneyDefinition, Problem, build_journey
from candor.journeys.lint import check, has_errors
from candor.journeys.runtime.advance import hold_contacts
from candor.journeys.runtime.batch_moves import flush_stats
from candor.journeys.runtime.filters import compile_filter, target_select
from candor.journeys.runtime.model import ENTER_STEP, NEVER_ENTER, journey_row
from candor.journeys.runtime.reference_data import DbRegistry
from candor.journeys.runtime.target_lookups import target_lookups
from candor.journeys.runtime.versions import record_version
from candor.journeys.step_types import parse_duration
from candor.journeys.validate import validate
from candor.ledger import audit
from candor.ledger.registry import purpose_facts
from candor.policy.twin import count_by_reason, decisions
from candor.store.engine import is_sqlite
from candor.store.journey_tables import journey_contacts, journeys
from candor.store.partitions import create_journey_partitions
from candor.store.tables import contacts
from candor.store.types import UTCDateTime
from candor.store.vault import Vault
from candor.sync.sources import stage_source, unstage

SOURCE_UNKNOWN = "source_unknown"  # people a source named that this instance does not hold
LAUNCH_BATCH = 20_000  # contacts a launch enrols per transaction
FIRST_BATCH = 2_000  # the first one is small: workers start on it at once
STALLED = timedelta(minutes=2)  # a launch without a batch for this long is a worker's to go on


class JourneyRefused(Exception):
    """Validation or lint errors: the journey may not be stored or launched."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass
class LaunchReport:
    journey_id: str
    entered: int
    by_reason: dict[str, int] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def in_target(self) -> int:
        """How many of this instance's people the target group holds (entered or not)."""
        return sum(n for reason, n in self.by_reason.items() if reason != SOURCE_UNKNOWN)

    @property
    def not_entered(self) -> dict[str, int]:
        """Why the rest did not enter, by reason: Mission Control's `(enter)` stopped counts."""
        return {r: n for r, n in sorted(self.by_reason.items()) if r in NEVER_ENTER and n}

    def summary(self) -> str:
        """The line "N entered of M in the target group", then the reasons for the rest."""
        text = f"{self.entered} entered of {self.in_target} in the target group"
        rest = ", ".join(f"{reason} {n}" for reason, n in self.not_entered.items())
        text += f"; not entered: {rest}" if rest else ""
        unknown = self.by_reason.get(SOURCE_UNKNOWN, 0)
        return text + (f"; {unknown} named by the source are not known here" if unknown else "")

    def add(self, entered: int, by_reason: dict[str, int]) -> None:
        """Count a batch in."""
        self.entered += entered
        for reason, n in by_reason.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + n


def checked(conn: Connection, defn: JourneyDefinition, *, lint_too: bool = True) -> list[Problem]:
    """Problems of the journey against the database registry; raise JourneyRefused on errors."""
    problems = check(defn, DbRegistry(conn)) if lint_too else _validate_only(conn, defn)
    if has_errors(problems):
        raise JourneyRefused([p for p in problems if p.severity == "error"])
    return problems


def _validate_only(conn: Connection, defn: JourneyDefinition) -> list[Problem]:
    return validate(defn, DbRegistry(conn))


def save_draft(
    conn: Connection, defn: JourneyDefinition, *, actor: str, at: datetime
) -> list[Problem]:
    """Store (or replace) a draft after validation; a launched journey cannot be replaced."""
    problems = checked(conn, defn, lint_too=False)
    existing = conn.execute(
        select(journeys.c.state, journeys.c.version).where(journeys.c.id == defn.id)
    ).first()
    values = {
        "name": defn.name,
        "purpose_id": defn.purpose,
        "definition": defn.dump(),
        "ends_at": defn.ends_at,
        "trigger_on": defn.trigger.on if defn.trigger else None,
        "trigger_key": defn.trigger.key if defn.trigger else None,
    }
    if existing is None:
        version = 1
        conn.execute(
            insert(journeys).values(
                id=defn.id, version=1, state="draft", created_at=at, entered=0, **values
            )
        )
    elif existing.state == "draft":
        version = existing.version + 1
        conn.execute(
            update(journeys).where(journeys.c.id == defn.id).values(version=version, **values)
        )
    else:
        raise Conflict(f"journey: {defn.id!r} is {existing.state}; use a new id")
    record_version(conn, defn.id, version, values["definition"], actor=actor, at=at)
    audit.record(
        conn, actor=actor, action="journey.save", object_type="journey", object_id=defn.id, at=at
    )
    return problems


def launch(
    cx: Candor, defn: JourneyDefinition | None = None, *, journey_id: str | None = None, actor: str
) -> LaunchReport:
    """Check and store as running, then enrol the target group batch by batch (returns when
    all are in; workers start on the first batch as soon as it commits)."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        if defn is None:
            assert journey_id is not None
            row = journey_row(conn, journey_id)
            if row["state"] != "draft":
                raise Conflict(f"journey: {journey_id!r} is {row['state']}, not a draft")
            defn = build_journey(row["definition"])
        else:
            save_draft(conn, defn, actor=actor, at=now)
        problems = checked(conn, defn)
        create_journey_partitions(conn, defn.id)
        report = LaunchReport(defn.id, 0)
        until = None
        if defn.trigger is not None:
            pass  # people enter when the trigger fires; the clock's triggers look from now on
        elif defn.source:  # staged values live in this transaction: enrolled in one batch
            report = _enroll(conn, defn, now, cx.vault)
        else:
            highest = select(func.coalesce(func.max(contacts.c.id), 0))
            until = int(conn.execute(highest).scalar_one())
        conn.execute(
            update(journeys)
            .where(journeys.c.id == defn.id)
            .values(
                state="running",
                launched_at=now,
                ends_at=defn.ends_at,
                entered=report.entered,
                enrol_until=until,
                enrolled_through=0 if until is not None else None,
                enrolled_at=now,
                trigger_checked_at=now if defn.trigger is not None else None,
            )
        )
        audit.record(
            conn,
            actor=actor,
            action="journey.launch",
            object_type="journey",
            object_id=defn.id,
            at=now,
            entered=report.entered,
            group_until=until,
        )
    while until is not None and enrol_next(cx, defn.id, report, wait=True):
        pass
    report.warnings = [p for p in problems if p.severity == "warning"]
    return report


def enrol_next(cx: Candor, journey_id: str, report: LaunchReport, *, wait: bool) -> bool:
    """Enrol the launch's next batch (the next LAUNCH_BATCH targeted contacts by id, the
    first FIRST_BATCH) in one
    transaction; False when there was none to do. Without `wait` a launch another process
    is enrolling right now is skipped (FOR NO KEY UPDATE SKIP LOCKED: workers' batches,
    which hold the row FOR KEY SHARE, go on meanwhile)."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        query = select(journeys).where(journeys.c.id == journey_id)
        if not is_sqlite(conn.engine):
            query = query.with_for_update(key_share=True, skip_locked=not wait)
        row = conn.execute(query).mappings().first()
        if row is None or row["state"] != "running" or row["enrol_until"] is None:
            return False
        defn = build_journey(row["definition"])
        through, until = int(row["enrolled_through"] or 0), int(row["enrol_until"])
        people = within_target(conn, defn, through, until, now)
        size = FIRST_BATCH if through == 0 else LAUNCH_BATCH
        ids: list[int] = [int(i) for i in conn.execute(people.limit(size)).scalars()]
        entered, by_reason = enroll_batch(conn, defn, ids, now) if ids else (0, {})
        report.add(entered, by_reason)
        more = len(ids) == size and ids[-1] < until
        conn.execute(
            update(journeys)
            .where(journeys.c.id == journey_id)
            .values(
                enrolled_through=ids[-1] if more else until,
                enrol_until=until if more else None,
                enrolled_at=now,
            )
        )
        if through == 0 or not more:  # statistics once a first batch and the whole group are in
            refresh_statistics(conn)
        if not more:
            audit.record(
                conn,
                actor="launch",
                action="journey.enrolled",
                object_type="journey",
                object_id=journey_id,
                at=now,
                entered=int(row["entered"]) + entered,
            )
    return True


def continue_enrolments(cx: Candor) -> int:
    """The worker's duty: go on with launches whose batches stopped coming (a launching
    process that died); returns how many people entered."""
    stalled = cx.clock.now() - STALLED
    with cx.engine.connect() as conn:
        ids = conn.execute(
            select(journeys.c.id).where(
                journeys.c.state == "running",
                journeys.c.enrol_until.is_not(None),
                journeys.c.enrolled_at < stalled,
            )
        ).scalars()
        stopped = list(ids)
    report = LaunchReport("", 0)
    for journey_id in stopped:
        while enrol_next(cx, journey_id, report, wait=False):
            pass
    return report.entered


def within_target(
    conn: Connection, defn: JourneyDefinition, through: int, until: int, at: datetime
) -> Select[Any]:
    """The targeted contacts with ids in (through, until], in id order (gate decisions and
    saved audiences in the target are looked up as of `at`)."""
    c = contacts
    where: list[ColumnElement[bool]] = [c.c.id > through, c.c.id <= until]
    if defn.target is not None:
        types = DbRegistry(conn).profile_types()
        lookups = target_lookups(conn, at)
        where.append(compile_filter(defn.target, c.c.attributes, types, lookups=lookups))
    return select(c.c.id).where(*where).order_by(c.c.id)


def enroll_batch(
    conn: Connection, defn: JourneyDefinition, contact_ids: list[int], now: datetime
) -> tuple[int, dict[str, int]]:
    """Enrol these people (ascending ids, none in the journey yet) through the gate, in the
    caller's transaction: journey_contacts rows, step counts, the journey's entered count.
    Returns (entered, counts by reason)."""
    registry = DbRegistry(conn)
    data = data_object(conn, [f for f in defn.fields if f in registry.profile_types()])
    hold_contacts(conn, contact_ids)
    facts = purpose_facts(conn, defn.purpose)
    decided = decisions(
        facts, None, None, now, dialect=conn.dialect.name, ids=contact_ids, carry=data
    )
    by_reason, entered = _enter(conn, defn, decided, now)
    _count_entry(conn, defn, entered, by_reason)
    conn.execute(
        update(journeys)
        .where(journeys.c.id == defn.id)
        .values(entered=journeys.c.entered + entered)
    )
    return entered, by_reason


def _count_entry(
    conn: Connection, defn: JourneyDefinition, entered: int, by_reason: dict[str, int]
) -> None:
    """Entry counts by reason into journey_step_stats; the entrants are at the first step."""
    counts: Counter[tuple[str, str]] = Counter({(ENTER_STEP, "entered"): entered})
    counts[(defn.steps[0].id, HERE)] += entered
    counts.update({(ENTER_STEP, r): n for r, n in by_reason.items() if r in NEVER_ENTER})
    flush_stats(conn, defn.id, counts)


def _enroll(conn: Connection, defn: JourneyDefinition, now: datetime, vault: Vault) -> LaunchReport:
    """A source-fed journey: its staged people in one INSERT ... SELECT from the twin."""
    registry = DbRegistry(conn)
    types = registry.profile_types()
    target = target_select(defn.target, types, target_lookups(conn, now))
    data = data_object(conn, [f for f in defn.fields if f in types])
    staged = None
    if defn.source:  # fed by a back-end system (sync.sources): its people, its values
        staged = stage_source(conn, vault, defn.id, defn.source, defn.fields, target, now)
        target, data = staged.target, staged.data
    hold_group(conn, target)
    facts = purpose_facts(conn, defn.purpose)
    dialect = conn.dialect.name
    decided = decisions(facts, None, None, now, target=target, dialect=dialect, carry=data)
    by_reason, entered = _enter(conn, defn, decided, now)
    refresh_statistics(conn)
    _count_entry(conn, defn, entered, by_reason)
    if staged is not None:  # staged values leave with the launch; unknown people are counted
        unstage(conn, defn.id)
        by_reason[SOURCE_UNKNOWN] = staged.unknown
    return LaunchReport(defn.id, entered, by_reason)


ENROLL_COLUMNS = (
    "journey_id",
    "contact_id",
    "step_id",
    "status",
    "due_at",
    "entered_at",
    "step_entered_at",
    "expires_at",
    "data",
)


def _enter(
    conn: Connection, defn: JourneyDefinition, decided: Select[Any], now: datetime
) -> tuple[dict[str, int], int]:
    """Insert the entrants; count the whole group by reason. Returns (by reason, entered).

    PostgreSQL does both in one statement that decides once (the decisions as a CTE read
    twice, so materialized): at 1M contacts deciding twice cost 5.6 s of a 19 s launch.
    SQLite knows no INSERT inside WITH, so it counts, then inserts.
    """
    if is_sqlite(conn.engine):
        by_reason = count_by_reason(conn, decided)
        entrants = _entrants(defn, decided.subquery("d"), now)
        result = conn.execute(insert(journey_contacts).from_select(ENROLL_COLUMNS, entrants))
        entered = sum(n for reason, n in by_reason.items() if reason not in NEVER_ENTER)
        return by_reason, result.rowcount if result.rowcount not in (-1, None) else entered
    group = decided.cte("decided")
    enrolled = (
        insert(journey_contacts)
        .from_select(ENROLL_COLUMNS, _entrants(defn, group, now))
        .returning(journey_contacts.c.contact_id)
        .cte("enrolled")
    )
    reasons = select(group.c.reason, func.count()).group_by(group.c.reason)
    inserted = select(literal(None, String()), func.count()).select_from(enrolled)
    counted: dict[str | None, int] = {
        reason: n for reason, n in conn.execute(reasons.union_all(inserted))
    }
    entered = int(counted.pop(None))
    return {str(reason): int(n) for reason, n in counted.items()}, entered


def _entrants(defn: JourneyDefinition, group: Any, now: datetime) -> Select[Any]:
    """The journey_contacts rows of those the gate lets in (ENROLL_COLUMNS, in order).

    Their data comes along with the decisions (the twin's `carried`), so the contacts are not
    joined a second time. In contact order, every index of journey_contacts grows at its
    right edge instead of taking inserts all over its pages.
    """
    start = max(now, defn.starts_at) if defn.starts_at else now
    expires = add(now, parse_duration(defn.expires_after)) if defn.expires_after else None
    at = literal(now, UTCDateTime())
    return (
        select(
            literal(defn.id),
            group.c.contact_id,
            literal(defn.steps[0].id),
            literal("active"),
            literal(start, UTCDateTime()),
            at,
            at,
            literal(expires, UTCDateTime()),
            group.c.carried,
        )
        .select_from(group)
        .where(group.c.reason.not_in(NEVER_ENTER))
        .order_by(group.c.contact_id)
    )


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL: ANALYZE journey_contacts after a launch added a whole group to it.

    Without fresh statistics the planner takes the table for small and the runtime's batch
    statements scan and hash all of it per batch instead of using its indexes.
    """
    if not is_sqlite(conn.engine):
        conn.exec_driver_sql(f"ANALYZE {journey_contacts.name}")


def hold_group(conn: Connection, target: Select[Any] | None) -> None:
    """PostgreSQL: hold the group's people (FOR KEY SHARE, in id order) until launch commits.

    An erasure locks people FOR UPDATE: one that started first is seen by the gate (they
    never enter), a later one waits for the launch and then removes the enrolment. One
    statement for the group, where foreign key checks took a query per enrolled row.
    """
    if is_sqlite(conn.engine):
        return
    c = contacts
    held = select(c.c.id).order_by(c.c.id).with_for_update(read=True, key_share=True)
    if target is not None:
        held = held.where(c.c.id.in_(target))
    conn.execute(select(func.count()).select_from(held.subquery("held"))).scalar_one()


def data_object(conn: Connection, names: list[str]) -> Any:
    """JSON object of the named profile attributes (json_object / json_build_object)."""
    attrs = contacts.c.attributes
    if is_sqlite(conn.engine):
        pairs: list[Any] = []
        for name in names:
            pairs += [literal(name), func.json(attrs.op("->")(literal(f'$."{name}"')))]
        return func.json_object(*pairs)
    pg_pairs: list[Any] = []
    for name in names:
        pg_pairs += [literal(name), attrs[name]]
    return func.json_build_object(*pg_pairs)


def entry_decisions(conn: Connection, defn: JourneyDefinition, now: datetime) -> Select[Any]:
    """The gate at entry for the journey's target group, under its purpose (the twin)."""
    types = DbRegistry(conn).profile_types()
    target = target_select(defn.target, types, target_lookups(conn, now))
    facts = purpose_facts(conn, defn.purpose)
    return decisions(facts, None, None, now, target=target, dialect=conn.dialect.name)


def enter_select(conn: Connection, defn: JourneyDefinition, now: datetime) -> Select[Any]:
    """The ids of the contacts that would enter now (for simulate)."""
    decided = entry_decisions(conn, defn, now).subquery("entering")
    return select(decided.c.contact_id).where(decided.c.reason.not_in(NEVER_ENTER))
