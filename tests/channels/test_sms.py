"""SMS/WhatsApp over a real HTTP provider on 127.0.0.1, and delivery receipt parsing."""

from __future__ import annotations

import logging

import httpx
import pytest

from candor.channels.mailsink import free_port
from candor.channels.sms import (
    DeliveryReceipt,
    HttpProviderTransport,
    OutgoingSms,
    parse_delivery_receipt,
)

from .conftest import Provider

OK_NUMBER = "+4915112345678"
BAD_REQUEST_NUMBER = "+4915112345679"
DOWN_NUMBER = "+4915112345670"
THROTTLED_NUMBER = "+4915112345671"


def sms(n: int, to: str = OK_NUMBER) -> OutgoingSms:
    return OutgoingSms(to=to, text=f"Sale {n}. Reply STOP to opt out", message_id=f"msg-{n}")


def test_posts_json_with_bearer_token(provider: Provider) -> None:
    with HttpProviderTransport("whatsapp", provider.url, "key-123") as transport:
        results = transport.send([sms(1)])
    assert [(r.message_id, r.ok) for r in results] == [("msg-1", True)]
    [request] = provider.requests
    assert request.path == "/v1/messages"
    assert request.headers["Authorization"] == "Bearer key-123"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "to": OK_NUMBER,
        "text": "Sale 1. Reply STOP to opt out",
        "channel": "whatsapp",
        "message_id": "msg-1",
    }


def test_status_codes_map_to_ok_permanent_temporary(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="candor")
    provider.status_for = {BAD_REQUEST_NUMBER: 400, DOWN_NUMBER: 500, THROTTLED_NUMBER: 429}
    batch = [
        sms(1),
        sms(2, BAD_REQUEST_NUMBER),
        sms(3, DOWN_NUMBER),
        sms(4, THROTTLED_NUMBER),
        sms(5),
    ]
    with HttpProviderTransport("sms", provider.url, "key") as transport:
        results = transport.send(batch)
    assert [(r.message_id, r.ok, r.permanent, r.error) for r in results] == [
        ("msg-1", True, False, None),
        ("msg-2", False, True, "http_400"),
        ("msg-3", False, False, "http_500"),
        ("msg-4", False, False, "http_429"),
        ("msg-5", True, False, None),
    ]
    assert len(provider.requests) == 5
    assert {r.body["channel"] for r in provider.requests} == {"sms"}
    logged = caplog.text
    assert "msg-2" in logged
    assert "+49151" not in logged  # numbers are never logged


def test_invalid_number_fails_permanently_without_a_request(provider: Provider) -> None:
    with HttpProviderTransport("sms", provider.url, "key") as transport:
        results = transport.send([sms(1, "0151 1234"), sms(2, "+1")])
    assert [(r.ok, r.permanent, r.error) for r in results] == [(False, True, "invalid_number")] * 2
    assert provider.requests == []


def test_unreachable_provider_is_a_temporary_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/send"
    with HttpProviderTransport("sms", url, "key", timeout=2) as transport:
        [result] = transport.send([sms(1)])
    assert (result.ok, result.permanent, result.error) == (False, False, "transport_error")


def test_shared_client_is_not_closed_by_the_transport(provider: Provider) -> None:
    client = httpx.Client(timeout=5)
    HttpProviderTransport("sms", provider.url, "key", client=client).close()
    assert not client.is_closed
    client.close()
    with pytest.raises(ValueError):
        HttpProviderTransport("post", provider.url, "key")  # type: ignore[arg-type]


def test_parse_delivery_receipt_accepts_valid_payloads() -> None:
    receipt = parse_delivery_receipt(
        {"message_id": "msg-1", "status": "undeliverable", "error": "unknown_subscriber", "x": 1}
    )
    assert receipt == DeliveryReceipt(
        message_id="msg-1", status="undeliverable", error="unknown_subscriber"
    )
    assert receipt.permanent
    delivered = parse_delivery_receipt({"message_id": "msg-2", "status": "delivered"})
    assert delivered.error is None
    assert not delivered.permanent


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "delivered"}, "message_id"),
        ({"message_id": "", "status": "delivered"}, "message_id"),
        ({"message_id": "m", "status": "read"}, "status"),
        ({"message_id": "m"}, "status"),
        ({"message_id": "m", "status": "failed", "error": 5}, "error"),
    ],
)
def test_parse_delivery_receipt_names_the_bad_field(payload: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"invalid delivery receipt: {field}") as info:
        parse_delivery_receipt(payload)
    assert info.value.__cause__ is None


def test_parse_delivery_receipt_does_not_echo_values() -> None:
    with pytest.raises(ValueError) as info:
        parse_delivery_receipt({"message_id": "m", "status": "+4915112345678"})
    assert "+4915112345678" not in str(info.value)
    with pytest.raises(ValueError, match="JSON object"):
        parse_delivery_receipt(["not", "a", "dict"])  # type: ignore[arg-type]
