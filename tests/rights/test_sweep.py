"""The substring sweep: one pass for a period's erasures, its result on each certificate."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, update
from typer.testing import CliRunner

from candor.cli import app as cli
from candor.core.context import Candor
from candor.journeys.runtime import run_until_idle
from candor.rights import sweep
from candor.rights.certificates import certificate_of
from candor.rights.erasure import erase_contact, erase_contacts
from candor.rights.sweep import SWEEP_AFTER, sweep_due, sweep_pending
from candor.store.engine import reading
from candor.store.rights_tables import erasure_sweeps
from candor.store.tables import attributes, settings
from candor.store.vault import contact_keys
from tests.rights.conftest import rich_contact


def _plant_free_text(cx: Candor, text: str, name: str = "note") -> None:
    with cx.engine.begin() as conn:
        conn.execute(
            insert(attributes).values(name=name, type="text", category="x", description=text)
        )


def _pending(cx: Candor) -> int:
    with reading(cx.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(erasure_sweeps)).scalar_one())


def _certificate(cx: Candor, contact_id: int) -> dict:  # type: ignore[type-arg]
    with reading(cx.engine) as conn:
        return certificate_of(conn, contact_id)


def test_an_erasure_says_the_sweep_is_pending_and_the_sweep_completes_it(
    configured: Candor, alice: int
) -> None:
    cx = configured
    issued = erase_contact(cx, alice, actor="test", reason="test")
    scan = issued["scan"]
    assert scan["clean"] and not scan["complete"] and scan["pending"] == ["substring_sweep"]
    assert scan["substring_sweep"]["status"] == "pending"
    assert scan["index_checks"]["indexed_values"]["expected"] == [
        {"table": "suppression", "column": "blind_index", "matches": 2}
    ]
    with reading(cx.engine) as conn:
        key_id = conn.execute(select(erasure_sweeps.c.key_id)).scalar_one()
    report = sweep_pending(cx, actor="test")
    assert report.erasures == 1 and report.not_clean == 0 and report.rows > 0
    stored = _certificate(cx, alice)["scan"]
    assert stored["clean"] and stored["complete"] and stored["pending"] == []
    swept = stored["substring_sweep"]
    assert swept["status"] == "done" and swept["found"] == [] and swept["erasures_in_sweep"] == 1
    assert swept["expected"] == [{"table": "suppression", "column": "blind_index", "matches": 2}]
    assert _pending(cx) == 0  # the sealed identifiers are gone, and their key with them
    with cx.vault.keystore.connect() as keys:
        assert (
            keys.execute(select(contact_keys).where(contact_keys.c.key_id == key_id)).first()
            is None
        )


def test_the_sweep_finds_identifiers_inside_free_text_and_names_in_json(
    configured: Candor, alice: int
) -> None:
    cx = configured
    erase_contact(cx, alice, actor="test", reason="test")
    _plant_free_text(cx, "call back alice@example.com tomorrow")
    with cx.engine.begin() as conn:
        conn.execute(insert(settings).values(key="leftover", value={"who": "Alice"}))
    sweep_pending(cx, actor="test")
    stored = _certificate(cx, alice)["scan"]
    assert not stored["clean"] and stored["complete"]
    assert stored["substring_sweep"]["found"] == [
        {"table": "attributes", "column": "description", "matches": 1},
        {"table": "settings", "column": "value", "matches": 1},
    ]


def test_one_sweep_serves_many_erasures_and_names_only_whose_identifier_was_found(
    configured: Candor,
) -> None:
    cx = configured
    first = rich_contact(cx, external_id="shop-a", email="anna.first@example.com", phone=None)
    second = rich_contact(cx, external_id="shop-b", email="ben.second@example.com", phone=None)
    third = rich_contact(cx, external_id="shop-c", email="cleo.third@example.com", phone=None)
    erase_contact(cx, first, actor="test", reason="test")
    erase_contacts(cx, [second, third], actor="test", reason="batch")
    _plant_free_text(cx, "forwarded to ben.second@example.com by hand")
    _plant_free_text(cx, "wild cards a_c%d@example.com only match themselves", name="n2")
    report = sweep_pending(cx, actor="test")
    assert report.erasures == 3 and report.not_clean == 1
    assert _certificate(cx, first)["scan"]["clean"]
    assert not _certificate(cx, second)["scan"]["clean"]
    assert _certificate(cx, third)["scan"]["clean"]


def test_the_worker_sweeps_once_the_oldest_erasure_is_due(configured: Candor, alice: int) -> None:
    cx = configured
    erase_contact(cx, alice, actor="test", reason="test")
    assert sweep_due(cx) is None and _pending(cx) == 1
    run_until_idle(cx)
    assert _pending(cx) == 1  # not yet due
    cx.clock.advance(SWEEP_AFTER + timedelta(minutes=1))  # type: ignore[attr-defined]
    run_until_idle(cx)
    assert _pending(cx) == 0 and _certificate(cx, alice)["scan"]["complete"]


def test_a_sweep_in_progress_is_not_taken_twice_but_a_dead_one_is(
    configured: Candor, alice: int
) -> None:
    cx = configured
    erase_contact(cx, alice, actor="test", reason="test")
    with cx.engine.begin() as conn:  # another sweep holds it
        conn.execute(update(erasure_sweeps).values(claimed_at=cx.clock.now()))
    assert sweep_pending(cx, actor="test").erasures == 0
    cx.clock.advance(sweep.CLAIM_LEASE + timedelta(minutes=1))  # type: ignore[attr-defined]
    assert sweep_pending(cx, actor="test").erasures == 1


def test_the_cli_sweeps_now_and_exits_non_zero_when_something_was_found(
    configured: Candor, alice: int
) -> None:
    cx = configured
    base = ["--database", cx.url, "--keystore", str(cx.vault.keystore.url)]
    erase_contact(cx, alice, actor="test", reason="test")
    _plant_free_text(cx, "shop-1 asked by phone")  # the external id, inside a note
    result = CliRunner().invoke(cli, [*base, "erasures", "sweep"])
    assert result.exit_code == 1 and "swept 1 erasures" in result.output, result.output
    assert "1 not clean" in result.output and "shop-1" not in result.output
    again = CliRunner().invoke(cli, [*base, "erasures", "sweep"])
    assert again.exit_code == 0 and "swept 0 erasures" in again.output
    found = _certificate(cx, alice)["scan"]["substring_sweep"]["found"]
    assert found == [{"table": "attributes", "column": "description", "matches": 1}]
