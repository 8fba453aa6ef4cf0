"""Mission Control's consent figures from the tallies equal a full scan after random writes.

Every writer of consent_state and of contacts' liveness runs for real (record_consent with
double opt-in and its confirmation, the bulk append of journey steps, the CSV import,
erasure, contact creation), purposes change version, re-consent floor and validity through
`config apply`, and the figures are compared with the old full scan (oracle) at
times chosen so that lapse instants fall inside days that hold consents.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.durations import add, parse_duration
from candor.core.errors import CandorError
from candor.figures import consent_tallies as tallies
from candor.figures.mission_control import EXPIRY_WARNING, purpose_figures
from candor.ledger.bulk import NewEvent, append_events
from candor.ledger.config import ConfigFile, apply_config, load_config_file
from candor.ledger.consents import ConsentInput, confirm_doi, record_consent
from candor.ledger.contacts import NewContact, create_contact
from candor.ledger.imports.importer import import_csv
from candor.rights.erasure import erase_contacts
from candor.store.engine import reading
from candor.store.schema import metadata
from candor.store.tables import figure_tallies, purposes
from tests.conftest import FIXTURES, START
from tests.figures.oracle import purpose_figures_by_scan

# Same-day pairs (the lapse can fall between them), a day apart, and old enough to expire.
TIMES = [
    START - timedelta(days=760, hours=5),
    START - timedelta(days=760, hours=1),
    START - timedelta(days=700),
    START - timedelta(days=30),
    START - timedelta(hours=2),
    START,
    START + timedelta(hours=3),
]
PURPOSES = ["newsletter", "events", "profiling", "soft_optin"]
STATUSES = ["granted", "refused", "withdrawn", "requested", "expired"]
ALL_STATUSES = [*STATUSES, "pending", "confirmed"]
COUNTER = itertools.count()

consent_op = st.tuples(
    st.just("consent"),
    st.integers(0, 7),  # which contact (modulo those alive)
    st.sampled_from(PURPOSES),
    st.sampled_from(STATUSES),
    st.sampled_from([None, None, "weekly", "events"]),  # theme
    st.sampled_from([None, "email", "sms"]),
    st.integers(0, len(TIMES) - 1),
)
op = st.one_of(
    st.tuples(st.just("create"), st.integers(1, 3)),
    consent_op,
    consent_op,
    consent_op,
    st.tuples(st.just("confirm"), st.integers(0, 5)),
    st.tuples(
        st.just("bulk"),
        st.lists(
            st.tuples(
                st.integers(0, 7),
                st.sampled_from(PURPOSES[:3]),
                st.sampled_from(ALL_STATUSES),
                st.sampled_from([None, "weekly"]),
                st.integers(0, len(TIMES) - 1),
                st.integers(1, 3),  # purpose version
            ),
            min_size=1,
            max_size=5,
        ),
    ),
    st.tuples(
        st.just("import"),
        st.lists(
            st.tuples(
                st.sampled_from(["granted", "refused", "withdrawn", ""]),  # newsletter email
                st.sampled_from(["granted", "refused", ""]),  # events
                st.integers(0, len(TIMES) - 1),  # consent_at
                st.booleans(),  # double opt-in confirmed
            ),
            min_size=1,
            max_size=4,
        ),
    ),
    st.tuples(st.just("erase"), st.lists(st.integers(0, 7), min_size=1, max_size=3)),
    st.tuples(
        st.just("config"),
        st.sampled_from(["newsletter", "events", "profiling"]),
        st.booleans(),  # a new version marked material (re-consent)
        st.sampled_from([None, "P2Y", "P30D", "P1Y"]),
    ),
)


def reset(cx: Candor) -> ConfigFile:
    config = load_config_file(FIXTURES / "candor.yaml")
    with cx.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        apply_config(conn, config, actor="test", at=START)
    assert isinstance(cx.clock, ManualClock)
    cx.clock.set(START)
    return config


class World:
    """The operations under test, run through the product's own functions."""

    def __init__(self, cx: Candor, config: ConfigFile, tmp: Path) -> None:
        self.cx, self.config, self.tmp = cx, config, tmp
        self.contacts: list[int] = []
        self.tokens: list[str] = []

    def pick(self, index: int) -> int | None:
        return self.contacts[index % len(self.contacts)] if self.contacts else None

    def run(self, step: tuple[Any, ...]) -> None:
        cx, now = self.cx, self.cx.clock.now()
        kind = step[0]
        if kind == "create":
            with cx.engine.begin() as conn:
                for _ in range(step[1]):
                    new = NewContact(first_name="T", last_name=str(next(COUNTER)))
                    self.contacts.append(create_contact(conn, cx.vault, new, actor="t", at=now))
        elif kind == "consent":
            contact = self.pick(step[1])
            if contact is None:
                return
            _, _, purpose, status, theme, channel, when = step
            data = ConsentInput(
                purpose=purpose,
                status=status,
                source="api",
                theme=theme,
                channel=channel,
                occurred_at=TIMES[when],
            )
            try:
                with cx.engine.begin() as conn:
                    recorded = record_consent(conn, cx.vault, contact, data, actor="t", at=now)
            except CandorError:
                return  # an erased contact: nothing was written
            if recorded.confirmation_token:
                self.tokens.append(recorded.confirmation_token)
        elif kind == "confirm":
            if not self.tokens:
                return
            token = self.tokens[step[1] % len(self.tokens)]
            try:
                with cx.engine.begin() as conn:
                    confirm_doi(conn, cx.vault, token, {}, actor="t", at=now)
            except CandorError:
                return  # used already, or its contact was erased
        elif kind == "bulk":
            events = []
            for who, purpose, status, theme, when, version in step[1]:
                contact = self.pick(who)
                if contact is None:
                    return
                events.append(
                    NewEvent(
                        contact_id=contact,
                        purpose_id=purpose,
                        purpose_version=version,
                        status=status,
                        source="journey",
                        occurred_at=TIMES[when],
                        theme=theme,
                    )
                )
            try:
                with cx.engine.begin() as conn:
                    append_events(conn, cx.vault, events, now)
            except LookupError:
                return  # an erased contact in the batch: the whole batch rolled back
        elif kind == "import":
            lines = [
                "external_id,first_name,consent:newsletter:email,consent:events,"
                "consent_at,consent_confirmed_at"
            ]
            for newsletter, events_, when, confirmed in step[1]:
                at = TIMES[when]
                done = (at + timedelta(hours=1)).isoformat() if confirmed else ""
                lines.append(f"x{next(COUNTER)},I,{newsletter},{events_},{at.isoformat()},{done}")
            path = self.tmp / f"import{next(COUNTER)}.csv"
            path.write_text("\n".join(lines) + "\n")
            import_csv(cx.engine, cx.vault, path, actor="t", at=now, batch_size=2)
        elif kind == "erase":
            ids = [c for c in (self.pick(i) for i in step[1]) if c is not None]
            erase_contacts(cx, ids, actor="t", reason="test")
        elif kind == "config":
            _, purpose, material, valid_for = step
            specs = []
            for spec in self.config.purposes:
                if spec.id == purpose:
                    wording = spec.wording + (" (changed)" if material else "")
                    spec = spec.model_copy(
                        update={
                            "wording": wording,
                            "reconsent": material,
                            "consent_valid_for": valid_for,
                        }
                    )
                specs.append(spec)
            self.config = self.config.model_copy(update={"purposes": specs})
            with cx.engine.begin() as conn:
                apply_config(conn, self.config, actor="t", at=now)
        else:  # pragma: no cover
            raise AssertionError(kind)


