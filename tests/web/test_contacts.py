"""Contacts end to end: create, read, find, rectify (with encrypted history)."""

from __future__ import annotations

from sqlalchemy import select

from candor.store.engine import reading
from candor.store.tables import contacts, rectifications

from .conftest import ALICE, Api, fields


def test_create_and_get_contact(api: Api) -> None:
    created = api.create_contact()
    assert created["first_name"] == "Alice"
    assert created["last_name"] == "Example"
    assert created["external_id"] == "shop-1"
    assert [(a["channel"], a["value"]) for a in created["addresses"]] == [
        ("email", "alice@example.com"),
        ("sms", "+4915123456789"),
    ]
    assert created["attributes"] == {"country": "DE", "vip": True}
    assert created["language"] == "de"
    assert created["timezone"] == "Europe/Berlin"

    fetched = api.get(f"/api/v1/contacts/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_find_by_email_and_phone(api: Api) -> None:
    created = api.create_contact()
    by_email = api.get("/api/v1/contacts", params={"email": "ALICE@example.com"})
    assert by_email.status_code == 200
    assert [c["id"] for c in by_email.json()["items"]] == [created["id"]]

    by_phone = api.get("/api/v1/contacts", params={"phone": "015123456789"})
    assert [c["id"] for c in by_phone.json()["items"]] == [created["id"]]

    by_post = api.post("/api/v1/contacts/search", json={"email": "alice@example.com"})
    assert [c["id"] for c in by_post.json()["items"]] == [created["id"]]

    missing = api.get("/api/v1/contacts", params={"email": "nobody@example.com"})
    assert missing.status_code == 200
    assert missing.json() == {"items": []}


def test_phone_lookup_matches_whatsapp(api: Api) -> None:
    body = {"first_name": "Bob", "addresses": [{"channel": "whatsapp", "value": "+4917612345678"}]}
    created = api.create_contact(body)
    found = api.get("/api/v1/contacts", params={"phone": "+49 176 12345678"})
    assert [c["id"] for c in found.json()["items"]] == [created["id"]]


def test_lookup_needs_a_parameter(api: Api) -> None:
    response = api.get("/api/v1/contacts")
    assert response.status_code == 422
    assert fields(response) == ["email"]
    bad = api.get("/api/v1/contacts", params={"email": "not-an-email"})
    assert bad.status_code == 422
    assert fields(bad) == ["email"]
    assert "not-an-email" not in bad.text


def test_patch_rectifies_and_keeps_encrypted_history(api: Api) -> None:
    created = api.create_contact()
    response = api.patch(
        f"/api/v1/contacts/{created['id']}",
        json={
            "last_name": "Newname",
            "attributes": {"country": "AT"},
            "addresses": [{"channel": "whatsapp", "value": "+4917612345678"}],
            "language": "en",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["last_name"] == "Newname"
    assert body["first_name"] == "Alice"
    assert body["attributes"] == {"country": "AT", "vip": True}
    assert body["language"] == "en"
    assert body["timezone"] == "Europe/Berlin"
    assert sorted(body["changed"]) == sorted(
        ["last_name", "attributes.country", "addresses.whatsapp", "language"]
    )
    assert "+4917612345678" in [a["value"] for a in body["addresses"]]

    with reading(api.cx.engine) as conn:
        rows = (
            conn.execute(select(rectifications).where(rectifications.c.contact_id == created["id"]))
            .mappings()
            .all()
        )
    by_field = {r["field"]: r for r in rows}
    assert set(by_field) == {"last_name", "attributes.country", "addresses.whatsapp"}
    assert all(r["actor"].startswith("key:") for r in rows)
    name_row = by_field["last_name"]
    assert name_row["old_value"] is not None and name_row["new_value"] is not None
    for r in rows:
        for blob in (r["old_value"], r["new_value"]):
            if blob is None:
                continue
            for plain in (b"Example", b"Newname", b"AT", b"DE", b"4917612345678"):
                assert plain not in bytes(blob)
    # The history decrypts under the contact's own key.
    key_id = _key_id(api, created["id"])
    old = api.cx.vault.decrypt(key_id, "rect:last_name", name_row["old_value"])
    new = api.cx.vault.decrypt(key_id, "rect:last_name", name_row["new_value"])
    assert (old, new) == (b'"Example"', b'"Newname"')


def _key_id(api: Api, contact_id: int) -> str:
    with reading(api.cx.engine) as conn:
        return str(
            conn.execute(select(contacts.c.key_id).where(contacts.c.id == contact_id)).scalar_one()
        )


def test_patch_nothing_changes_nothing(api: Api) -> None:
    created = api.create_contact()
    response = api.patch(f"/api/v1/contacts/{created['id']}", json={"first_name": "Alice"})
    assert response.status_code == 200
    assert response.json()["changed"] == []


def test_unknown_contact_is_404(api: Api) -> None:
    for response in (
        api.get("/api/v1/contacts/999"),
        api.patch("/api/v1/contacts/999", json={"first_name": "X"}),
        api.get("/api/v1/contacts/999/consents"),
        api.get("/api/v1/contacts/999/blocks"),
        api.get("/api/v1/contacts/999/communications"),
        api.post(
            "/api/v1/contacts/999/consents",
            json={"purpose": "newsletter", "status": "granted", "source": "api"},
        ),
        api.post("/api/v1/contacts/999/blocks", json={"reason": "asked"}),
        api.post(
            "/api/v1/contacts/999/communications", json={"channel": "email", "direction": "in"}
        ),
    ):
        assert response.status_code == 404, response.text
        assert fields(response) == ["contact"]


def test_duplicate_external_id_conflicts(api: Api) -> None:
    api.create_contact()
    before = api.row_counts()
    again = {**ALICE, "addresses": []}
    response = api.post("/api/v1/contacts", json=again)
    assert response.status_code == 409
    assert fields(response) == ["external_id"]
    assert api.row_counts() == before


def test_communications(api: Api) -> None:
    contact = api.create_contact()
    path = f"/api/v1/contacts/{contact['id']}/communications"
    response = api.post(
        path,
        json={
            "channel": "email",
            "direction": "out",
            "address": "alice@example.com",
            "theme": "weekly",
            "purpose": "newsletter",
            "content_ref": "newsletter-2026-03",
        },
    )
    assert response.status_code == 201, response.text
    comm_id = response.json()["id"]
    listed = api.get(path).json()["items"]
    assert [c["id"] for c in listed] == [comm_id]
    assert listed[0]["direction"] == "out"
    assert listed[0]["address_id"] == contact["addresses"][0]["id"]

    before = api.row_counts()
    for body, field in (
        ({"channel": "fax", "direction": "out"}, "channel"),
        ({"channel": "email", "direction": "sideways"}, "direction"),
        ({"channel": "email", "direction": "in", "purpose": "nope"}, "purpose"),
        ({"channel": "email", "direction": "in", "theme": "nope"}, "theme"),
        ({"channel": "email", "direction": "in", "address": "other@example.com"}, "address"),
    ):
        bad = api.post(path, json=body)
        assert bad.status_code == 422, bad.text
        assert fields(bad) == [field]
    assert api.row_counts() == before


def test_patch_with_an_address_already_held_records_nothing(api: Api) -> None:
    created = api.create_contact()
    own = {"channel": "email", "value": "ALICE@example.com"}
    response = api.patch(f"/api/v1/contacts/{created['id']}", json={"addresses": [own]})
    assert response.status_code == 200
    assert response.json()["changed"] == []
    with reading(api.cx.engine) as conn:
        assert conn.execute(select(rectifications)).first() is None

    bad = api.patch(
        f"/api/v1/contacts/{created['id']}",
        json={"addresses": [own, {"channel": "email", "value": "nope@"}]},
    )
    assert bad.status_code == 422
    assert fields(bad) == ["addresses[1].value"]

    # The same number on another channel is a new address.
    whatsapp = {"channel": "whatsapp", "value": "+4915123456789"}
    added = api.patch(f"/api/v1/contacts/{created['id']}", json={"addresses": [own, whatsapp]})
    assert added.json()["changed"] == ["addresses.whatsapp"]


def test_an_email_at_the_top_level_is_refused_with_the_expected_shape(api: Api) -> None:
    before = api.row_counts()
    response = api.post("/api/v1/contacts", json={"email": "ann@example.org"})
    assert response.status_code == 422
    assert fields(response) == ["email"]
    problem = response.json()["errors"][0]["problem"]
    assert "this body takes external_id, first_name, last_name, addresses" in problem
    assert '{"addresses": [{"channel": "email", "value": "ann@example.org"}]}' in problem
    assert api.row_counts() == before
