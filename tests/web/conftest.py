"""The admin API under test: a TestClient over the configured product, one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from candor.accounts.api_keys import ROLES, create_api_key
from candor.core.context import Candor
from candor.store.engine import reading
from candor.store.tables import metadata
from candor.web import create_app

ALICE: dict[str, Any] = {
    "external_id": "shop-1",
    "first_name": "Alice",
    "last_name": "Example",
    "addresses": [
        {"channel": "email", "value": "Alice@Example.com"},
        {"channel": "sms", "value": "+49 151 23456789"},
    ],
    "attributes": {"country": "DE", "vip": True},
    "language": "de",
    "timezone": "Europe/Berlin",
}


@dataclass
class Api:
    """HTTP calls as one of the roles (admin unless told otherwise)."""

    client: TestClient
    cx: Candor
    keys: dict[str, str]

    def call(self, method: str, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.keys[role]}"
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.call("GET", path, role, **kw)

    def post(self, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.call("POST", path, role, **kw)

    def patch(self, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.call("PATCH", path, role, **kw)

    def delete(self, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        return self.call("DELETE", path, role, **kw)

    def create_contact(
        self, body: dict[str, Any] | None = None, role: str = "admin"
    ) -> dict[str, Any]:
        response = self.post("/api/v1/contacts", role, json=body or ALICE)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    def decide(self, contact: int, purpose: str, **params: Any) -> dict[str, Any]:
        response = self.get(
            "/api/v1/decide", params={"contact": contact, "purpose": purpose, **params}
        )
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def row_counts(self) -> dict[str, int]:
        """Rows per table: a request that fails must leave every count as it was."""
        with reading(self.cx.engine) as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in metadata.sorted_tables
            }


def fields(response: httpx.Response) -> list[str]:
    """The fields named by an error answer (and a check of its one shape)."""
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for err in body["errors"]:
        assert set(err) == {"field", "problem"}, err
    return [err["field"] for err in body["errors"]]


@pytest.fixture
def api(configured: Candor) -> Iterator[Api]:
    keys = {}
    with configured.engine.begin() as conn:
        for role in ROLES:
            keys[role] = create_api_key(
                conn, role, f"test {role}", actor="test", at=configured.clock.now()
            )
    with TestClient(create_app(configured)) as client:
        yield Api(client, configured, keys)
