"""The generic adapter's webhooks: inbound STOP/START and delivery receipts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from candor.channels.compose import sms_message_id
from candor.ledger.blocks import list_blocks
from candor.ledger.communications import list_communications
from candor.store.journey_tables import outbox
from candor.store.tables import addresses
from tests.channels.test_dispatch_support import (
    SMS_KEY,
    SMS_KEY_ENV,
    add_contact,
    configure_channels,
    enqueue,
)
from tests.web.conftest import Api

PHONE = "+4915123456780"
AUTH = {"Authorization": f"Bearer {SMS_KEY}"}


@pytest.fixture
def hooked(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    configure_channels(
        api.cx, sms_url="http://127.0.0.1:9/sms", whatsapp_url="http://127.0.0.1:9/wa"
    )
    return api


def _inbound(api: Api, text: str, sender: str = PHONE, channel: str = "sms") -> dict:
    answer = api.post(
        f"/hooks/inbound/{channel}", role=None, headers=AUTH, json={"from": sender, "text": text}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_stop_sets_an_address_block_and_start_lifts_it(hooked: Api) -> None:
    api = hooked
    with api.cx.engine.begin() as conn:
        alice = add_contact(conn, api.cx, phone=PHONE, language="de")
    assert api.decide(alice, "events", channel="sms")["reason"] == "allowed"

    stop = _inbound(api, "Stopp!")
    assert stop["recorded"] and stop["keyword"] == "stop" and len(stop["blocks"]) == 1
    assert api.decide(alice, "events", channel="sms")["reason"] == "blocked:address"
    assert api.decide(alice, "events", channel="whatsapp")["reason"] == "allowed"
    with api.cx.engine.connect() as conn:
        comms = list_communications(conn, alice)
        (block,) = list_blocks(conn, alice, api.cx.vault)
    assert comms[-1]["direction"] == "in" and comms[-1]["content_ref"] == "inbound:stop"
    assert block["communication_id"] == comms[-1]["id"]
    # the person's own words are the evidence, sealed with their key
    assert block["evidence"] == {
        "signal": "inbound keyword",
        "keyword": "stop",
        "channel": "sms",
        "text": "Stopp!",
        "provider_message_id": None,
        "time": block["created_at"],
    }

    again = _inbound(api, "STOP")
    assert again["blocks"] == []  # already blocked: evidence recorded, no second block

    start = _inbound(api, "anmelden")
    assert start["keyword"] == "start" and start["blocks"] == stop["blocks"]
    assert api.decide(alice, "events", channel="sms")["reason"] == "allowed"
    with api.cx.engine.connect() as conn:
        (lifted,) = list_blocks(conn, alice, api.cx.vault)
    assert (lifted["lifted"]["evidence"]["keyword"], lifted["lifted"]["evidence"]["text"]) == (
        "start",
        "anmelden",
    )


def test_unknown_senders_and_plain_text(hooked: Api) -> None:
    api = hooked
    before = api.row_counts()
    assert _inbound(api, "STOP", sender="+4915199999999") == {
        "recorded": False,
        "keyword": "none",
        "communication": None,
        "blocks": [],
    }
    assert api.row_counts() == before
    with api.cx.engine.begin() as conn:
        add_contact(conn, api.cx, phone=PHONE)
    answer = _inbound(api, "What time is the event?", channel="whatsapp")
    assert answer["recorded"] and answer["keyword"] == "none" and answer["blocks"] == []


def test_hooks_need_the_providers_key(hooked: Api) -> None:
    api = hooked
    body = {"from": PHONE, "text": "STOP"}
    assert api.post("/hooks/inbound/sms", role=None, json=body).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert api.post("/hooks/inbound/sms", role=None, json=body, headers=wrong).status_code == 401
    # An admin API key is not the provider's key either.
    assert api.post("/hooks/inbound/sms", json=body).status_code == 401
    assert api.post("/hooks/delivery/sms", role=None, json={}, headers=wrong).status_code == 401
    assert api.post("/hooks/inbound/email", role=None, json=body, headers=AUTH).status_code == 422
    bad = api.post("/hooks/inbound/sms", role=None, content=b"{", headers=AUTH)
    assert bad.status_code == 422


def test_an_undeliverable_receipt_marks_the_address(hooked: Api) -> None:
    api = hooked
    cx = api.cx
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, phone=PHONE)
        row_id = enqueue(conn, alice, at=cx.clock.now(), channel="sms", key="k1")
        message_id = sms_message_id(row_id, "k1")
        conn.execute(
            update(outbox).where(outbox.c.id == row_id).values(status="sent", message_id=message_id)
        )

    def receipt(status: str, mid: str = message_id) -> str:
        answer = api.post(
            "/hooks/delivery/sms",
            role=None,
            headers=AUTH,
            json={"message_id": mid, "status": status},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["status"])

    assert receipt("delivered") == "delivered"
    assert receipt("undeliverable", "999.abc") == "unknown"
    assert receipt("failed") == "failed"
    assert api.decide(alice, "events", channel="sms")["reason"] == "allowed"
    assert receipt("undeliverable") == "undeliverable"
    assert api.decide(alice, "events", channel="sms")["reason"] == "undeliverable"
    with cx.engine.connect() as conn:
        flags = conn.execute(select(addresses.c.channel, addresses.c.deliverable)).all()
    assert sorted(flags) == [("sms", False), ("whatsapp", True)]
    bad = api.post("/hooks/delivery/sms", role=None, headers=AUTH, json={"status": "weird"})
    assert bad.status_code == 422