def moments(cx: Candor) -> list[Any]:
    """Now, and times at which a purpose's lapse instant falls between same-day consents."""
    out = [cx.clock.now()]
    with reading(cx.engine) as conn:
        durations = {v for v in conn.execute(select(purposes.c.consent_valid_for)).scalars() if v}
    for text in sorted(durations):
        for t in (TIMES[0], TIMES[1], TIMES[4]):
            for shift in (timedelta(hours=-2), timedelta(hours=2), timedelta(0)):
                out.append(add(t + shift - EXPIRY_WARNING, parse_duration(text)))
    return out


def assert_figures_match(cx: Candor) -> None:
    with reading(cx.engine) as conn:
        for at in moments(cx):
            assert purpose_figures(conn, at) == purpose_figures_by_scan(conn, at), at


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(op, min_size=1, max_size=12))
def test_tallies_equal_a_full_scan_after_any_writes(
    cx: Candor, tmp_path: Path, steps: list[tuple[Any, ...]]
) -> None:
    world = World(cx, reset(cx), tmp_path)
    for step in steps:
        world.run(step)
    assert_figures_match(cx)
    with cx.engine.begin() as conn:  # folding changes no figure
        tallies.fold(conn)
    assert_figures_match(cx)


def test_fold_keeps_one_row_per_signature(cx: Candor, tmp_path: Path) -> None:
    world = World(cx, reset(cx), tmp_path)
    world.run(("create", 3))
    for who in range(3):
        world.run(("consent", who, "events", "granted", None, None, 5))
        world.run(("consent", who, "events", "withdrawn", None, None, 6))
    with reading(cx.engine) as conn:
        before, rows = tallies.sums(conn)
    assert rows > len(before)
    with cx.engine.begin() as conn:
        left = tallies.fold(conn)
    with reading(cx.engine) as conn:
        after, rows = tallies.sums(conn)
        stored = conn.execute(select(func.count()).select_from(figure_tallies)).scalar_one()
    assert after == before
    assert rows == stored == left == len(after)


def test_rebuild_counts_what_the_writers_counted(cx: Candor, tmp_path: Path) -> None:
    world = World(cx, reset(cx), tmp_path)
    for step in [
        ("create", 3),
        ("consent", 0, "newsletter", "granted", None, "email", 0),
        ("consent", 1, "events", "granted", "events", None, 1),
        ("consent", 1, "events", "granted", None, "sms", 3),
        ("import", [("granted", "granted", 2, True), ("", "refused", 4, False)]),
        ("erase", [2]),
    ]:
        world.run(step)
    with reading(cx.engine) as conn:
        kept, _ = tallies.sums(conn)
    with cx.engine.begin() as conn:
        tallies.rebuild(conn)
    with reading(cx.engine) as conn:
        rebuilt, _ = tallies.sums(conn)
    assert rebuilt == kept


@pytest.mark.parametrize("hours", [0, 3, 6])
def test_expiring_counts_to_the_instant_within_a_day(
    cx: Candor, tmp_path: Path, hours: int
) -> None:
    world = World(cx, reset(cx), tmp_path)
    world.run(("create", 2))
    world.run(("consent", 0, "events", "granted", None, None, 0))  # 760 days 5 hours ago
    world.run(("consent", 1, "events", "granted", None, None, 1))  # 760 days 1 hour ago
    lapse = TIMES[0] - timedelta(hours=1) + timedelta(hours=hours)
    at = add(lapse - EXPIRY_WARNING, parse_duration("P2Y"))
    with reading(cx.engine) as conn:
        figures = {p["id"]: p for p in purpose_figures(conn, at)}
        assert figures["events"]["expiring"] == {0: 0, 3: 1, 6: 2}[hours]
        assert purpose_figures(conn, at) == purpose_figures_by_scan(conn, at)
