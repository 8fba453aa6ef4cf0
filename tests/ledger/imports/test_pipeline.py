"""Intake over several batches: the next batch is validated (and sealed) while the database
works, yet rejections, counts, errors, keys and the ledger are as with one batch at a time."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from candor.core.context import Candor
from candor.demo.population import synthetic_rows
from candor.ledger.chain import verify_ledger
from candor.ledger.consents import consent_history
from candor.ledger.contacts import read_contact
from candor.ledger.imports import importer
from candor.ledger.imports.importer import (
    NextBatch,
    import_csv,
    import_rows,
    paused_gc,
    plan_header,
)
from candor.ledger.imports.seal import Sealed, seal
from candor.ledger.suppression import kind_of, suppress
from candor.store import sql as store_sql
from candor.store.keystore import contact_keys
from candor.store.sql import Work
from candor.store.tables import consent_state, contacts, ledger_heads

HEADER = (
    "external_id,first_name,email,phone,consent:newsletter:email,consent:events,"
    "consent_confirmed_at"
)
WHEN = "2026-01-02T10:00:00+00:00"
ROWS = [
    f"a1,Ann,ann@example.org,+4915111111111,granted,granted,{WHEN}",  # line 2
    "a2,Bad,not-an-email,,,,",  # 3: rejected (email)
    "a3,Bob,Bob@Example.org,,granted,refused,",  # 4
    "a1,Dup,dup@example.org,,,,",  # 5: rejected (external_id twice)
    "a4,Cat,ann@example.org,,,,",  # 6: ann@ is a1's, same batch
    "a5,Sue,sup@example.org,,granted,,",  # 7: suppressed (erased before)
    "a6,Bo,bob@example.org,,,,",  # 8: bob@ stored by a3 in the batch before
    "a7,Carl,carl@example.org,+49 1,,,",  # 9: rejected (phone)
    "a8,Dora,dora@example.org,+4915122222222,withdrawn,granted,",  # 10
    "pre,Pre,pre@example.org,,,,",  # 11: imported before
]


def _write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "people.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _count(cx: Candor, table: object) -> int:
    with cx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_batches_report_and_store_as_one_at_a_time(configured: Candor, tmp_path: Path) -> None:
    cx, at = configured, configured.clock.now()
    import_csv(cx.engine, cx.vault, _write(tmp_path, [ROWS[-1]]), actor="t", at=at)
    with cx.engine.begin() as conn:
        suppress(conn, [(kind_of("email"), cx.vault.blind_index("email", "sup@example.org"))], at)
    report = import_csv(cx.engine, cx.vault, _write(tmp_path, ROWS), actor="t", at=at, batch_size=3)

    assert [(r.line, r.field) for r in report.rejections] == [
        (3, "email"),
        (5, "external_id"),
        (6, "email"),  # batch 1 written
        (9, "phone"),
        (8, "email"),  # batch 2: the taken address, then the suppressed one
        (7, "email"),
    ]
    assert (report.imported, report.existing, report.rejected) == (3, 1, 6)
    assert report.consent_events == 7  # a1: pending, confirmed, granted; a3 and a8: two each
    assert _count(cx, contacts) == 4
    with cx.vault.keystore.connect() as keys:  # no key kept for a dropped candidate
        assert keys.execute(select(func.count()).select_from(contact_keys)).scalar_one() == 4
    with cx.engine.connect() as conn:
        assert list(verify_ledger(conn)) == []
        ids = dict(conn.execute(select(contacts.c.id, contacts.c.source)).all())
        people = {read_contact(conn, cx.vault, i)["external_id"]: i for i in ids}
        ann = read_contact(conn, cx.vault, people["a1"])
        assert ann["first_name"] == "Ann"
        assert [(a["channel"], a["value"]) for a in ann["addresses"]] == [
            ("email", "ann@example.org"),
            ("sms", "+4915111111111"),
        ]
        history = consent_history(conn, cx.vault, people["a1"])
        assert [(e["purpose"], e["status"]) for e in history] == [
            ("newsletter", "pending"),
            ("newsletter", "confirmed"),
            ("events", "granted"),
        ]
        assert history[0]["evidence"]["column"] == "consent:newsletter:email"
        states = {
            (r.contact_id, r.purpose_id): r.status for r in conn.execute(select(consent_state))
        }
        assert states[(people["a1"], "newsletter")] == "confirmed"
        assert states[(people["a3"], "newsletter")] == "pending"
        assert states[(people["a8"], "newsletter")] == "withdrawn"
        assert conn.execute(select(func.sum(ledger_heads.c.event_count))).scalar_one() == 7


def _rows_then_failure(count: int) -> Iterator[tuple[int, dict[str, str]]]:
    for n in range(count):
        yield n + 2, {"external_id": f"r{n}", "email": f"r{n}@example.org"}
    raise ValueError("the file is broken here")


def test_an_input_error_surfaces_after_the_batches_before_it(configured: Candor) -> None:
    cx = configured
    with cx.engine.connect() as conn:
        plan = plan_header(conn, ["external_id", "email"])
    with pytest.raises(ValueError, match="broken"):
        import_rows(
            cx.engine, cx.vault, plan, _rows_then_failure(7), actor="t", at=cx.clock.now(),
            batch_size=3,
        )  # fmt: skip
    assert _count(cx, contacts) == 6  # two full batches; the partial third is not written


def test_next_batch_works_only_while_waiting_and_seals_ahead(configured: Candor) -> None:
    cx = configured
    with cx.engine.connect() as conn:
        plan = plan_header(conn, ["external_id", "email"])
    rows = [(n + 2, {"external_id": f"n{n}", "email": f"n{n}@example.org"}) for n in range(5)]
    upcoming = NextBatch(plan, rows, cx.vault, cx.clock.now(), batch_size=3)
    turns = iter([True, True])
    upcoming.fill(lambda: next(turns, False))  # time for two rows
    partial = upcoming.take()  # completes the batch
    assert partial is not None and [c.external_id for c in partial[1]] == ["n0", "n1", "n2"]
    assert [c.sealed is None for c in partial[1]] == [True, True, True]
    upcoming.fill(lambda: True)  # validates the rest, then seals it
    rest = upcoming.take()
    assert rest is not None and [c.external_id for c in rest[1]] == ["n3", "n4"]
    assert all(c.sealed is not None for c in rest[1])
    assert upcoming.take() is None


def test_the_collector_is_paused_only_during_the_import() -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def _expected_events(row: dict[str, str]) -> int:
    newsletter = {"granted": 2 if row["consent_confirmed_at"] else 1, "refused": 1, "withdrawn": 1}
    return newsletter.get(row["consent:newsletter:email"], 0) + bool(row["consent:events"])


def test_a_larger_import_seals_ahead_on_postgresql(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx, ahead = configured, []

    def counted(*args: Any) -> Sealed:
        ahead.append(args)
        return seal(*args)

    monkeypatch.setattr(importer, "seal", counted)  # NextBatch.fill's, not the writer's

    def long_waits(conn: Any, wait: Callable[[], Any], work: Work | None) -> Any:
        """A server slow enough for all the work: how much fits a real wait is timing."""
        if work is not None and conn.dialect.name == "postgresql":
            work(lambda: True)
        return wait()

    monkeypatch.setattr(store_sql, "while_waiting", long_waits)
    rows = list(synthetic_rows(600, seed=5))
    with cx.engine.connect() as conn:
        plan = plan_header(conn, list(rows[0][1]))
    report = import_rows(
        cx.engine, cx.vault, plan, rows, actor="t", at=cx.clock.now(), batch_size=100
    )
    assert (report.imported, report.rejected) == (600, 0)
    assert report.consent_events == sum(_expected_events(row) for _, row in rows)
    assert bool(ahead) == cx.url.startswith("postgresql")  # SQLite seals when writing
    with cx.vault.keystore.connect() as keys:
        assert keys.execute(select(func.count()).select_from(contact_keys)).scalar_one() == 600
    with cx.engine.connect() as conn:
        assert list(verify_ledger(conn)) == []
        for contact_id in (1, 299, 600):
            seen = read_contact(conn, cx.vault, contact_id)
            source = rows[contact_id - 1][1]
            assert seen["external_id"] == source["external_id"]
            assert seen["first_name"] == source["first_name"]
            assert seen["addresses"][0]["value"] == source["email"]
