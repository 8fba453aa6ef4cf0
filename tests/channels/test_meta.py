"""WhatsApp through Meta's Cloud API: templates and text to a real local stand-in, webhooks
signed with the app secret, the verification challenge, and the 24-hour window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from candor.channels.dispatch import dispatch_due
from candor.channels.template_store import put_template
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.blocks import list_blocks
from candor.store.channel_tables import delivery_reports
from candor.store.tables import addresses, communications
from candor.web.app import create_app
from tests.channels.provider_fakes import FakeMeta, running
from tests.channels.test_dispatch_support import (
    add_contact,
    configure_channels,
    enqueue,
    outbox_row,
)
from tests.e2e.browser_support import serve

OK, GONE = "+4915123456780", "+4915123456781"
ENV = {
    "access_token_env": "CANDOR_TEST_META_TOKEN",
    "app_secret_env": "CANDOR_TEST_META_SECRET",
    "verify_token_env": "CANDOR_TEST_META_VERIFY",
}
INVITE = {
    "whatsapp": {
        "template": "event_invite",
        "language": "de",
        "parameters": "{{ first_name }}\n{{ country }}",
    }
}


@pytest.fixture
def meta(configured: Candor, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMeta]:
    with running(FakeMeta()) as fake:
        assert isinstance(fake, FakeMeta)
        monkeypatch.setenv(ENV["access_token_env"], fake.access_token)
        monkeypatch.setenv(ENV["app_secret_env"], fake.app_secret)
        monkeypatch.setenv(ENV["verify_token_env"], fake.verify_token)
        whatsapp = {
            "provider": "meta",
            "phone_number_id": fake.phone_number_id,
            "base_url": fake.base_url,
            **ENV,
        }
        configure_channels(configured, extra={"whatsapp": whatsapp})
        with configured.engine.begin() as conn:
            put_template(conn, "invite", INVITE, actor="test", at=configured.clock.now())
        yield fake


def _state(cx: Candor, outbox_id: int) -> tuple[str, str | None]:
    comm = outbox_row(cx, outbox_id)["communication_id"]
    with cx.engine.connect() as conn:
        row = conn.execute(
            select(communications.c.delivery_status, communications.c.provider_ref).where(
                communications.c.id == comm
            )
        ).one()
    return row.delivery_status, row.provider_ref


def test_a_template_goes_out_any_time_and_statuses_come_back_signed(
    configured: Candor, meta: FakeMeta
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        ok = enqueue(
            conn,
            add_contact(conn, cx, phone=OK),
            at=cx.clock.now(),
            channel="whatsapp",
            template="invite",
        )
        gone_contact = add_contact(conn, cx, phone=GONE)
        gone = enqueue(conn, gone_contact, at=cx.clock.now(), channel="whatsapp", template="invite")
    assert dispatch_due(cx) == 2
    sent = {m.json["to"]: m for m in meta.messages}
    body = sent[OK.lstrip("+")].json
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "event_invite",
        "language": {"code": "de"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Alice"}, {"type": "text", "text": "DE"}],
            }
        ],
    }
    assert body["biz_opaque_callback_data"] == outbox_row(cx, ok)["message_id"]
    assert _state(cx, ok) == ("queued", sent[OK.lstrip("+")].sid)

    with serve(create_app(cx)) as candor_url:
        assert meta.status(sent[OK.lstrip("+")], "delivered", candor_url).status_code == 200
        assert meta.status(sent[OK.lstrip("+")], "read", candor_url).status_code == 200
        failed = meta.status(sent[GONE.lstrip("+")], "failed", candor_url, error_code=131026)
        assert failed.json() == {"statuses": 1, "matched": 1, "messages": 0}
    assert _state(cx, ok)[0] == "delivered"
    assert _state(cx, gone)[0] == "failed"
    with cx.engine.connect() as conn:
        flags = dict(
            conn.execute(
                select(addresses.c.contact_id, addresses.c.deliverable).where(
                    addresses.c.channel == "whatsapp"
                )
            ).all()
        )
        detail = conn.execute(
            select(delivery_reports.c.detail).where(delivery_reports.c.effect == "undeliverable")
        ).scalar_one()
    assert flags[gone_contact] is False and detail == "meta_131026"


def test_free_text_waits_for_the_window_the_persons_message_opens(
    configured: Candor, clock: ManualClock, meta: FakeMeta
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        contact = add_contact(conn, cx, phone=OK)
        closed = enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp", key="closed")
    assert dispatch_due(cx) == 0
    assert outbox_row(cx, closed)["error"] == "outside_service_window"
    with serve(create_app(cx)) as candor_url:
        assert meta.inbound(OK.lstrip("+"), "Hallo", candor_url, secret="wrong").status_code == 403
        answer = meta.inbound(OK.lstrip("+"), "Hallo", candor_url)
        assert answer.json()["messages"] == 1
    clock.advance(timedelta(hours=23))
    with cx.engine.begin() as conn:
        inside = enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp", key="inside")
    assert dispatch_due(cx) == 1
    (message,) = meta.messages
    assert message.json["type"] == "text"
    assert message.json["text"]["body"] == "Events in DE! Reply STOP to opt out."
    assert outbox_row(cx, inside)["status"] == "sent"


def test_stop_on_whatsapp_blocks_and_the_challenge_is_answered_only_for_our_token(
    configured: Candor, meta: FakeMeta
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, phone=OK)
    with serve(create_app(cx)) as candor_url:
        assert meta.inbound(OK.lstrip("+"), "STOP", candor_url).status_code == 200
        ask = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
        good = httpx.get(
            f"{candor_url}/hooks/meta/whatsapp",
            params={**ask, "hub.verify_token": meta.verify_token},
        )
        bad = httpx.get(
            f"{candor_url}/hooks/meta/whatsapp", params={**ask, "hub.verify_token": "x"}
        )
    assert (good.status_code, good.text) == (200, "1158201444")
    assert bad.status_code == 403
    with cx.engine.connect() as conn:
        (block,) = list_blocks(conn, alice, cx.vault)
    assert (block["channel"], block["source"]) == ("whatsapp", "keyword")
