"""Mission Control's block and sync figures from figures.change_counts equal the old full counts.

Random sequences of the real operations: blocks set and lifted through ledger.blocks and
the HTTP API, blocks set by a journey's set_advertising_block step, consents published to
two webhook connectors, deliveries to a real HTTP receiver answering 200, 503 or 400 (so
retries end in dead letters), the clock moving on, dead letters replayed (function and
API), and erasure. After each sequence the figures equal the full scans of
tests/figures/oracle.py, before and after folding the deltas.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from candor.accounts.api_keys import create_api_key
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.figures import change_counts as counts
from candor.figures.mission_control import block_figures
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.config import apply_config, load_config_file
from candor.ledger.connector_settings import load_settings
from candor.rights.erasure import erase_contacts
from candor.store.engine import reading
from candor.store.schema import metadata
from candor.store.sync_tables import sync_deliveries, sync_events
from candor.sync import delivery
from candor.sync.delivery import deliver_due, replay
from candor.sync.status import sync_status
from candor.web import create_app
from tests.conftest import FIXTURES, START
from tests.figures.oracle import block_figures_by_scan, sync_counts_by_scan
from tests.journeys.runtime.helpers import add_contact, consent, run, start
from tests.sync.conftest import SECRET, Receiver, connect, hook

COUNTER = itertools.count(1)
SCOPES: list[dict[str, Any]] = [{}, {"channel": "sms"}, {"theme": "events"}, {"channel": "email"}]
SETTER = [
    {"id": "stop_ads", "type": "set_advertising_block", "channel": "email", "theme": "events",
     "reason": "asked"},
    {"id": "done", "type": "end"},
]  # fmt: skip

# Two contacts whose consents are waiting for both connectors: every run has deliveries.
PREAMBLE = [("create",), ("create",), ("consent", 0, "granted"), ("consent", 1, "withdrawn")]
deliver = st.tuples(st.just("deliver"), st.sampled_from([200, 503, 400]))
op = st.one_of(
    deliver,
    st.tuples(st.just("create")),
    st.tuples(st.just("block"), st.integers(0, 7), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("lift"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("consent"), st.integers(0, 7), st.sampled_from(["granted", "withdrawn"])),
    deliver,
    st.tuples(st.just("wait")),
    st.tuples(st.just("replay"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("erase"), st.integers(0, 7)),
    st.tuples(st.just("journey")),
)


class World:
    """The operations under test, through the product's functions and its HTTP API."""

    def __init__(self, cx: Candor, client: TestClient, key: str, receiver: Receiver) -> None:
        self.cx, self.client, self.receiver = cx, client, receiver
        self.auth = {"Authorization": f"Bearer {key}"}
        self.contacts: list[int] = []
        self.blocks: list[int] = []
        self.code = 200
        receiver.answer = lambda n, r: self.code

    def pick(self, index: int) -> int | None:
        return self.contacts[index % len(self.contacts)] if self.contacts else None

    def run(self, step: tuple[Any, ...]) -> None:
        cx, kind = self.cx, step[0]
        if kind == "create":
            self.contacts.append(add_contact(cx, next(COUNTER), sms=True))
        elif kind == "block":
            self._block(self.pick(step[1]), SCOPES[step[2]], api=step[3])
        elif kind == "lift" and self.blocks:
            self._lift(self.blocks[step[1] % len(self.blocks)], api=step[2])
        elif kind == "consent":
            contact = self.pick(step[1])
            if contact is not None:
                with contextlib.suppress(CandorError):  # erased
                    consent(cx, contact, "events", step[2])
        elif kind == "deliver":
            self.code = step[1]
            deliver_due(cx)
        elif kind == "wait":
            assert isinstance(cx.clock, ManualClock)
            cx.clock.advance(timedelta(seconds=5))
        elif kind == "replay":
            self._replay(step[1], api=step[2])
        elif kind == "erase":
            contact = self.pick(step[1])
            if contact is not None:
                erase_contacts(cx, [contact], actor="t", reason="test")
        elif kind == "journey":
            start(cx, SETTER, id=f"setter{next(COUNTER)}")
            run(cx)

    def _block(self, contact: int | None, scope: dict[str, Any], *, api: bool) -> None:
        if contact is None:
            return
        if api:
            answer = self.client.post(
                f"/api/v1/contacts/{contact}/blocks",
                json={"reason": "asked", **scope},
                headers=self.auth,
            )
            if answer.status_code == 201:
                self.blocks.append(answer.json()["id"])
            return
        try:
            with self.cx.engine.begin() as conn:
                new = set_block(
                    conn, self.cx.vault, contact, reason="asked", source="api", actor="t",
                    at=self.cx.clock.now(), **scope,
                )  # fmt: skip
        except CandorError:
            return  # erased
        self.blocks.append(new)

    def _lift(self, block_id: int, *, api: bool) -> None:
        if api:
            self.client.request(
                "DELETE", f"/api/v1/blocks/{block_id}", json={"reason": "ok"}, headers=self.auth
            )
            return
        try:
            with self.cx.engine.begin() as conn:
                lift_block(
                    conn, self.cx.vault, block_id, reason="ok", source="api", actor="t",
                    at=self.cx.clock.now(),
                )  # fmt: skip
        except CandorError:
            return  # lifted already, or erased with its contact

    def _replay(self, index: int, *, api: bool) -> None:
        with reading(self.cx.engine) as conn:
            dead = conn.execute(
                select(sync_events.c.event_id, sync_deliveries.c.connector)
                .join(sync_deliveries, sync_deliveries.c.event_row == sync_events.c.id)
                .where(sync_deliveries.c.status == "dead")
                .order_by(sync_events.c.event_id, sync_deliveries.c.connector)
            ).all()
        if not dead:
            return
        event_id, connector = dead[index % len(dead)]
        if api:
            answer = self.client.post(
                f"/api/v1/sync/dead-letters/{event_id}/replay", headers=self.auth
            )
            assert answer.status_code == 200, answer.text
        else:
            # one connector's dead letter (one that has it), or all of the event's
            replay(self.cx, event_id, connector=connector if index % 2 else None, actor="t")


