"""The decision endpoint: parameters checked, contact looked up, decide() answered."""

from __future__ import annotations

from .conftest import Api, fields


def test_decide_defaults(api: Api) -> None:
    alice = api.create_contact()["id"]
    assert api.decide(alice, "newsletter", channel="email") == {
        "allowed": False,
        "reason": "not_asked",
        "basis": None,
        "event": None,
    }
    assert api.decide(alice, "soft_optin", channel="email") == {
        "allowed": True,
        "reason": "allowed",
        "basis": "legitimate_interest",
        "event": None,
    }
    assert api.decide(alice, "service", channel="whatsapp")["reason"] == "undeliverable"
    assert (
        api.decide(alice, "service", channel="sms", address="+49 151 23456789")["allowed"] is True
    )


def test_decide_errors(api: Api) -> None:
    alice = api.create_contact()["id"]
    for params, status, field in (
        ({"contact": 999, "purpose": "events"}, 404, "contact"),
        (
            {"contact": 999, "purpose": "events", "channel": "email", "address": "a@example.com"},
            404,
            "contact",
        ),
        ({"contact": alice, "purpose": "telepathy"}, 422, "purpose"),
        ({"contact": alice, "purpose": "events", "theme": "gossip"}, 422, "theme"),
        ({"contact": alice, "purpose": "events", "theme": "newsletters"}, 422, "theme"),
        ({"contact": alice, "purpose": "events", "channel": "pigeon"}, 422, "channel"),
        ({"contact": alice, "purpose": "events", "address": "alice@example.com"}, 422, "channel"),
        (
            {"contact": alice, "purpose": "events", "channel": "email", "address": "x@example.com"},
            422,
            "address",
        ),
        ({"contact": "abc", "purpose": "events"}, 422, "contact"),
        ({"purpose": "events"}, 422, "contact"),
        ({"contact": alice}, 422, "purpose"),
    ):
        response = api.get("/api/v1/decide", params=params)
        assert response.status_code == status, (params, response.text)
        assert fields(response) == [field], params
        assert "example.com" not in response.text
