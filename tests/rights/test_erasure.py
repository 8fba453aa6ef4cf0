"""Erasure: certificate, retention, suppression, ledger, and an old backup that reveals nothing."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from candor.accounts.api_keys import create_api_key
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import Conflict
from candor.ledger.chain import verify_ledger
from candor.ledger.contacts import NewAddress, NewContact, create_contact, read_contact
from candor.ledger.imports.importer import import_csv
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.rights.access import compile_access_copy
from candor.rights.decisions import score_contact
from candor.rights.erasure import erase_contact, erase_contacts
from candor.rights.records import add_business_record, place_legal_hold, run_retention
from candor.rights.requests import NewRequest, open_request
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, journeys, outbox
from candor.store.keystore import contact_keys
from candor.store.rights_tables import (
    automated_decisions,
    business_records,
    dsr_requests,
    suppression,
)
from candor.store.tables import addresses, communications, consent_events, contacts, ledger_heads
from candor.web import create_app
from tests.rights.conftest import rich_contact, when
from tests.rights.test_access import MODEL


def _records(cx: Candor, contact_id: int) -> tuple[int, int]:
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        invoice = add_business_record(
            conn,
            cx.vault,
            contact_id,
            category="financial",
            occurred_at=when(2025, 5, 1),
            data={"invoice": "R-1", "total": 99.5},
            actor="t",
            at=at,
        )
        old_click = add_business_record(
            conn,
            cx.vault,
            contact_id,
            category="behavioural",
            occurred_at=when(2023, 5, 1),
            data={"clicked": "shoes"},
            actor="t",
            at=at,
        )
    return invoice, old_click


def _enrol(cx: Candor, contact_id: int) -> None:
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        conn.execute(
            insert(journeys).values(
                id="j1",
                version=1,
                name="J",
                purpose_id="events",
                definition={},
                state="running",
                created_at=at,
                entered=1,
            )
        )
        conn.execute(
            insert(journey_contacts).values(
                journey_id="j1",
                contact_id=contact_id,
                step_id="s",
                status="active",
                due_at=at,
                entered_at=at,
                step_entered_at=at,
                data={"first_name": "Alice"},
            )
        )
        conn.execute(
            insert(outbox).values(
                idempotency_key=f"j1:{contact_id}:s",
                journey_id="j1",
                step_id="s",
                contact_id=contact_id,
                channel="email",
                template_id="t",
                purpose_id="events",
                kind="marketing",
                context={"first_name": "Alice"},
                decision_reason="allowed",
                status="queued",
                next_attempt_at=at,
                created_at=at,
            )
        )


def test_certificate_lists_deletions_retention_ledger_and_a_clean_scan(
    configured: Candor, alice: int
) -> None:
    invoice, _ = _records(configured, alice)
    _enrol(configured, alice)
    with reading(configured.engine) as conn:
        head = conn.execute(select(ledger_heads).where(ledger_heads.c.contact_id == alice)).one()
        key_id = conn.execute(select(contacts.c.key_id).where(contacts.c.id == alice)).scalar_one()
    cert = erase_contact(configured, alice, actor="test", reason="test")
    assert cert["deleted"]["addresses"] == 2 and cert["deleted"]["consent_events"] == 2
    assert cert["deleted"]["business_records"] == 1  # the old click: its 2 years are over
    assert cert["deleted"]["journey_contacts"] == 1 and cert["deleted"]["outbox"] == 1
    assert cert["journeys_left"] == 1 and cert["outbox_cancelled"] == 1
    assert cert["kept"] == [
        {
            "table": "business_records",
            "record": invoice,
            "category": "financial",
            "under": "retention:financial",
            "basis": "German HGB §257 / AO §147: invoices 8 years",
            "until": "2034-01-01T00:00:00+00:00",
        }
    ]
    assert cert["ledger"] == {"events": 2, "final_digest": head.last_hash}
    assert cert["suppression_entries"] == 2 and cert["connectors_notified"] == []
    scan = cert["scan"]
    checks = scan["index_checks"]
    assert scan["clean"] and checks["indexed_values"]["found"] == []
    assert checks["references"]["remaining_rows"] == [] and scan["pending"] == ["substring_sweep"]
    assert checks["indexed_values"]["expected"] == [
        {"table": "suppression", "column": "blind_index", "matches": 2}
    ]
    assert "alice" not in json.dumps(cert).lower()
    with reading(configured.engine) as conn:
        tomb = conn.execute(select(contacts).where(contacts.c.id == alice)).mappings().one()
        assert tomb["identity"] is None and tomb["attributes"] == {} and tomb["external_id"] is None
        assert tomb["erased_at"] is not None
        for table in (
            addresses,
            communications,
            consent_events,
            ledger_heads,
            journey_contacts,
            outbox,
        ):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0, (
                table.name
            )
        kept = conn.execute(select(business_records)).mappings().one()
        assert kept["restricted_at"] is not None and kept["key_id"] != key_id
        assert list(verify_ledger(conn)) == []
        decision = decide_for(
            conn, alice, purpose_facts(conn, "events"), "email", None, None, configured.clock.now()
        )
        assert decision.reason == "erased"
    with configured.vault.keystore.connect() as keys:
        assert (
            keys.execute(select(contact_keys).where(contact_keys.c.key_id == key_id)).first()
            is None
        )


def test_a_suppressed_address_cannot_come_back_silently(
    configured: Candor, alice: int, tmp_path: Path
) -> None:
    erase_contact(configured, alice, actor="test", reason="test")
    new = NewContact(first_name="A", addresses=[NewAddress("email", "ALICE@example.com")])
    with (
        pytest.raises(Conflict, match=r"addresses\[0\]\.value: this address was erased"),
        configured.engine.begin() as conn,
    ):
        create_contact(conn, configured.vault, new, actor="t", at=configured.clock.now())
    file = tmp_path / "people.csv"
    with file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(
            [
                ["external_id", "email", "phone"],
                ["x1", "alice@example.com", ""],
                ["x2", "", "+49 151 23456789"],
                ["x3", "bob@example.com", ""],
            ]
        )
    report = import_csv(
        configured.engine, configured.vault, file, actor="t", at=configured.clock.now()
    )
    assert report.imported == 1 and report.rejected == 2
    assert [(r.line, r.field) for r in report.rejections] == [(2, "email"), (3, "phone")]
    assert "erased on the person's request" in report.rejections[0].problem


def test_an_old_copy_of_the_data_file_reveals_nothing_after_erasure(
    configured: Candor, alice: int, tmp_path: Path
) -> None:
    _records(configured, alice)
    with configured.engine.begin() as conn:
        score_contact(
            conn,
            configured.vault,
            alice,
            MODEL,
            purpose="profiling",
            actor="t",
            at=configured.clock.now(),
        )
        create_api_key(conn, "dpo", "backup reader", actor="t", at=configured.clock.now())
        key = create_api_key(conn, "admin", "backup reader", actor="t", at=configured.clock.now())
    data_file = (
        Path(configured.url.removeprefix("sqlite:///"))
        if configured.url.startswith("sqlite")
        else None
    )
    if data_file is None:
        pytest.skip("a data file exists only on SQLite")
    configured.engine.dispose()  # checkpoint the WAL into the file
    backup = tmp_path / "backup.db"
    shutil.copy(data_file, backup)
    raw = backup.read_bytes()
    for secret in (b"alice@example.com", b"shop-1"):  # identifying data was never in clear
        assert secret not in raw
    erase_contact(configured, alice, actor="test", reason="test")

    old = Candor.open(
        f"sqlite:///{backup}",
        keystore=str(configured.vault.keystore.url),
        clock=ManualClock(when(2026)),
    )
    try:
        with reading(old.engine) as conn:
            copy = compile_access_copy(conn, old.vault, alice, at=old.clock.now())
            key_id = conn.execute(
                select(contacts.c.key_id).where(contacts.c.id == alice)
            ).scalar_one()
            blobs = conn.execute(select(automated_decisions.c.factors)).scalars().all()
            assert blobs and all(old.vault.decrypt(key_id, "decision", b) is None for b in blobs)
        assert copy["contact"]["first_name"] is None and copy["contact"]["last_name"] is None
        assert copy["contact"]["external_id"] is None  # the customer number is shredded too
        assert [a["value"] for a in copy["addresses"]] == [None, None]
        assert [e["evidence"] for e in copy["consents"]] == [None, None]
        assert [b["evidence"] for b in copy["blocks"]] == [None]  # block evidence: shredded
        assert {r["data"] for r in copy["business_records"]} == {None}
        assert copy["automated_decisions"][0]["factors"] == []
        with TestClient(create_app(old)) as client:
            shown = client.get(
                f"/api/v1/contacts/{alice}", headers={"Authorization": f"Bearer {key}"}
            ).json()
        assert shown["first_name"] is None and {a["value"] for a in shown["addresses"]} == {None}
    finally:
        old.dispose()


def test_retention_run_deletes_kept_records_when_the_rule_ends(
    configured: Candor, alice: int
) -> None:
    invoice, _ = _records(configured, alice)
    erase_contact(configured, alice, actor="test", reason="test")
    with configured.engine.begin() as conn:
        assert (
            run_retention(conn, configured.vault, actor="t", at=configured.clock.now())["deleted"]
            == 0
        )
    assert isinstance(configured.clock, ManualClock)
    configured.clock.set(when(2034, 1, 1) + timedelta(seconds=1))
    with configured.engine.begin() as conn:
        key_id = conn.execute(select(business_records.c.key_id)).scalar_one()
        result = run_retention(conn, configured.vault, actor="t", at=configured.clock.now())
        assert result == {"deleted": 1, "extended": 0, "keys_destroyed": 1}
        assert conn.execute(select(func.count()).select_from(business_records)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).select_from(suppression)).scalar_one() == 2
        )  # stays
    with configured.vault.keystore.connect() as keys:
        assert (
            keys.execute(select(contact_keys).where(contact_keys.c.key_id == key_id)).first()
            is None
        )
    assert invoice


def test_a_legal_hold_keeps_records_no_rule_requires(configured: Candor, alice: int) -> None:
    _, old_click = _records(configured, alice)
    with configured.engine.begin() as conn:
        place_legal_hold(
            conn,
            alice,
            reason="court case 4 O 1/26",
            category="behavioural",
            until=when(2027),
            actor="t",
            at=configured.clock.now(),
        )
    cert = erase_contact(configured, alice, actor="test", reason="test")
    held = next(k for k in cert["kept"] if k["record"] == old_click)
    assert held["under"].startswith("legal_hold:") and held["until"] == "2027-01-01T00:00:00+00:00"
    assert isinstance(configured.clock, ManualClock)
    configured.clock.set(when(2027, 1, 2))
    with configured.engine.begin() as conn:
        assert (
            run_retention(conn, configured.vault, actor="t", at=configured.clock.now())["deleted"]
            == 1
        )
        assert conn.execute(select(business_records.c.id)).scalars().all() != [old_click]


def test_batch_erasure_is_set_based_and_certifies_each(configured: Candor) -> None:
    ids = [
        rich_contact(configured, external_id=f"c{i}", email=f"p{i}@example.com", phone=None)
        for i in range(3)
    ]
    certs = erase_contacts(configured, [*ids, 999999], actor="test", reason="batch")
    assert [c["contact"] for c in certs] == ids and all(c["scan"]["clean"] for c in certs)
    with reading(configured.engine) as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(contacts).where(contacts.c.erased_at.is_(None))
            ).scalar_one()
            == 0
        )
    assert erase_contacts(configured, ids, actor="test", reason="again") == []


def test_delete_over_http_and_cli_forget(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    contact = api.create_contact()
    assert api.delete(f"/api/v1/contacts/{contact['id']}", "marketer").status_code == 403
    response = api.delete(f"/api/v1/contacts/{contact['id']}", "dpo")
    assert response.status_code == 200, response.text
    cert = response.json()
    assert cert["contact"] == contact["id"] and cert["scan"]["clean"]
    gone = api.get(f"/api/v1/contacts/{contact['id']}")
    assert gone.status_code == 410, gone.text
    certificate = f"/api/v1/certificates/{contact['id']}"
    assert gone.json()["certificate"] == certificate
    assert gone.json()["erased_at"] == api.cx.clock.now().isoformat()
    (problem,) = gone.json()["errors"]
    assert problem["field"] == "contact" and certificate in problem["problem"]
    assert api.get(certificate, "auditor").json()["id"] == cert["id"]
    assert api.delete(f"/api/v1/contacts/{contact['id']}", "dpo").status_code == 410
    assert api.get("/api/v1/contacts/999999").status_code == 404  # never existed: not gone
    with reading(api.cx.engine) as conn, pytest.raises(Exception, match="was erased at"):
        read_contact(conn, api.cx.vault, contact["id"])


def test_requests_are_scrubbed_not_deleted_and_counted(configured: Candor, alice: int) -> None:
    at = configured.clock.now()
    with configured.engine.begin() as conn:
        request = open_request(
            conn,
            configured.vault,
            NewRequest(type="access", contact=alice),
            role="dpo",
            actor="dpo",
            at=at,
        )
    cert = erase_contact(configured, alice, actor="test", reason="test")
    assert cert["scrubbed"] == {"dsr_status_history": 3, "dsr_requests": 1}
    assert "dsr_requests" not in cert["deleted"] and cert["scan"]["clean"]
    with reading(configured.engine) as conn:
        row = conn.execute(select(dsr_requests)).mappings().one()
    assert row["id"] == request["id"] and row["contact_id"] == alice
    assert row["details"] is None and row["result"] is None and row["verification_token"] is None
