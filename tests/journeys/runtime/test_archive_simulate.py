"""Archive keeps figures and evidence but purges journey data; simulate writes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import archive, journey_status, simulate, stop_journey
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, journey_transitions, journeys, outbox
from candor.store.partitions import PARTITIONED, partition_name
from candor.store.schema import metadata
from candor.store.tables import communications, settings

from .helpers import add_contact, block, consent, journey_yaml, messages, run, start, stats

STEPS = [
    {
        "id": "invite",
        "type": "send",
        "channel": "email",
        "template": "promo_mail",
        "theme": "events",
    },
    {"id": "pause", "type": "wait", "duration": "P7D"},
    {
        "id": "again",
        "type": "send",
        "channel": "email",
        "template": "promo_mail",
        "theme": "events",
    },
    {"id": "done", "type": "end"},
]


def _count(cx: Candor, table: object, **where: object) -> int:
    with reading(cx.engine) as conn:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        for name, value in where.items():
            query = query.where(table.c[name] == value)  # type: ignore[attr-defined]
        return int(conn.execute(query).scalar_one())


def test_purge_goes_batch_by_batch_and_leaves_other_journeys_alone(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transitions go per batch of the journey's people (indexed by contact), and any left
    without a journey_contacts row go at the end; another journey's rows stay."""
    cx = configured
    people = [add_contact(cx, n) for n in range(1, 6)]
    for person in people:
        consent(cx, person, "events")
    start(cx, STEPS)
    run(cx)
    now = cx.clock.now()
    row = {"from_step": "a", "to_step": "b", "outcome": "passed", "at": now}
    with cx.engine.begin() as conn:
        conn.execute(
            insert(journey_transitions),
            [{"journey_id": "other", "contact_id": p, **row} for p in people]
            + [{"journey_id": "promo", "contact_id": 999_999, **row}],  # no journey_contacts row
        )
    promo = _count(cx, journey_transitions, journey_id="promo")
    assert promo > 5 and _count(cx, journey_contacts) == 5
    monkeypatch.setattr(archive, "PURGE_BATCH", 2)

    result = stop_journey(cx, "promo", actor="test")

    assert result["purged"] == promo + 5
    assert _count(cx, journey_transitions, journey_id="promo") == 0
    assert _count(cx, journey_contacts) == 0
    assert _count(cx, journey_transitions, journey_id="other") == 5


def test_stop_purges_journey_data_but_keeps_stats_and_evidence(configured: Candor) -> None:
    cx = configured
    a = add_contact(cx, 1)
    add_contact(cx, 2)
    consent(cx, a, "events")
    start(cx, STEPS)
    run(cx)
    with cx.engine.begin() as conn:  # the dispatcher would record the sent message like this
        conn.execute(
            insert(communications).values(
                contact_id=a,
                channel="email",
                direction="out",
                occurred_at=cx.clock.now(),
                content_ref="outbox:1",
                decision_reason="allowed",
                decision_basis="consent",
            )
        )
    assert _count(cx, journey_contacts) == 2 and _count(cx, journey_transitions) > 0
    before = stats(cx)

    result = stop_journey(cx, "promo", actor="test")

    assert result["cancelled"] == 1
    assert _count(cx, journey_contacts) == 0
    assert _count(cx, journey_transitions) == 0
    assert stats(cx) == before
    assert _count(cx, communications) == 1
    assert [m["status"] for m in messages(cx)] == ["cancelled"]
    with reading(cx.engine) as conn:
        status = journey_status(conn, "promo")
    assert status["state"] == "archived"
    assert status["outcomes"]["invite"] == {"passed": 1, "not_asked": 1}
    assert status["current"] == {}


def test_journey_archives_itself_at_its_end(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    add_contact(cx, 1)
    start(cx, STEPS, ends_at=(clock.now() + timedelta(days=3)).isoformat())
    run(cx)
    clock.advance(timedelta(days=3))
    run(cx)
    with reading(cx.engine) as conn:
        assert conn.execute(select(journeys.c.state)).scalar_one() == "archived"
    assert _count(cx, journey_contacts) == 0


def test_status_shows_who_is_where(configured: Candor) -> None:
    cx = configured
    for n in range(3):
        consent(cx, add_contact(cx, n), "events")
    start(cx, STEPS)
    run(cx)
    with reading(cx.engine) as conn:
        status = journey_status(conn, "promo")
    assert status["current"] == {"pause": {"waiting": 3}}
    assert status["outcomes"]["(enter)"] == {"entered": 3}


def test_simulate_counts_by_reason_and_writes_nothing(configured: Candor) -> None:
    cx = configured
    ok, blocked, refused, _never = (add_contact(cx, n, timezone="Europe/Berlin") for n in range(4))
    consent(cx, ok, "events")
    consent(cx, blocked, "events")
    block(cx, blocked, channel="email")
    consent(cx, refused, "events", status="refused")
    with cx.engine.begin() as conn:
        conn.execute(
            insert(settings).values(
                key="sending", value={"quiet_hours": {"start": "09:00", "end": "12:00"}}
            )
        )  # 10:00 in Berlin: quiet
    counts_before = {t.name: _count(cx, t) for t in metadata.sorted_tables}
    defn = load_journey(journey_yaml(STEPS))
    with reading(cx.engine) as conn:
        figures = simulate(conn, defn, cx.clock.now())
    assert figures["enter"] == {
        "entered": 4,
        "by_reason": {"allowed": 2, "refused": 1, "not_asked": 1},
    }
    invite = figures["steps"][0]
    assert invite["step"] == "invite"
    assert invite["by_reason"] == {"allowed": 1, "blocked:channel": 1, "refused": 1, "not_asked": 1}
    assert invite["deferred"] == {"deferred:frequency_cap": 0, "deferred:quiet_hours": 1}
    assert {t.name: _count(cx, t) for t in metadata.sorted_tables} == counts_before
    assert messages(cx) == [] and _count(cx, outbox) == 0


def test_one_persons_transitions_are_found_by_index_on_postgresql(configured: Candor) -> None:
    """The access copy, erasure and restriction ask by contact alone (migration 0015)."""
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("a PostgreSQL plan")
    query = select(journey_transitions).where(journey_transitions.c.contact_id == 7)
    sql = str(query.compile(cx.engine, compile_kwargs={"literal_binds": True}))
    with cx.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    # Each journey's partition has the index (named after its partition): no table is read.
    assert "Index Cond: (contact_id = 7)" in plan and "Seq Scan" not in plan


def test_on_postgresql_a_launch_gives_the_journey_partitions_and_the_archive_drops_them(
    configured: Candor,
) -> None:
    cx = configured
    if cx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps plain tables")
    people = [add_contact(cx, n) for n in range(1, 4)]
    for person in people:
        consent(cx, person, "events")
    start(cx, STEPS)
    run(cx)
    names = [partition_name(t, "promo") for t in PARTITIONED]

    def present() -> set[str]:
        with reading(cx.engine) as conn:
            query = text("SELECT relname FROM pg_class WHERE relname = ANY(:n)")
            return set(conn.execute(query, {"n": names}).scalars())

    assert present() == set(names)
    with reading(cx.engine) as conn:  # the journey's rows live in its own partitions
        held = text(f'SELECT count(*) FROM "{names[0]}"')
        assert conn.execute(held).scalar_one() == 3
    result = stop_journey(cx, "promo", actor="test")
    assert present() == set() and result["purged"] >= 3
    assert _count(cx, journey_contacts) == 0 and _count(cx, journey_transitions) == 0