def reset(cx: Candor, receiver: Receiver) -> str:
    """A clean database: the fixture configuration, two connectors, an admin API key."""
    with cx.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        apply_config(conn, load_config_file(FIXTURES / "candor.yaml"), actor="test", at=START)
    assert isinstance(cx.clock, ManualClock)
    cx.clock.set(START)
    connect(
        cx,
        [hook("crm", url=receiver.url), hook("shop", url=receiver.url, identifier="email")],
        max_attempts=2,
        retry_base_seconds=1,
    )
    with cx.engine.begin() as conn:
        return create_api_key(conn, "admin", "test", actor="test", at=START)


def assert_counts_match(cx: Candor) -> None:
    with reading(cx.engine) as conn:
        assert block_figures(conn) == block_figures_by_scan(conn)
        assert sync_status(conn)["connectors"] == sync_counts_by_scan(conn)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SYNC_SECRET", SECRET)
    r = Receiver().start()
    yield r
    r.stop()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(op, min_size=1, max_size=14))
def test_counts_equal_a_full_count_after_any_operations(
    cx: Candor, receiver: Receiver, steps: list[tuple[Any, ...]]
) -> None:
    key = reset(cx, receiver)
    with TestClient(create_app(cx)) as client:
        world = World(cx, client, key, receiver)
        for step in [*PREAMBLE, *steps]:
            world.run(step)
    assert_counts_match(cx)
    with cx.engine.begin() as conn:  # folding changes no figure
        counts.fold(conn)
    assert_counts_match(cx)


def test_a_late_finish_moves_the_count_from_the_status_it_found(
    cx: Candor, receiver: Receiver
) -> None:
    """A worker whose lease ran out finishing a delivery again: counted once, as it was."""
    key = reset(cx, receiver)
    with TestClient(create_app(cx)) as client:
        world = World(cx, client, key, receiver)
        for step in [("create",), ("consent", 0, "granted"), ("deliver", 400)]:
            world.run(step)
    d, e = sync_deliveries, sync_events
    with reading(cx.engine) as conn:
        row = conn.execute(
            select(d, e.c.event_id, e.c.type, e.c.key_id)
            .join(e, e.c.id == d.c.event_row)
            .where(d.c.status == "dead")
            .limit(1)
        ).first()
        assert row is not None
        connector = load_settings(conn).webhook(row.connector)
    assert connector is not None
    delivery._finish(cx, row, connector, "delivered", cx.clock.now(), status=200)
    assert_counts_match(cx)


def test_rebuild_counts_what_the_writers_counted(cx: Candor, receiver: Receiver) -> None:
    key = reset(cx, receiver)
    with TestClient(create_app(cx)) as client:
        world = World(cx, client, key, receiver)
        for step in [
            ("create",), ("create",), ("block", 0, 0, True), ("block", 1, 2, False),
            ("lift", 0, True), ("consent", 1, "granted"), ("deliver", 400), ("erase", 0),
        ]:  # fmt: skip
            world.run(step)
    with reading(cx.engine) as conn:
        kept = {f: counts.sums(conn, f) for f in (counts.BLOCKS, counts.SYNC)}
    with cx.engine.begin() as conn:
        counts.rebuild(conn)
    with reading(cx.engine) as conn:
        assert {f: counts.sums(conn, f) for f in (counts.BLOCKS, counts.SYNC)} == kept


@pytest.mark.parametrize("api", [False, True])
def test_dead_letters_replayed_count_as_pending_again(
    cx: Candor, receiver: Receiver, api: bool
) -> None:
    key = reset(cx, receiver)
    with TestClient(create_app(cx)) as client:
        world = World(cx, client, key, receiver)
        for step in [*PREAMBLE, ("deliver", 400)]:
            world.run(step)
        with reading(cx.engine) as conn:
            dead = {c["connector"]: c["dead"] for c in sync_status(conn)["connectors"]}
        assert dead == {"crm": 2, "shop": 2}
        for step in [("replay", 0, api), ("replay", 1, api), ("wait",), ("deliver", 503)]:
            world.run(step)
            assert_counts_match(cx)
    with reading(cx.engine) as conn:
        assert sum(c["pending"] for c in sync_status(conn)["connectors"]) > 0
