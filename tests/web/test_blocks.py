"""Blocks end to end: setting and lifting them changes what decide answers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from candor.core.clock import ManualClock
from candor.store.engine import reading
from candor.store.tables import block_lifts, blocks

from .conftest import Api, fields


def grant_events(api: Api, contact_id: int) -> None:
    response = api.post(
        f"/api/v1/contacts/{contact_id}/consents",
        json={"purpose": "events", "status": "granted", "source": "api"},
    )
    assert response.status_code == 201


def test_complete_block_set_and_lift(api: Api, clock: ManualClock) -> None:
    alice = api.create_contact()["id"]
    grant_events(api, alice)
    assert api.decide(alice, "events", channel="email")["allowed"] is True

    clock.advance(timedelta(minutes=1))
    response = api.post(f"/api/v1/contacts/{alice}/blocks", json={"reason": "asked on the phone"})
    assert response.status_code == 201, response.text
    block = response.json()
    assert block["kind"] == "all"
    assert block["source"] == "api"
    assert block["lifted"] is None
    assert api.decide(alice, "events", channel="email")["reason"] == "blocked:all"
    # Service messages are not advertising: blocks do not stop them.
    assert api.decide(alice, "service", channel="email")["allowed"] is True

    clock.advance(timedelta(minutes=1))
    lifted = api.delete(f"/api/v1/blocks/{block['id']}", json={"reason": "asked again"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["lifted"]["reason"] == "asked again"
    assert lifted.json()["lifted"]["lifted_at"].startswith("2026-03-02T09:02")
    assert api.decide(alice, "events", channel="email")["allowed"] is True

    again = api.delete(f"/api/v1/blocks/{block['id']}")
    assert again.status_code == 409
    assert fields(again) == ["block"]

    listed = api.get(f"/api/v1/contacts/{alice}/blocks").json()["items"]
    assert [b["id"] for b in listed] == [block["id"]]
    assert listed[0]["lifted"]["reason"] == "asked again"


def test_scoped_blocks(api: Api, clock: ManualClock) -> None:
    alice = api.create_contact()["id"]
    grant_events(api, alice)
    clock.advance(timedelta(minutes=1))
    sms = api.post(f"/api/v1/contacts/{alice}/blocks", json={"channel": "sms", "reason": "STOP"})
    assert sms.json()["kind"] == "channel"
    assert api.decide(alice, "events", channel="sms")["reason"] == "blocked:channel"
    assert api.decide(alice, "events", channel="email")["allowed"] is True

    theme = api.post(
        f"/api/v1/contacts/{alice}/blocks",
        json={"channel": "email", "theme": "events", "reason": "no event mails"},
    )
    assert theme.json()["kind"] == "theme"
    assert api.decide(alice, "events", channel="email", theme="events")["reason"] == "blocked:theme"
    assert api.decide(alice, "events", channel="email", theme="surveys")["allowed"] is True

    address = api.post(
        f"/api/v1/contacts/{alice}/blocks",
        json={"channel": "email", "address": "alice@example.com", "reason": "shared inbox"},
    )
    assert address.json()["kind"] == "address"
    assert address.json()["address_id"] is not None
    assert api.decide(alice, "events", channel="email")["reason"] == "blocked:address"

    lifted = api.delete(f"/api/v1/blocks/{sms.json()['id']}", params={"reason": "opted in again"})
    assert lifted.status_code == 200
    assert lifted.json()["lifted"]["reason"] == "opted in again"
    assert api.decide(alice, "events", channel="sms")["allowed"] is True


def test_block_errors_change_nothing(api: Api) -> None:
    alice = api.create_contact()["id"]
    bob = api.create_contact(
        {"first_name": "Bob", "addresses": [{"channel": "email", "value": "bob@example.com"}]}
    )
    before = api.row_counts()
    for body, status, field in (
        ({"reason": ""}, 422, "reason"),
        ({}, 422, "reason"),
        ({"reason": "x", "channel": "pigeon"}, 422, "channel"),
        ({"reason": "x", "theme": "nope"}, 422, "theme"),
        ({"reason": "x", "address": "bob@example.com", "channel": "email"}, 422, "address"),
        ({"reason": "x", "address": "alice@example.com"}, 422, "channel"),
        ({"reason": "x", "scope": "all"}, 422, "scope"),
    ):
        response = api.post(f"/api/v1/contacts/{alice}/blocks", json=body)
        assert response.status_code == status, (body, response.text)
        assert fields(response) == [field], body
        assert "bob@example.com" not in response.text
    missing = api.delete("/api/v1/blocks/4242")
    assert missing.status_code == 404
    assert fields(missing) == ["block"]
    assert api.row_counts() == before
    assert bob["id"] != alice


def test_block_and_lift_keep_the_callers_evidence_sealed(api: Api, clock: ManualClock) -> None:
    alice = api.create_contact()["id"]
    proof = {"ip": "198.51.100.23", "user_agent": "ShopForm/4.2", "wording_version": 3}
    response = api.post(
        f"/api/v1/contacts/{alice}/blocks", json={"reason": "asked in the shop", "evidence": proof}
    )
    assert response.status_code == 201, response.text
    block = response.json()
    assert block["evidence"] == proof
    clock.advance(timedelta(minutes=1))
    lift_proof = {"ip": "198.51.100.24", "user_agent": "ShopForm/4.3"}
    lifted = api.delete(
        f"/api/v1/blocks/{block['id']}", json={"reason": "asked again", "evidence": lift_proof}
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["evidence"] == proof
    assert lifted.json()["lifted"]["evidence"] == lift_proof

    (listed,) = api.get(f"/api/v1/contacts/{alice}/blocks", role="dpo").json()["items"]
    assert (listed["evidence"], listed["lifted"]["evidence"]) == (proof, lift_proof)
    # Marketers never see identifying data: the evidence stays closed for them.
    hidden = api.get(f"/api/v1/contacts/{alice}/blocks", role="marketer")
    assert hidden.json()["items"][0]["evidence"] is None
    assert "198.51.100" not in hidden.text and "ShopForm" not in hidden.text
    # Stored encrypted, never in clear.
    with reading(api.cx.engine) as conn:
        stored = conn.execute(select(blocks.c.evidence)).scalar_one()
        stored_lift = conn.execute(select(block_lifts.c.evidence)).scalar_one()
    for blob in (stored, stored_lift):
        assert blob and b"198.51.100" not in blob and b"ShopForm" not in blob


def test_block_without_evidence_stores_none_and_bad_evidence_is_refused(api: Api) -> None:
    alice = api.create_contact()["id"]
    plain = api.post(f"/api/v1/contacts/{alice}/blocks", json={"reason": "asked by letter"})
    assert plain.status_code == 201 and plain.json()["evidence"] is None
    bad = api.post(
        f"/api/v1/contacts/{alice}/blocks", json={"reason": "x", "evidence": ["not", "an object"]}
    )
    assert bad.status_code == 422 and fields(bad) == ["evidence"]
    lift = api.delete(f"/api/v1/blocks/{plain.json()['id']}", json={"evidence": "no"})
    assert lift.status_code == 422 and fields(lift) == ["evidence"]
