"""Who may do what: keys, roles, and what marketers never see."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ALICE, Api, fields


def test_health_needs_no_key(api: Api) -> None:
    response = api.get("/api/v1/health", role=None)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cnd_not-a-real-key"},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_unknown_key_is_401(api: Api, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/api/v1/purposes"), ("POST", "/api/v1/contacts")):
        response = api.call(method, path, role=None, headers=headers, json=ALICE)
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert fields(response) == ["authorization"]
    assert api.row_counts()["contacts"] == 0


def test_revoked_key_is_401(api: Api) -> None:
    from sqlalchemy import update

    from candor.store.tables import api_keys

    with api.cx.engine.begin() as conn:
        conn.execute(
            update(api_keys).where(api_keys.c.role == "dpo").values(revoked_at=api.cx.clock.now())
        )
    assert api.get("/api/v1/purposes", role="dpo").status_code == 401
    assert api.get("/api/v1/purposes", role="admin").status_code == 200


def test_marketer_never_sees_identifying_data(api: Api) -> None:
    created = api.create_contact(role="marketer")
    assert created["first_name"] is None and created["last_name"] is None
    assert all(a["value"] is None for a in created["addresses"])
    assert created["attributes"] == {"country": "DE", "vip": True}
    cid = created["id"]

    # The data is stored all the same: the DPO sees it.
    dpo_view = api.get(f"/api/v1/contacts/{cid}", role="dpo").json()
    assert dpo_view["first_name"] == "Alice"
    assert dpo_view["addresses"][0]["value"] == "alice@example.com"

    marketer_view = api.get(f"/api/v1/contacts/{cid}", role="marketer")
    assert marketer_view.status_code == 200
    assert "Alice" not in marketer_view.text and "alice@example.com" not in marketer_view.text
    found = api.get(
        "/api/v1/contacts", role="marketer", params={"email": "alice@example.com"}
    ).json()
    assert found["items"][0]["first_name"] is None
    assert found["items"][0]["addresses"][0]["value"] is None

    evidence = {"ip": "203.0.113.7", "user_agent": "Browser"}
    recorded = api.post(
        f"/api/v1/contacts/{cid}/consents",
        role="marketer",
        json={"purpose": "newsletter", "status": "granted", "source": "form", "evidence": evidence},
    )
    assert recorded.status_code == 201
    assert recorded.json()["evidence"] is None
    assert recorded.json()["confirmation_token"]
    history = api.get(f"/api/v1/contacts/{cid}/consents", role="marketer").json()["items"]
    assert [e["evidence"] for e in history] == [None]
    assert (
        api.get(f"/api/v1/contacts/{cid}/consents", role="dpo").json()["items"][0]["evidence"]
        == evidence
    )

    patched = api.patch(f"/api/v1/contacts/{cid}", role="marketer", json={"first_name": "Alicia"})
    assert patched.status_code == 200
    assert patched.json()["first_name"] is None
    assert patched.json()["changed"] == ["first_name"]

    blocked = api.post(f"/api/v1/contacts/{cid}/blocks", role="marketer", json={"reason": "asked"})
    assert blocked.status_code == 201


def _writes(cid: int, block_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("POST", "/api/v1/contacts", {**ALICE, "external_id": "x2", "addresses": []}),
        ("PATCH", f"/api/v1/contacts/{cid}", {"first_name": "Eve"}),
        (
            "POST",
            f"/api/v1/contacts/{cid}/consents",
            {"purpose": "events", "status": "granted", "source": "api"},
        ),
        ("POST", "/api/v1/consents/confirm", {"token": "x.y"}),
        ("POST", f"/api/v1/contacts/{cid}/blocks", {"reason": "asked"}),
        ("DELETE", f"/api/v1/blocks/{block_id}", None),
        ("POST", f"/api/v1/contacts/{cid}/communications", {"channel": "email", "direction": "in"}),
        (
            "POST",
            "/api/v1/purposes",
            {"id": "p2", "name": "P", "kind": "service", "legal_basis": "contract", "wording": "W"},
        ),
        ("POST", "/api/v1/themes", {"id": "t2", "name": "T"}),
    ]


def test_auditor_reads_but_never_writes(api: Api) -> None:
    cid = api.create_contact()["id"]
    block_id = api.post(f"/api/v1/contacts/{cid}/blocks", json={"reason": "asked"}).json()["id"]
    before = api.row_counts()
    for method, path, body in _writes(cid, block_id):
        response = api.call(method, path, role="auditor", json=body)
        assert response.status_code == 403, (method, path, response.text)
        assert fields(response) == ["authorization"]
    assert api.row_counts() == before

    for path in (
        f"/api/v1/contacts/{cid}",
        f"/api/v1/contacts/{cid}/consents",
        f"/api/v1/contacts/{cid}/blocks",
        f"/api/v1/contacts/{cid}/communications",
        "/api/v1/purposes",
        "/api/v1/themes",
        f"/api/v1/decide?contact={cid}&purpose=events",
    ):
        assert api.get(path, role="auditor").status_code == 200, path


@pytest.mark.parametrize("role", ["marketer", "dpo"])
def test_registry_writes_need_admin(api: Api, role: str) -> None:
    purpose = {
        "id": "p2",
        "name": "P",
        "kind": "service",
        "legal_basis": "contract",
        "wording": "W",
    }
    assert api.post("/api/v1/purposes", role=role, json=purpose).status_code == 403
    assert api.post("/api/v1/themes", role=role, json={"id": "t2", "name": "T"}).status_code == 403
    assert api.get("/api/v1/purposes", role=role).status_code == 200
    assert api.post("/api/v1/purposes", role="admin", json=purpose).status_code == 201


def test_dpo_writes(api: Api) -> None:
    created = api.create_contact(role="dpo")
    assert created["first_name"] == "Alice"


def test_malformed_body_without_key_is_401_not_422(api: Api) -> None:
    response = api.post(
        "/api/v1/contacts",
        role=None,
        content=b'{"first_name":',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
