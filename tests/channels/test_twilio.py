"""SMS through Twilio's Messages API: a real local stand-in that checks what it is sent,
and status callbacks and inbound messages signed as Twilio signs them, to a running Candor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from candor.channels.dispatch import dispatch_due
from candor.core.context import Candor
from candor.ledger.blocks import list_blocks
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.store.channel_tables import delivery_reports
from candor.store.tables import addresses, communications
from candor.web.app import create_app
from tests.channels.provider_fakes import FakeTwilio, running
from tests.channels.test_dispatch_support import (
    PUBLIC_URL,
    add_contact,
    configure_channels,
    enqueue,
    outbox_row,
)
from tests.e2e.browser_support import serve

OK, GONE, INVALID = "+4915123456780", "+4915123456781", "+4915123456782"
SID_ENV, TOKEN_ENV = "CANDOR_TEST_TWILIO_SID", "CANDOR_TEST_TWILIO_TOKEN"


@pytest.fixture
def twilio(configured: Candor, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    with running(FakeTwilio()) as fake:
        assert isinstance(fake, FakeTwilio)
        monkeypatch.setenv(SID_ENV, fake.account_sid)
        monkeypatch.setenv(TOKEN_ENV, fake.auth_token)
        sms = {
            "provider": "twilio",
            "account_sid_env": SID_ENV,
            "auth_token_env": TOKEN_ENV,
            "from": "+4915100000000",
            "base_url": fake.base_url,
        }
        configure_channels(configured, extra={"sms": sms})
        yield fake


def _communication(cx: Candor, outbox_id: int) -> dict:
    comm = outbox_row(cx, outbox_id)["communication_id"]
    with cx.engine.connect() as conn:
        row = conn.execute(select(communications).where(communications.c.id == comm))
        return dict(row.mappings().one())


def test_sms_goes_out_as_twilio_expects_and_callbacks_move_its_delivery_state(
    configured: Candor, twilio: FakeTwilio
) -> None:
    cx = configured
    twilio.refuse = {INVALID: (400, 21211)}
    with cx.engine.begin() as conn:
        ok = enqueue(conn, add_contact(conn, cx, phone=OK), at=cx.clock.now(), channel="sms")
        gone_contact = add_contact(conn, cx, phone=GONE)
        gone = enqueue(conn, gone_contact, at=cx.clock.now(), channel="sms")
        invalid_contact = add_contact(conn, cx, phone=INVALID)
        invalid = enqueue(conn, invalid_contact, at=cx.clock.now(), channel="sms")
    assert dispatch_due(cx) == 2

    sent = {m.form["To"]: m for m in twilio.messages}
    assert sent[OK].form["Body"] == "Events in DE! Reply STOP to opt out."
    assert sent[OK].form["From"] == "+4915100000000"
    row = outbox_row(cx, ok)
    assert sent[OK].form["StatusCallback"] == (
        f"{PUBLIC_URL}/hooks/twilio/sms/status?m={row['message_id']}"
    )
    first = _communication(cx, ok)
    assert (first["delivery_status"], first["provider_ref"]) == ("queued", sent[OK].sid)
    assert (first["encoding"], first["segments"]) == ("gsm7", 1)
    refused = outbox_row(cx, invalid)
    assert (refused["status"], refused["error"]) == ("failed", "twilio_21211")

    with serve(create_app(cx)) as candor_url:
        assert twilio.status_callback(sent[OK], "sent", candor_url).status_code == 204
        assert twilio.status_callback(sent[OK], "delivered", candor_url).status_code == 204
        assert twilio.status_callback(sent[OK], "sent", candor_url).status_code == 204  # late
        answer = twilio.status_callback(sent[GONE], "undelivered", candor_url, error_code=30005)
        assert answer.status_code == 204
    assert _communication(cx, ok)["delivery_status"] == "delivered"
    lost = _communication(cx, gone)
    assert (lost["delivery_status"], lost["delivery_detail"]) == ("undelivered", "twilio_30005")

    with cx.engine.connect() as conn:
        events = purpose_facts(conn, "events")
        for contact in (gone_contact, invalid_contact):
            decision = decide_for(conn, contact, events, "sms", None, None, cx.clock.now())
            assert decision.reason == "undeliverable"
        evidence = conn.execute(
            select(delivery_reports.c.contact_id, delivery_reports.c.detail).where(
                delivery_reports.c.effect == "undeliverable"
            )
        ).all()
    assert sorted(evidence) == sorted(
        [(gone_contact, "twilio_30005"), (invalid_contact, "twilio_21211")]
    )


def test_a_callback_with_a_wrong_signature_changes_nothing(
    configured: Candor, twilio: FakeTwilio
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        row = enqueue(conn, add_contact(conn, cx, phone=GONE), at=cx.clock.now(), channel="sms")
    dispatch_due(cx)
    (message,) = twilio.messages
    forger = FakeTwilio(account_sid=twilio.account_sid, auth_token="guessed")
    with serve(create_app(cx)) as candor_url:
        answer = forger.status_callback(message, "undelivered", candor_url, error_code=30005)
    assert answer.status_code == 403
    assert _communication(cx, row)["delivery_status"] == "queued"
    with cx.engine.connect() as conn:
        assert conn.execute(select(addresses.c.deliverable)).scalars().all() == [True, True]
        assert conn.execute(select(delivery_reports.c.id)).first() is None


def test_inbound_stop_through_twilio_blocks_the_number_and_start_lifts_it(
    configured: Candor, twilio: FakeTwilio
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, phone=OK, language="de")
    inbound_url = f"{PUBLIC_URL}/hooks/twilio/sms/inbound"
    with serve(create_app(cx)) as candor_url:
        forged = twilio.inbound(OK, "STOP", inbound_url, candor_url, token="guessed")
        assert forged.status_code == 403
        stop = twilio.inbound(OK, "Stopp", inbound_url, candor_url)
        assert stop.status_code == 200 and "<Response>" in stop.text
        assert stop.headers["content-type"].startswith("text/xml")
        with cx.engine.connect() as conn:
            (block,) = list_blocks(conn, alice, cx.vault)
        assert block["source"] == "keyword" and block["lifted"] is None
        assert twilio.inbound(OK, "START", inbound_url, candor_url).status_code == 200
    with cx.engine.connect() as conn:
        (block,) = list_blocks(conn, alice, cx.vault)
    assert block["lifted"] is not None
