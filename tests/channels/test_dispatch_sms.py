"""SMS and WhatsApp dispatch through a real HTTP provider on 127.0.0.1: 200, 400, 500, back-off."""

from __future__ import annotations

from datetime import timedelta

import pytest

from candor.channels.compose import outbox_id_of
from candor.channels.dispatch import dispatch_due
from candor.channels.inbound import receive_inbound
from candor.core.clock import ManualClock
from candor.core.context import Candor
from tests.channels.conftest import Provider
from tests.channels.test_dispatch_support import (
    SMS_KEY,
    SMS_KEY_ENV,
    add_contact,
    configure_channels,
    enqueue,
    outbox_row,
)

OK, BAD, DOWN = "+4915123456780", "+4915123456781", "+4915123456782"


def test_sms_provider_answers_decide_sent_failed_and_retried_with_backoff(
    configured: Candor, clock: ManualClock, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    configure_channels(cx, sms_url=provider.url)
    provider.status_for = {BAD: 400, DOWN: 500}
    with cx.engine.begin() as conn:
        rows = {}
        for number in (OK, BAD, DOWN):
            contact = add_contact(conn, cx, phone=number)
            rows[number] = enqueue(conn, contact, at=cx.clock.now(), channel="sms")

    assert dispatch_due(cx) == 1
    sent = outbox_row(cx, rows[OK])
    assert sent["status"] == "sent" and outbox_id_of(sent["message_id"]) == rows[OK]
    assert outbox_row(cx, rows[BAD])["status"] == "failed"
    assert outbox_row(cx, rows[BAD])["error"] == "http_400"
    retry = outbox_row(cx, rows[DOWN])
    assert (retry["status"], retry["error"], retry["attempts"]) == ("queued", "http_500", 1)
    assert retry["next_attempt_at"] == cx.clock.now() + timedelta(seconds=60)

    first = provider.requests[0]
    assert first.headers["Authorization"] == f"Bearer {SMS_KEY}"
    assert first.body["text"] == "Events in DE! Reply STOP to opt out."
    assert first.body["message_id"] == sent["message_id"]

    assert dispatch_due(cx) == 0  # not due yet: nothing is sent before the back-off ends
    assert len(provider.requests) == 3
    clock.advance(timedelta(seconds=61))
    assert dispatch_due(cx) == 0  # still down: the second back-off doubles
    retry = outbox_row(cx, rows[DOWN])
    assert retry["attempts"] == 2
    assert retry["next_attempt_at"] == cx.clock.now() + timedelta(seconds=120)

    provider.status_for = {}
    clock.advance(timedelta(seconds=121))
    assert dispatch_due(cx) == 1
    done = outbox_row(cx, rows[DOWN])
    assert (done["status"], done["attempts"], done["error"]) == ("sent", 3, None)


def test_retries_end_in_failure_after_max_attempts(
    configured: Candor, clock: ManualClock, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    configure_channels(cx, sms_url=provider.url, dispatch={"max_attempts": 2, "backoff_seconds": 1})
    provider.status_for = {DOWN: 503}
    with cx.engine.begin() as conn:
        row_id = enqueue(conn, add_contact(conn, cx, phone=DOWN), at=cx.clock.now(), channel="sms")
    for _ in range(3):
        dispatch_due(cx)
        clock.advance(timedelta(seconds=10))
    row = outbox_row(cx, row_id)
    assert (row["status"], row["attempts"], row["error"]) == ("failed", 2, "http_503")
    assert len(provider.requests) == 2


def test_whatsapp_goes_to_its_own_provider_with_the_channel_named(
    configured: Candor, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    configure_channels(cx, whatsapp_url=provider.url)
    with cx.engine.begin() as conn:
        contact = add_contact(conn, cx, phone=OK)
        # The person wrote first: free text may go out within the 24-hour window.
        receive_inbound(conn, cx.vault, "whatsapp", OK, "hi", at=cx.clock.now())
        enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp")
        enqueue(conn, contact, at=cx.clock.now(), channel="sms")  # no sms provider: stays queued
    assert dispatch_due(cx) == 1
    (request,) = provider.requests
    assert request.body["channel"] == "whatsapp" and request.body["to"] == OK
    assert "template" not in request.body


def test_free_text_whatsapp_outside_the_window_fails_and_is_never_sent(
    configured: Candor, clock: ManualClock, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    configure_channels(cx, whatsapp_url=provider.url)
    with cx.engine.begin() as conn:
        contact = add_contact(conn, cx, phone=OK)
        never_wrote = enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp")
    assert dispatch_due(cx) == 0
    row = outbox_row(cx, never_wrote)
    assert (row["status"], row["error"]) == ("failed", "outside_service_window")

    with cx.engine.begin() as conn:
        receive_inbound(conn, cx.vault, "whatsapp", OK, "hello", at=cx.clock.now())
    clock.advance(timedelta(hours=24, seconds=1))
    with cx.engine.begin() as conn:
        too_late = enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp", key="late")
    assert dispatch_due(cx) == 0
    assert outbox_row(cx, too_late)["error"] == "outside_service_window"
    assert provider.requests == []
