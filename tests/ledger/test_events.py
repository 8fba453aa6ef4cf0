"""Publishing: in the change's transaction, per interested connector, never back to the origin."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from candor.core.context import Candor
from candor.ledger.blocks import lift_block
from candor.ledger.bulk import NewEvent, append_events
from candor.ledger.config import ConfigError, parse_config
from candor.ledger.events import origin
from candor.ledger.imports.importer import import_csv
from candor.ledger.rectification import rectify_contact
from candor.rights.certificates import certificate_of
from candor.rights.erasure import erase_contact
from candor.rights.restriction import lift_restriction, object_contact, restrict_contact
from candor.store.engine import reading
from candor.store.sync_tables import sync_events
from tests.journeys.runtime.helpers import add_contact, block, consent
from tests.sync.conftest import connect, deliveries, events, hook


def test_nothing_is_published_without_connectors(configured: Candor) -> None:
    cid = add_contact(configured, 1)
    consent(configured, cid, "events", "withdrawn")
    assert events(configured) == []


def test_each_verb_publishes_one_event_with_minimal_data(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("erp", events=["contact.erased"])])
    cid = add_contact(cx, 1)
    consent(cx, cid, "events", "withdrawn", channel="sms")
    block_id = block(cx, cid, channel="email", address="person1@example.com")
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        lift_block(conn, cx.vault, block_id, reason="asked", source="api", actor="t", at=now)
        rectify_contact(
            conn,
            cx.vault,
            cid,
            {"first_name": "New", "attributes": {"country": "AT"}},
            actor="t",
            at=now,
        )
        restrict_contact(conn, cid, actor="t", at=now)
        lift_restriction(conn, cid, actor="t", at=now)
        object_contact(conn, cid, actor="t", at=now)
    found = events(cx)
    assert [e["type"] for e in found] == [
        "consent.changed",
        "block.set",
        "block.lifted",
        "contact.rectified",
        "contact.restricted",
        "contact.restriction_lifted",
        "contact.objected",
    ]
    assert found[5]["data"] == {}  # the fact alone
    consent_event = found[0]["data"]
    assert {k: consent_event[k] for k in ("purpose", "theme", "channel", "status", "address")} == {
        "purpose": "events",
        "theme": None,
        "channel": "sms",
        "status": "withdrawn",
        "address": False,
    }
    assert found[1]["data"] == {
        "block_id": str(block_id),
        "channel": "email",
        "theme": None,
        "address": True,
    }
    rect = found[3]
    assert rect["data"] == {
        "changes": {"attributes.country": "AT"},
        "identity_changed": ["first_name"],
    }
    assert rect["sealed"] is not None and b"New" not in rect["sealed"]  # the name is encrypted
    # only crm wants these; erp asked for erasures only
    assert {d["connector"] for d in deliveries(cx)} == {"crm"}
    assert all(d["status"] == "pending" and d["contact_id"] == cid for d in deliveries(cx))


def test_publishing_is_part_of_the_change_transaction(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm")])
    cid = add_contact(cx, 1)
    with pytest.raises(RuntimeError), cx.engine.begin() as conn:
        from candor.ledger.consents import ConsentInput, record_consent

        record_consent(
            conn,
            cx.vault,
            cid,
            ConsentInput("events", "withdrawn", "form"),
            actor="t",
            at=cx.clock.now(),
        )
        assert len(conn.execute(select(sync_events)).all()) == 1
        raise RuntimeError("the change fails")
    assert events(cx) == [] and deliveries(cx) == []


def test_no_echo_to_the_origin_and_identifier_kinds(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("shop", identifier="email")])
    cid = add_contact(cx, 1)
    with origin("crm"):
        consent(cx, cid, "events", "withdrawn")
    assert [d["connector"] for d in deliveries(cx)] == ["shop"]
    assert events(cx)[0]["origin"] == "crm"
    # a contact without external_id cannot be named to an external_id connector
    from candor.ledger.contacts import NewAddress, NewContact, create_contact

    with cx.engine.begin() as conn:
        anon = create_contact(
            conn,
            cx.vault,
            NewContact(addresses=[NewAddress("email", "x@example.com")]),
            actor="t",
            at=cx.clock.now(),
        )
    consent(cx, anon, "events", "refused")
    assert [d["connector"] for d in deliveries(cx) if d["contact_id"] == anon] == ["shop"]


def test_bulk_consent_events_publish_in_one_batch(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm")])
    ids = [add_contact(cx, n) for n in range(5)]
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        append_events(
            conn,
            cx.vault,
            [NewEvent(c, "events", 1, "withdrawn", "journey", now) for c in ids],
            now,
        )
        append_events(
            conn,
            cx.vault,
            [NewEvent(c, "events", 1, "requested", "journey", now) for c in ids],
            now,
        )
    assert sorted(e["contact_id"] for e in events(cx)) == ids  # requested changes nothing there
    assert len(deliveries(cx)) == 5


def test_erasure_publishes_only_the_sealed_identifier_and_the_scan_stays_clean(
    configured: Candor,
) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("shop", identifier="email")])
    cid = add_contact(cx, 7)
    consent(cx, cid, "events", "granted")
    certificate = erase_contact(cx, cid, actor="dpo", reason="asked")
    assert certificate["scan"]["clean"], certificate["scan"]
    assert certificate["connectors_notified"] == ["crm", "shop"]
    erased = [e for e in events(cx) if e["type"] == "contact.erased"]
    assert len(erased) == 1 and erased[0]["data"] == {} and erased[0]["key_id"]
    assert b"c7" not in erased[0]["sealed"] and b"person7" not in erased[0]["sealed"]
    # the undelivered consent event went with the person's other data
    assert [e["type"] for e in events(cx)] == ["contact.erased"]
    with reading(cx.engine) as conn:
        listed = certificate_of(conn, cid)["connectors"]
    assert [(c["connector"], c["status"], c["acknowledged_at"]) for c in listed] == [
        ("crm", "pending", None),
        ("shop", "pending", None),
    ]


def test_config_apply_names_the_bad_connector_key() -> None:
    text = (
        "connectors:\n"
        "  - {id: crm, url: 'ftp://x', secret_env: S}\n"
        "  - {id: shop, kind: sql, url: 'sqlite://', query: 'DELETE FROM x'}\n"
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "candor.yaml")
    message = str(err.value)
    assert "connectors[0:crm].url" in message and "connectors[1:shop].query" in message
    with pytest.raises(ConfigError, match=r"sync.max_attempts"):
        parse_config("sync: {max_attempts: 0}\n", "candor.yaml")


def test_imported_consents_are_published_with_the_batch(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("shop", identifier="email")])
    path = tmp_path / "people.csv"
    path.write_text(
        "external_id,email,consent:events,consent:newsletter:email\n"
        "x1,x1@example.org,granted,granted\n"
        "x2,,withdrawn,\n"
    )
    report = import_csv(cx.engine, cx.vault, path, actor="t", at=cx.clock.now())
    assert report.imported == 2
    found = events(cx)
    # x1's newsletter grant waits for its double opt-in (pending): receivers cannot act on it
    assert [(e["data"]["purpose"], e["data"]["status"]) for e in found] == [
        ("events", "granted"),
        ("events", "withdrawn"),
    ]
    assert all(e["type"] == "consent.changed" and e["data"]["address"] is False for e in found)
    # x2 has no e-mail address: the shop (identifier email) gets only x1's event
    assert sorted(d["connector"] for d in deliveries(cx)) == ["crm", "crm", "shop"]
