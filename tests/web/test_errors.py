"""Bad input: a 4xx in the one error shape, the field named, nothing changed, nothing echoed."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ALICE, Api, fields

SECRET = "secret.person@example.com"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"attributes": {"shoe_size": 42}}, "attributes.shoe_size"),
        ({"attributes": {"birth_year": "nineteen"}}, "attributes.birth_year"),
        ({"attributes": {"vip": "perhaps"}}, "attributes.vip"),
        ({"attributes": ["country"]}, "attributes"),
        ({"addresses": [{"channel": "email", "value": "secret.person@"}]}, "addresses[0].value"),
        (
            {
                "addresses": [
                    {"channel": "email", "value": SECRET},
                    {"channel": "sms", "value": "12"},
                ]
            },
            "addresses[1].value",
        ),
        ({"addresses": [{"channel": "fax", "value": SECRET}]}, "addresses[0].channel"),
        ({"addresses": [{"channel": "email"}]}, "addresses[0].value"),
        (
            {"addresses": [{"channel": "email", "value": SECRET, "primary": True}]},
            "addresses[0].primary",
        ),
        ({"addresses": "secret.person@example.com"}, "addresses"),
        ({"first_name": 42}, "first_name"),
        ({"first_name": ["A"]}, "first_name"),
        ({"external_id": 7}, "external_id"),
        ({"nickname": "Al"}, "nickname"),
        ({"language": "not a language"}, "language"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"external_id": "x\x00y"}, "external_id"),
    ],
)
def test_bad_contact_input(api: Api, change: dict[str, Any], field: str) -> None:
    before = api.row_counts()
    response = api.post("/api/v1/contacts", json={**ALICE, **change})
    assert response.status_code == 422, response.text
    assert field in fields(response)
    assert "secret.person" not in response.text
    assert api.row_counts() == before


@pytest.mark.parametrize(
    "body",
    [
        b'{"first_name": "Alice",',
        b"not json",
        b'{"first_name": "secret.person@example.com"',
        b"",
        b"[1, 2]",
    ],
)
def test_malformed_json_names_body(api: Api, body: bytes) -> None:
    before = api.row_counts()
    response = api.post(
        "/api/v1/contacts", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert fields(response) == ["body"]
    assert "secret.person" not in response.text
    assert api.row_counts() == before


def test_address_of_another_contact(api: Api) -> None:
    alice = api.create_contact()["id"]
    bob = {"first_name": "Bob", "addresses": [{"channel": "email", "value": "alice@example.com"}]}
    before = api.row_counts()
    response = api.post("/api/v1/contacts", json=bob)
    assert response.status_code == 409
    assert fields(response) == ["addresses"]
    assert "alice@example.com" not in response.text

    bob_id = api.create_contact({"first_name": "Bob"})["id"]
    before = api.row_counts()
    taken = api.patch(
        f"/api/v1/contacts/{bob_id}",
        json={"addresses": [{"channel": "email", "value": "alice@example.com"}]},
    )
    assert taken.status_code == 409
    assert fields(taken) == ["addresses"]
    # Consent for an address the contact does not hold.
    consent = api.post(
        f"/api/v1/contacts/{bob_id}/consents",
        json={
            "purpose": "events",
            "status": "granted",
            "source": "api",
            "channel": "email",
            "address": "alice@example.com",
        },
    )
    assert consent.status_code == 422
    assert fields(consent) == ["address"]
    assert "alice@example.com" not in consent.text
    assert api.row_counts() == before
    assert (
        api.get(f"/api/v1/contacts/{alice}").json()["addresses"][0]["value"] == "alice@example.com"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "telepathy"}, "purpose"),
        ({"theme": "gossip"}, "theme"),
        ({"channel": "pigeon"}, "channel"),
        ({"status": "pending"}, "status"),
        ({"status": "confirmed"}, "status"),
        ({"source": ""}, "source"),
        ({"source": "x" * 33}, "source"),
        ({"evidence": "yes"}, "evidence"),
        ({"communication_id": "one"}, "communication_id"),
        ({"communication_id": 10**30}, "communication_id"),
        ({"occurred_at": "2026-03-01T10:00:00"}, "occurred_at"),
        ({"occurred_at": "2030-01-01T00:00:00Z"}, "occurred_at"),
        ({"address": SECRET}, "channel"),
        ({"channel": "email", "address": "secret.person@"}, "address"),
        ({"purpose": None}, "purpose"),
        ({"whatever": 1}, "whatever"),
    ],
)
def test_bad_consent_input(api: Api, change: dict[str, Any], field: str) -> None:
    alice = api.create_contact()["id"]
    before = api.row_counts()
    body = {"purpose": "newsletter", "status": "granted", "source": "api", **change}
    response = api.post(f"/api/v1/contacts/{alice}/consents", json=body)
    assert response.status_code == 422, response.text
    assert fields(response) == [field]
    assert "secret.person" not in response.text
    assert api.row_counts() == before


def test_bad_patch_input(api: Api) -> None:
    alice = api.create_contact()["id"]
    before = api.row_counts()
    for body, field in (
        ({"external_id": "other"}, "external_id"),
        ({"attributes": {"shoe_size": 1}}, "attributes.shoe_size"),
        ({"addresses": None}, "addresses"),
        ({"attributes": None}, "attributes"),
        (
            {"last_name": "Ok", "addresses": [{"channel": "sms", "value": "secret.person"}]},
            "addresses[0].value",
        ),
    ):
        response = api.patch(f"/api/v1/contacts/{alice}", json=body)
        assert response.status_code == 422, response.text
        assert fields(response) == [field]
    assert api.row_counts() == before
    assert api.get(f"/api/v1/contacts/{alice}").json()["last_name"] == "Example"


@pytest.mark.parametrize(
    "path", ["/api/v1/contacts/abc", "/api/v1/contacts/0", f"/api/v1/contacts/{10**30}"]
)
def test_bad_ids_are_422(api: Api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 422
    assert fields(response) == ["contact_id"]


def test_unknown_route_and_method_use_the_same_shape(api: Api) -> None:
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert fields(missing) == ["path"]
    wrong = api.call("PUT", "/api/v1/purposes")
    assert wrong.status_code == 405
    assert fields(wrong) == ["method"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/contacts", {"first_name": "A\x00", "attributes": {"country": "D\x00E"}}),
        ("POST", "/api/v1/contacts", {"attributes": {"birth_year": 10**40}}),
        ("POST", "/api/v1/contacts", {"attributes": {"customer_value": "NaN"}}),
        ("POST", "/api/v1/contacts", {"attributes": {"last_order": "2026-13-45"}}),
        (
            "POST",
            "/api/v1/contacts",
            {"addresses": [{"channel": "post", "value": "Main St\x00 1"}]},
        ),
        ("POST", "/api/v1/contacts", {"addresses": [{"channel": "sms", "value": "+" + "9" * 300}]}),
        ("POST", "/api/v1/contacts", {"external_id": "e" * 129}),
        ("POST", "/api/v1/contacts/search", {"email": "a\x00@example.com"}),
        ("POST", "/api/v1/contacts/search", {"phone": "\x00"}),
        ("POST", "/api/v1/consents/confirm", {"token": "a\x00.b"}),
        ("POST", "/api/v1/consents/confirm", {"token": "x" * 5000}),
        ("GET", "/api/v1/decide?contact=1&purpose=a%00b", None),
        ("GET", "/api/v1/contacts?email=a%00b", None),
        ("DELETE", "/api/v1/blocks/1?reason=a%00b", None),
    ],
)
def test_odd_input_is_never_a_server_error(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    api.create_contact()
    response = api.call(method, path, json=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        fields(response)


def test_unexpected_errors_answer_500_without_detail_or_personal_data(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from candor.web import api_contacts

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"driver failure, parameters: {SECRET}")

    monkeypatch.setattr(api_contacts, "read_contact", broken)
    with caplog.at_level("ERROR", logger="candor.web"):
        response = api.get("/api/v1/contacts/1")
    assert response.status_code == 500
    assert response.json() == {"errors": [{"field": "", "problem": "internal error"}]}
    assert "RuntimeError" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in response.text
