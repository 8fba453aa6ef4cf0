"""Consents end to end: double opt-in by token, withdrawal per channel, history, decide."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from candor.core.clock import ManualClock
from candor.store.engine import reading
from candor.store.tables import audit_log

from .conftest import Api, fields


def consent(api: Api, contact_id: int, role: str = "admin", **body: object) -> dict:
    payload = {"source": "api", "status": "granted", **body}
    response = api.post(f"/api/v1/contacts/{contact_id}/consents", role, json=payload)
    assert response.status_code == 201, response.text
    data: dict = response.json()
    return data


def test_double_opt_in_pending_confirm_then_allowed(api: Api) -> None:
    alice = api.create_contact()["id"]
    evidence = {
        "form": "footer-signup",
        "wording": "Yes, send me the newsletter",
        "ip": "203.0.113.7",
    }
    pending = consent(api, alice, purpose="newsletter", channel="email", evidence=evidence)
    assert pending["status"] == "pending"
    assert pending["evidence"] == evidence
    assert pending["purpose"] == "newsletter"
    assert pending["purpose_version"] == 1
    token = pending["confirmation_token"]
    assert token

    decision = api.decide(alice, "newsletter", channel="email")
    assert decision == {
        "allowed": False,
        "reason": "doi_pending",
        "basis": None,
        "event": pending["id"],
    }

    confirmed = api.post(
        "/api/v1/consents/confirm", json={"token": token}, headers={"User-Agent": "MailClient/1.0"}
    )
    assert confirmed.status_code == 200, confirmed.text
    event = confirmed.json()
    assert event["status"] == "confirmed"
    assert event["confirms_event_id"] == pending["id"]
    assert event["contact"] == alice
    assert event["evidence"]["user_agent"] == "MailClient/1.0"
    assert event["evidence"]["ip"]
    assert event["evidence"]["confirmed_at"].startswith("2026-03-02T09:00")
    assert event["evidence"]["confirmation_of"] == pending["id"]

    decision = api.decide(alice, "newsletter", channel="email")
    assert decision == {
        "allowed": True,
        "reason": "allowed",
        "basis": "consent",
        "event": event["id"],
    }

    reused = api.post("/api/v1/consents/confirm", json={"token": token})
    assert reused.status_code == 409
    assert fields(reused) == ["token"]


def test_bad_and_expired_tokens_are_422(api: Api, clock: ManualClock) -> None:
    alice = api.create_contact()["id"]
    token = consent(api, alice, purpose="newsletter")["confirmation_token"]
    for bad in ("garbage", token[:-3] + "abc", ""):
        response = api.post("/api/v1/consents/confirm", json={"token": bad})
        assert response.status_code == 422, response.text
        assert fields(response) == ["token"]
    clock.advance(timedelta(days=8))
    expired = api.post("/api/v1/consents/confirm", json={"token": token})
    assert expired.status_code == 422
    assert fields(expired) == ["token"]
    assert api.decide(alice, "newsletter", channel="email")["reason"] == "doi_pending"


def test_withdrawal_on_sms_leaves_email_allowed(api: Api, clock: ManualClock) -> None:
    alice = api.create_contact()["id"]
    granted = consent(api, alice, purpose="events")
    assert granted["status"] == "granted"
    assert "confirmation_token" not in granted
    clock.advance(timedelta(minutes=1))
    withdrawn = consent(api, alice, purpose="events", channel="sms", status="withdrawn")

    assert api.decide(alice, "events", channel="email") == {
        "allowed": True,
        "reason": "allowed",
        "basis": "consent",
        "event": granted["id"],
    }
    assert api.decide(alice, "events", channel="sms") == {
        "allowed": False,
        "reason": "withdrawn",
        "basis": None,
        "event": withdrawn["id"],
    }
    # A later general grant re-enables SMS.
    clock.advance(timedelta(minutes=1))
    regrant = consent(api, alice, purpose="events")
    assert api.decide(alice, "events", channel="sms")["event"] == regrant["id"]

    history = api.get(f"/api/v1/contacts/{alice}/consents").json()["items"]
    assert [e["id"] for e in history] == [granted["id"], withdrawn["id"], regrant["id"]]
    assert [e["status"] for e in history] == ["granted", "withdrawn", "granted"]
    assert history[1]["prev_hash"] == history[0]["hash"]


def test_consent_scoped_to_address_and_theme(api: Api) -> None:
    alice = api.create_contact()
    sms_address = alice["addresses"][1]
    event = consent(
        api,
        alice["id"],
        purpose="events",
        channel="sms",
        address="+4915123456789",
        theme="newsletters",
        occurred_at="2026-03-01T12:00:00+01:00",
    )
    assert event["address_id"] == sms_address["id"]
    assert event["theme"] == "newsletters"
    assert event["occurred_at"] == "2026-03-01T11:00:00+00:00"
    assert api.decide(alice["id"], "events", channel="sms", theme="weekly")["allowed"] is True
    assert api.decide(alice["id"], "events", channel="sms", theme="events")["reason"] == "not_asked"


def test_consent_writes_audit_entries_with_key_actor(api: Api) -> None:
    alice = api.create_contact()["id"]
    consent(api, alice, purpose="events")
    with reading(api.cx.engine) as conn:
        rows = conn.execute(select(audit_log.c.actor, audit_log.c.action)).all()
    actions = {(r.actor.split(":")[0], r.action) for r in rows}
    assert ("key", "contact.create") in actions
    assert ("key", "consent.granted") in actions


def test_consent_communication_must_be_the_contacts(api: Api) -> None:
    alice = api.create_contact()["id"]
    bob = api.create_contact(
        {"first_name": "Bob", "addresses": [{"channel": "email", "value": "bob@example.com"}]}
    )
    comm = api.post(
        f"/api/v1/contacts/{bob['id']}/communications", json={"channel": "email", "direction": "in"}
    ).json()["id"]
    before = api.row_counts()
    response = api.post(
        f"/api/v1/contacts/{alice}/consents",
        json={"purpose": "events", "status": "granted", "source": "api", "communication_id": comm},
    )
    assert response.status_code == 422
    assert fields(response) == ["communication_id"]
    assert api.row_counts() == before
    ok = consent(api, bob["id"], purpose="events", communication_id=comm)
    assert ok["communication_id"] == comm


def test_consent_receipt_for_an_event(api: Api) -> None:
    contact = api.create_contact()["id"]
    event = consent(api, contact, purpose="events", status="granted", source="form")
    receipt = api.get(f"/api/v1/consents/{event['id']}/receipt").json()
    assert receipt["version"] == "KI-CR-v1.1.0"
    assert receipt["piiPrincipalId"] == f"contact:{contact}"
    purpose = receipt["services"][0]["purposes"][0]
    assert purpose["wording"].startswith("Invite me to events") and purpose["status"] == "granted"
    assert receipt["ledger"]["hash"] == event["hash"]
    assert api.get("/api/v1/consents/999999/receipt").status_code == 404
