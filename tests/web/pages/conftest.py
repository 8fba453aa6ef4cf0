"""Page tests: a TestClient over the configured product, a known person, and team logins."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from candor.accounts.api_keys import ROLES, create_api_key
from candor.channels.links import preferences_token
from candor.core.context import Candor
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.engine import reading
from candor.store.tables import consent_events
from candor.web import create_app
from tests.conftest import add_member_with_password

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


BOX = re.compile(r'name="box" value="([^"]+)"[^>]*?(checked)?\s*data-box', re.S)


def ticked(html: str) -> set[str]:
    """The preference boxes a page shows ticked."""
    return {m.group(1) for m in BOX.finditer(html) if m.group(2)}


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found, "no csrf field on the page"
    return found.group(1)


PASSWORD = "correct horse battery staple"


def email_of(role: str) -> str:
    return f"{role}@team.example"


@dataclass
class Site:
    """The app in a TestClient, the product behind it, API keys and a member per role, and
    one person."""

    client: TestClient
    cx: Candor
    keys: dict[str, str]
    contact_id: int
    members: dict[str, int]

    def pref_token(self, contact_id: int | None = None) -> str:
        return preferences_token(
            self.cx.vault.signing_key,
            contact_id=contact_id or self.contact_id,
            issued_at=self.cx.clock.now(),
        )

    def login(self, role: str, password: str = PASSWORD) -> TestClient:
        """A fresh client logged in as the member with `role` through the login form."""
        client = TestClient(self.client.app, base_url="http://testserver")
        answer = self.try_login(client, email_of(role), password)
        assert answer.status_code == 303, answer.text
        return client

    def try_login(self, client: TestClient, email: str, password: str) -> httpx.Response:
        page = client.get("/team/login")
        return client.post(
            "/team/login",
            data={"csrf": csrf_of(page.text), "email": email, "password": password},
            follow_redirects=False,
        )

    def events(self, contact_id: int | None = None) -> list[Any]:
        with reading(self.cx.engine) as conn:
            return list(
                conn.execute(
                    select(consent_events)
                    .where(consent_events.c.contact_id == (contact_id or self.contact_id))
                    .order_by(consent_events.c.id)
                ).mappings()
            )

    def post_form(
        self, client: TestClient | httpx.Client, path: str, data: dict[str, Any], **kw: Any
    ) -> httpx.Response:
        """GET the page, then POST `data` with its CSRF token."""
        page = client.get(kw.pop("form_path", path), headers=kw.get("headers", {}))
        return client.post(path, data={"csrf": csrf_of(page.text), **data}, **kw)


def make_person(cx: Candor, email: str = "person@example.org", phone: str | None = None) -> int:
    items = [NewAddress("email", email)] + ([NewAddress("sms", phone)] if phone else [])
    with cx.engine.begin() as conn:
        return create_contact(
            conn,
            cx.vault,
            NewContact(first_name="Pat", last_name="Person", addresses=items),
            actor="test",
            at=cx.clock.now(),
        )


@pytest.fixture
def site(configured: Candor, cheap_passwords: None) -> Iterator[Site]:
    keys, members = {}, {}
    with configured.engine.begin() as conn:
        for role in ROLES:
            keys[role] = create_api_key(
                conn, role, f"{role} key", actor="test", at=configured.clock.now()
            )
    for role in ROLES:
        name = f"{role.title()} Member"
        members[role] = add_member_with_password(
            configured, email_of(role), role, PASSWORD, name=name
        )
    contact_id = make_person(configured, phone="+49 151 23456789")
    app = create_app(configured)
    with TestClient(app) as client:
        yield Site(client, configured, keys, contact_id, members)
