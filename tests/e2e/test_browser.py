"""The pages in a real browser: Debian's Chromium, driven by playwright, against uvicorn.

Skipped (with the reason) only where /usr/bin/chromium or the playwright package is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from candor.accounts.api_keys import create_api_key
from candor.channels.links import preferences_token, unsubscribe_token
from candor.core.context import Candor
from candor.ledger.consents import ConsentInput, consent_history, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests
from candor.store.tables import consent_events
from candor.web import create_app
from tests.conftest import add_member_with_password

from .browser_support import chromium, missing_browser, serve

PASSWORD = "correct horse battery staple"

if missing_browser() is None:
    from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)


class World:
    """The served app, its product, an admin key and one known person."""

    def __init__(self, cx: Candor, base: str, browser: Any) -> None:
        self.cx, self.base, self.browser = cx, base, browser
        now = cx.clock.now()
        with cx.engine.begin() as conn:
            self.key = create_api_key(conn, "admin", "browser", actor="test", at=now)
            self.contact = create_contact(
                conn,
                cx.vault,
                NewContact(
                    first_name="Pat",
                    last_name="Person",
                    addresses=[NewAddress("email", "pat@example.org")],
                ),
                actor="test",
                at=now,
            )

    def page(self, width: int = 1100) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
        return context.new_page()

    def events(self) -> list[dict[str, Any]]:
        with reading(self.cx.engine) as conn:
            return consent_history(conn, self.cx.vault, self.contact)

    def grant(self, purpose: str, channel: str) -> str | None:
        with self.cx.engine.begin() as conn:
            recorded = record_consent(
                conn,
                self.cx.vault,
                self.contact,
                ConsentInput(purpose=purpose, status="granted", source="form", channel=channel),
                actor="test",
                at=self.cx.clock.now(),
            )
        return recorded.confirmation_token


@pytest.fixture
def world(configured: Candor, cheap_passwords: None) -> Iterator[World]:
    add_member_with_password(configured, "admin@team.example", "admin", PASSWORD)
    app = create_app(configured)
    with serve(app) as base, chromium() as browser:
        yield World(configured, base, browser)


def test_preference_center_round_trip(world: World) -> None:
    token = preferences_token(
        world.cx.vault.signing_key, contact_id=world.contact, issued_at=world.cx.clock.now()
    )
    page = world.page()
    page.goto(f"{world.base}/preferences/{token}")
    assert page.locator("html").get_attribute("lang") == "en"
    box = page.locator("#b-events--email")
    assert not box.is_checked()  # privacy by default
    box.focus()
    page.keyboard.press("Space")  # keyboard alone is enough
    assert box.is_checked()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_selector("#notice")
    assert page.locator("#b-events--email").is_checked()
    (event,) = world.events()
    assert (event["purpose"], event["status"], event["channel"]) == ("events", "granted", "email")
    assert event["evidence"]["page"] == "preferences"
    assert "Chrome" in event["evidence"]["user_agent"]
    assert event["evidence"]["wording_version"] == 1
    page.locator("#b-events--email").uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.wait_for_selector("#notice")
    assert not page.locator("#b-events--email").is_checked()
    assert [e["status"] for e in world.events()] == ["granted", "withdrawn"]
    # Every checkbox has a label; German through the switch; a phone-sized screen fits.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input[type=checkbox]')]"
        ".filter(i => !i.labels || i.labels.length === 0).length"
    )
    assert unlabelled == 0
    page.get_by_role("link", name="Deutsch").click()
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.get_by_role("button", name="Auswahl speichern").is_visible()
    phone = world.page(width=375)
    phone.goto(f"{world.base}/preferences/{token}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert phone.get_by_role("button", name="Save my choices").is_visible()


def test_double_opt_in_confirmation(world: World) -> None:
    token = world.grant("newsletter", "email")
    assert token
    page = world.page()
    page.goto(f"{world.base}/confirm/{token}")
    assert [e["status"] for e in world.events()] == ["pending"]  # opening confirms nothing
    page.get_by_role("button", name="Yes, confirm").click()
    page.get_by_text("your subscription is confirmed").wait_for()
    events = world.events()
    assert [e["status"] for e in events] == ["pending", "confirmed"]
    assert events[1]["evidence"]["page"] == "confirm"


def test_unsubscribe_page(world: World) -> None:
    world.grant("events", "email")
    token = unsubscribe_token(
        world.cx.vault.signing_key,
        contact_id=world.contact,
        purpose_id="events",
        theme=None,
        channel="email",
        address_id=None,
        outbox_id=None,
        issued_at=world.cx.clock.now(),
    )
    page = world.page()
    page.goto(f"{world.base}/u/{token}")
    assert [e["status"] for e in world.events()] == ["granted"]  # GET shows, never unsubscribes
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_text("You are unsubscribed").wait_for()
    assert [e["status"] for e in world.events()] == ["granted", "withdrawn"]


def test_request_form_with_verification(world: World) -> None:
    page = world.page()
    page.goto(f"{world.base}/requests")
    page.get_by_label("Send me a copy of my data").check()
    page.get_by_label("Your e-mail address").fill("pat@example.org")
    page.get_by_role("button", name="Send request").click()
    page.get_by_text("we have sent a confirmation link").wait_for()
    with reading(world.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).mappings().one()
    assert row["status"] == "verifying"
    page.goto(f"{world.base}/requests/verify/{row['verification_token']}")
    page.get_by_role("button", name="Yes, I made this request").click()
    page.get_by_text("your request is confirmed").wait_for()
    with reading(world.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).mappings().one()
    assert row["verified_at"] is not None and row["status"] == "fulfilled"


def test_mission_control_updates_live_without_reload(world: World) -> None:
    page = world.page()
    page.goto(f"{world.base}/team/login")
    page.get_by_label("E-mail").fill("admin@team.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/team/mission-control")
    cell = page.locator('[data-fig="purposes/events/not_asked"]')
    assert cell.inner_text() == "1"
    page.wait_for_selector(".live.on")  # the event stream is connected
    page.evaluate("window.__sameDocument = true")
    answer = httpx.post(
        f"{world.base}/api/v1/contacts/{world.contact}/consents",
        json={"purpose": "events", "status": "granted", "source": "api", "channel": "email"},
        headers={"Authorization": f"Bearer {world.key}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    expect(cell).to_have_text("0", timeout=15000)  # pushed over SSE, set by the page script
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    with reading(world.cx.engine) as conn:
        assert conn.execute(select(consent_events.c.status)).scalar() == "granted"
