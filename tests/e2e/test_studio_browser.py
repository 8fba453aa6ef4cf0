"""The studio in Chromium beyond the campaign: keyboard alone, YAML upload and download,
stop with confirmation, and axe-core on every team and customer page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from candor.channels.content import ContentSource
from candor.channels.links import preferences_token, unsubscribe_token
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch
from candor.journeys.runtime.audiences import Audience, save_audience
from candor.journeys.runtime.model import journey_row
from candor.journeys.runtime.template_library import save_content
from candor.rights.requests import NewRequest, open_subject_request
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests
from candor.web import create_app
from tests.journeys.runtime.helpers import add_contact, consent

from .browser_support import chromium, missing_browser, serve
from .team_login import Member, log_in, team_member

if missing_browser() is None:
    from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)

ROOT = Path(__file__).parents[2]
AXE = ROOT / "tests" / "e2e" / "vendor" / "axe.min.js"
WELCOME = ROOT / "examples" / "journeys" / "welcome.yaml"


@dataclass
class World:
    cx: Candor
    base: str
    browser: Any

    def page(self, width: int = 1280, *, bypass_csp: bool = False) -> Any:
        context = self.browser.new_context(
            viewport={"width": width, "height": 900}, bypass_csp=bypass_csp, accept_downloads=True
        )
        context.set_default_timeout(15_000)
        return context.new_page()

    def member(self, role: str) -> Member:
        return team_member(self.cx, role)


@pytest.fixture
def world(configured: Candor, cheap_passwords: None) -> Iterator[World]:
    with serve(create_app(configured)) as base, chromium() as browser:
        yield World(configured, base, browser)


def _seed(cx: Candor) -> dict[str, str]:
    """A journey that ran, a template, an audience, a request: every page has content."""
    people = [add_contact(cx, n, attributes={"country": "DE"}) for n in range(1, 4)]
    for person in people:
        consent(cx, person, "newsletter", channel="email")
    now = cx.clock.now()
    launch(cx, load_journey(WELCOME.read_text()), actor="test")
    with cx.engine.begin() as conn:
        save_content(
            conn,
            ContentSource.model_validate(
                {"id": "spring", "languages": {"en": {"sms": {"text": "Hi. Reply STOP"}}}}
            ),
            actor="test",
            at=now,
        )
        save_audience(
            conn,
            Audience.model_validate({"id": "all_de", "name": "All of DE", "purpose": "events"}),
            actor="test",
            at=now,
        )
        open_subject_request(
            conn, cx.vault, NewRequest(type="access", email="person1@example.com"), at=now
        )
        token = conn.execute(select(dsr_requests.c.verification_token)).scalar()
    key = cx.vault.signing_key
    return {
        "preferences": preferences_token(key, contact_id=people[0], issued_at=now),
        "unsubscribe": unsubscribe_token(
            key,
            contact_id=people[0],
            purpose_id="newsletter",
            theme=None,
            channel="email",
            address_id=None,
            outbox_id=None,
            issued_at=now,
        ),
        "contact": str(people[0]),
        "verify": str(token or "unknown"),
    }


def _axe_problems(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(found)


def test_axe_finds_no_serious_or_critical_violation_on_any_page(world: World) -> None:
    seeded = _seed(world.cx)
    customer = [
        f"/preferences/{seeded['preferences']}",
        f"/u/{seeded['unsubscribe']}",
        "/requests",
        f"/requests/verify/{seeded['verify']}",
        "/team/login",
    ]
    team = [
        "/team/mission-control",
        "/team/journeys",
        "/team/journeys/welcome_series",
        "/team/journeys/welcome_series/edit",
        "/team/journeys/new",
        "/team/journeys/welcome_series/report",
        "/team/content",
        "/team/content/new",
        "/team/content/spring",
        "/team/audiences",
        "/team/audiences/all_de",
        "/team/contacts",
        f"/team/contacts/{seeded['contact']}",
        "/team/requests",
    ]
    page = world.page(bypass_csp=True)  # axe is injected as a script of the test's own
    problems = {}
    for path in customer:
        page.goto(world.base + path)
        problems[path] = _axe_problems(page)
    log_in(page, world.base, world.member("admin"))
    for path in team:
        page.goto(world.base + path)
        page.wait_for_load_state("networkidle")
        problems[path] = _axe_problems(page)
    assert {path: found for path, found in problems.items() if found} == {}


def test_the_designer_works_by_keyboard_alone(world: World) -> None:
    page = world.page()
    log_in(page, world.base, world.member("marketer"))
    page.goto(f"{world.base}/team/journeys/new")
    page.get_by_label("Journey id").focus()
    page.keyboard.type("by_keys")
    page.keyboard.press("Tab")
    page.keyboard.type("Typed with keys")
    for kind, step_id in (("wait", "pause"), ("end", "finish")):
        page.get_by_role("button", name="Add step").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_label("Step type")).to_be_focused()
        page.get_by_label("Step type").select_option(kind)  # a select changes with arrow keys
        page.keyboard.press("Tab")
        page.keyboard.type(step_id)
        page.keyboard.press("Enter")
        expect(page.locator("#step-h")).to_be_focused()
    page.get_by_role("button", name="Move finish up").focus()
    page.keyboard.press("Enter")
    items = page.locator("#step-list > li")
    expect(items.first).to_contain_text("finish")
    expect(page.get_by_role("button", name="Move finish down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(items.first).to_contain_text("pause")
    page.get_by_role("button", name="pause", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.locator("#step-h")).to_be_focused()
    page.keyboard.press("Tab")  # the step id
    page.keyboard.press("Tab")  # the first setting: the duration
    page.keyboard.type("P2D")
    page.get_by_role("button", name="Save draft").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Saved as version 1.")
    with reading(world.cx.engine) as conn:
        stored = journey_row(conn, "by_keys")["definition"]
    assert [s["id"] for s in stored["steps"]] == ["pause", "finish"]
    assert stored["steps"][0]["duration"] == "P2D"


def test_upload_download_launch_and_stop_with_confirmation(world: World, tmp_path: Path) -> None:
    for n in range(1, 4):
        add_contact(world.cx, n)
    page = world.page()
    log_in(page, world.base, world.member("marketer"))
    page.goto(f"{world.base}/team/journeys/new")
    page.locator("#upload-file").set_input_files(str(WELCOME))
    expect(page.locator("#status")).to_have_text("Loaded welcome.yaml: 5 steps.")
    expect(page.get_by_label("Name", exact=True)).to_have_value(
        "Welcome series for DACH newsletter subscribers"
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Download YAML").click()
    saved = tmp_path / "downloaded.yaml"
    download.value.save_as(saved)
    assert yaml.safe_load(saved.read_text()) == load_journey(WELCOME.read_text()).dump()
    page.get_by_role("button", name="Launch").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("3 people would enter it.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.locator("#status")).to_have_text("Launch cancelled.")
    page.get_by_role("button", name="Launch").click()
    dialog.get_by_role("button", name="Launch to 3 people").click()
    expect(page.locator("#status")).to_have_text("Launched: 3 people entered.")
    page.get_by_role("button", name="Stop").click()
    expect(dialog).to_contain_text("3 people in it now will leave it.")
    dialog.get_by_role("button", name="Stop for 3 people").click()
    expect(page.locator("#status")).to_contain_text("Stopped")
    phone = world.page(width=390)
    log_in(phone, world.base, world.member("marketer"))
    phone.goto(f"{world.base}/team/journeys/welcome_series/edit")
    expect(phone.get_by_role("button", name="Download YAML")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
