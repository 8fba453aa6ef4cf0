"""Purposes and themes over the API, validated and applied like candor.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api, fields

PURPOSE = {
    "id": "surveys",
    "name": "Customer surveys",
    "kind": "marketing",
    "legal_basis": "consent",
    "dpv": "dpv:CustomerCare",
    "wording": "Ask me for my opinion now and then.",
    "double_opt_in": ["email"],
    "consent_valid_for": "P1Y",
}


def test_list_purposes_and_themes(api: Api) -> None:
    purposes = api.get("/api/v1/purposes").json()["items"]
    assert {p["id"] for p in purposes} == {
        "newsletter",
        "events",
        "soft_optin",
        "profiling",
        "engagement",
        "service",
    }
    themes = api.get("/api/v1/themes").json()["items"]
    assert {"id": "weekly", "name": "Weekly newsletter", "group": "newsletters"} in themes


def test_post_purpose_creates_then_versions(api: Api) -> None:
    created = api.post("/api/v1/purposes", json=PURPOSE)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["outcome"] == "created"
    assert body["version"] == 1
    assert body["double_opt_in"] == ["email"]

    same = api.post("/api/v1/purposes", json=PURPOSE)
    assert same.status_code == 200
    assert same.json()["outcome"] == "unchanged"

    reworded = api.post(
        "/api/v1/purposes", json={**PURPOSE, "wording": "Ask me, rarely.", "reconsent": True}
    )
    assert reworded.status_code == 200
    assert reworded.json()["outcome"] == "new_version"
    assert reworded.json()["version"] == 2
    assert [v["wording"] for v in reworded.json()["versions"]] == [
        PURPOSE["wording"],
        "Ask me, rarely.",
    ]

    alice = api.create_contact()["id"]
    assert api.decide(alice, "surveys", channel="email")["reason"] == "not_asked"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "spam"}, "kind"),
        ({"legal_basis": "contract"}, "legal_basis"),
        ({"id": "Not An Id"}, "id"),
        ({"consent_valid_for": "two years"}, "consent_valid_for"),
        ({"double_opt_in": ["fax"]}, "double_opt_in[0]"),
        ({"wording": ""}, "wording"),
        ({"extra": 1}, "extra"),
        ({"name": "a\x00b"}, "body"),
        ({"dpv": "d" * 200}, "body"),
    ],
)
def test_bad_purpose(api: Api, change: dict[str, Any], field: str) -> None:
    before = api.row_counts()
    response = api.post("/api/v1/purposes", json={**PURPOSE, **change})
    assert response.status_code == 422, response.text
    assert fields(response) == [field]
    assert api.row_counts() == before


def test_themes(api: Api) -> None:
    created = api.post(
        "/api/v1/themes", json={"id": "webinars", "name": "Webinars", "group": "events_group"}
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": "webinars",
        "name": "Webinars",
        "group": "events_group",
        "outcome": "created",
    }
    renamed = api.post(
        "/api/v1/themes", json={"id": "webinars", "name": "Online events", "group": "events_group"}
    )
    assert renamed.status_code == 200
    assert renamed.json()["outcome"] == "updated"

    before = api.row_counts()
    for body, field in (
        ({"id": "x", "name": "X", "group": "weekly"}, "group"),
        ({"id": "newsletters", "name": "Clash"}, "id"),
        ({"id": "x", "name": ""}, "name"),
        ({"id": "x"}, "name"),
    ):
        response = api.post("/api/v1/themes", json=body)
        assert response.status_code == 422, response.text
        assert fields(response) == [field]
    assert api.row_counts() == before
