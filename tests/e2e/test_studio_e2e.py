"""A marketer runs a campaign end to end in the browser, never touching YAML: writes the
message in the content library, builds an audience and watches its live count, designs the
journey from nothing, simulates, launches; the mail sink receives exactly the people the gate
allows, the SMS provider the VIPs among them, and the report shows what was sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.journeys.runtime import default_dispatch, run_until_idle
from candor.store.engine import reading
from candor.store.tables import audit_log, contacts
from candor.web import create_app
from tests.channels.conftest import Provider, provider  # noqa: F401 (a fixture)
from tests.channels.test_dispatch_support import SMS_KEY, SMS_KEY_ENV, configure_channels
from tests.journeys.runtime.helpers import add_contact, block, consent

from .browser_support import chromium, missing_browser, serve
from .team_login import Member, log_in, team_member

if missing_browser() is None:
    from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)

MJML = """<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{ first_name }}, spring events are coming to {{ country }}.</mj-text>
<mj-text><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>"""
SMS_TEXT = "Spring events in {{ country }}! Reply STOP to opt out."
ALLOWED = range(1, 7)  # granted events by every channel; 1 and 2 are VIPs, 2 reads German
VIPS = (1, 2)


@dataclass
class Studio:
    cx: Candor
    base: str
    browser: Any
    sink: MailSink
    provider: Provider
    marketer: Member
    people: dict[int, int]

    def page(self, width: int = 1280) -> Any:
        context = self.browser.new_context(viewport={"width": width, "height": 1000})
        context.set_default_timeout(15_000)
        return context.new_page()


def _population(cx: Candor) -> dict[int, int]:
    """Six allowed Germans, one who withdrew, one blocked for events, one Austrian, and two
    Germans nobody asked."""
    people = {}
    for n in range(1, 12):
        country = "AT" if n == 9 else "DE"
        attributes = {"country": country, "vip": n in VIPS}
        people[n] = add_contact(cx, n, sms=True, attributes=attributes)
    for n in [*ALLOWED, 7, 8, 9]:
        consent(cx, people[n], "events")
    consent(cx, people[7], "events", status="withdrawn")
    block(cx, people[8], theme="events")
    with cx.engine.begin() as conn:
        conn.execute(update(contacts).where(contacts.c.id == people[2]).values(language="de"))
    return people


@pytest.fixture
def studio(
    configured: Candor,
    provider: Provider,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
    cheap_passwords: None,
) -> Iterator[Studio]:
    monkeypatch.setenv(SMS_KEY_ENV, SMS_KEY)
    people = _population(configured)
    marketer = team_member(configured, "marketer", "Mia Marketer")
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(configured, smtp_port=sink.port, sms_url=provider.url)
        with serve(create_app(configured)) as base, chromium() as browser:
            yield Studio(configured, base, browser, sink, provider, marketer, people)


def write_the_message(s: Studio, page: Any) -> None:
    page.goto(f"{s.base}/team/content")
    page.get_by_role("button", name="New template").click()
    page.wait_for_url("**/team/content/new*")
    page.get_by_label("Template id").fill("spring")
    page.get_by_label("SMS", exact=True).check()
    page.get_by_label("Subject").fill("Spring events for {{ first_name }}")
    page.get_by_label("Body (MJML)").fill(MJML)
    page.get_by_label("SMS text").fill(SMS_TEXT)
    expect(page.locator("#sms-count")).to_contain_text("GSM-7")
    expect(page.locator("#sms-count")).to_contain_text("1 segment")
    expect(page.locator("#lint-summary")).to_have_text("No findings: ready to use.")
    page.get_by_label("New language").fill("de")
    page.get_by_role("button", name="Add language").click()
    page.get_by_label("Subject").fill("Frühlingsevents für {{ first_name }}")
    page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator('iframe[name="preview-phone"]')
    expect(frame.get_by_text("Hello Alex, spring events are coming to")).to_be_visible()
    expect(page.locator("#preview-text")).to_contain_text("Frühlingsevents für Alex")
    page.get_by_label("Send test to").fill("me@agency.example")
    page.get_by_label("Test channel").select_option("email")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#status")).to_have_text("Test sent by E-mail.")
    (test_mail,) = s.sink.messages()
    assert (test_mail["To"], test_mail["Subject"]) == (
        "me@agency.example",
        "[Test] Frühlingsevents für Alex",
    )
    s.sink.clear()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_have_text("Saved template spring (email, sms).")


def build_the_audience(s: Studio, page: Any) -> None:
    page.goto(f"{s.base}/team/audiences")
    page.get_by_label("Audience name").fill("Germans we asked")
    page.get_by_role("button", name="Add condition").click()
    row = page.locator(".filter-builder li.condition").first
    row.get_by_label("Field").select_option("country")
    row.get_by_label("Operator").select_option("eq")
    row.get_by_label("Value").fill("DE")
    page.get_by_role("button", name="Add gate condition").click()
    gate = page.get_by_role("group", name="Gate condition")
    gate.get_by_label("Purpose").select_option("events")
    gate.get_by_label("Gate says").select_option("not_asked")
    gate.get_by_label("Not").check()
    count_for = page.locator("fieldset", has_text="Count who may be reached for")
    count_for.get_by_label("Purpose").select_option("events")
    count_for.get_by_label("Channel").select_option("email")
    count_for.get_by_label("Theme").select_option("events")
    live = page.get_by_role("status").filter(has_text="may be reached")
    expect(live).to_contain_text("6 of 8 may be reached by email about events for events.")
    expect(live).to_contain_text("withdrawn: 1")
    expect(live).to_contain_text("blocked:theme: 1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#status")).to_contain_text("Saved as audience germans_we_asked")


def add_step(page: Any, kind: str, step_id: str) -> None:
    page.get_by_role("button", name="Add step").click()
    dialog = page.get_by_role("dialog", name="Add a step")
    dialog.get_by_label("Step type").select_option(kind)
    dialog.get_by_label("Step id").fill(step_id)
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#step-h")).to_have_text(f"Step {step_id} ({kind})")


def edit_step(page: Any, step_id: str) -> Any:
    page.locator("#step-list").get_by_role("button", name=step_id, exact=True).click()
    return page.locator("#step-editor")


def design_the_journey(s: Studio, page: Any) -> None:
    page.goto(f"{s.base}/team/journeys")
    page.get_by_role("button", name="New journey").click()
    page.wait_for_url("**/team/journeys/new*")
    page.get_by_label("Journey id").fill("spring_invite")
    page.get_by_label("Name", exact=True).fill("Spring invitation")
    page.get_by_label("Purpose").select_option("events")
    for name in ("country", "vip", "first_name"):
        page.get_by_label(name, exact=True).check()
    page.get_by_label("Who enters").select_option("audience")
    page.get_by_label("Audience").select_option("germans_we_asked")
    page.get_by_label("Ends at").fill("2027-12-31")
    for kind, step_id in [
        ("consent", "gate"),
        ("send", "mail"),
        ("wait", "pause"),
        ("branch", "vip_check"),
        ("send", "sms"),
        ("end", "done"),
    ]:
        add_step(page, kind, step_id)
    gate = edit_step(page, "gate")
    gate.get_by_label("Template", exact=True).select_option("spring")
    gate.get_by_label("Theme", exact=True).select_option("events")
    gate.get_by_label("On Refused").select_option("done")
    gate.get_by_label("On Timeout").select_option("done")
    mail = edit_step(page, "mail")
    mail.get_by_label("Template", exact=True).select_option("spring")
    mail.get_by_label("Theme", exact=True).select_option("events")
    mail.get_by_label("On Denied").select_option("done")
    branch = edit_step(page, "vip_check")
    branch.get_by_role("button", name="Add condition").click()
    branch.get_by_label("Field").select_option("vip")
    branch.get_by_label("Operator").select_option("eq")
    branch.get_by_label("Value").fill("true")
    branch.get_by_label("Then go to").select_option("sms")
    branch.get_by_label("Default").select_option("done")
    sms = edit_step(page, "sms")
    sms.get_by_label("Channel", exact=True).select_option("sms")
    sms.get_by_label("Template", exact=True).select_option("spring")
    sms.get_by_label("Theme", exact=True).select_option("events")
    sms.get_by_label("On Denied").select_option("done")
    expect(page.locator("#step-list")).to_contain_text("vip_check branch; leads to: case 1 → sms")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#status")).to_contain_text("no errors")
    expect(page.locator("#problem-summary")).to_have_text("No problems found.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#status")).to_have_text("Saved as version 1.")


def simulate_and_launch(page: Any) -> None:
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("#status")).to_have_text("Simulated: 8 people would enter now.")
    page.get_by_role("button", name="Launch").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Launch “Spring invitation” now? 8 people would enter it.")
    dialog.get_by_role("button", name="Launch to 8 people").click()
    expect(page.locator("#status")).to_have_text("Launched: 8 people entered.")
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    expect(page.get_by_role("button", name="Save draft")).to_be_disabled()


def test_a_marketer_runs_a_campaign_end_to_end_in_the_browser(studio: Studio) -> None:
    s = studio
    page = s.page()
    log_in(page, s.base, s.marketer)
    write_the_message(s, page)
    build_the_audience(s, page)
    design_the_journey(s, page)
    simulate_and_launch(page)

    run_until_idle(s.cx, default_dispatch())
    mails = {m["To"]: m["Subject"] for m in s.sink.messages()}
    assert set(mails) == {f"person{n}@example.com" for n in ALLOWED}
    assert mails["person2@example.com"] == "Frühlingsevents für Name2"  # the contact's language
    assert mails["person1@example.com"] == "Spring events for Name1"
    assert s.provider.requests == []
    s.cx.clock.advance(timedelta(days=1, minutes=1))  # type: ignore[attr-defined]
    run_until_idle(s.cx, default_dispatch())
    assert sorted(r.body["to"] for r in s.provider.requests) == [
        f"+4915123456{n:03d}" for n in VIPS
    ]
    assert {r.body["text"] for r in s.provider.requests} == {
        "Spring events in DE! Reply STOP to opt out."
    }
    assert len(s.sink.messages()) == len(ALLOWED)  # nobody got a second e-mail

    log_in(page, s.base, s.marketer)  # a day later: the session has expired
    page.goto(f"{s.base}/team/journeys/spring_invite/report")
    steps = [r.get_attribute("data-step") for r in page.locator("#step-table tbody tr").all()]
    assert steps == ["gate", "mail", "pause", "vip_check", "sms", "done"]
    mail_row = page.locator('tr[data-step="mail"]')
    expect(mail_row.locator('[data-figure="sent"]')).to_have_text("6")
    expect(mail_row.locator('[data-figure="delivered"]')).to_have_text("6")
    expect(page.locator('tr[data-step="gate"] [data-figure="entered"]')).to_have_text("8")
    expect(page.locator('tr[data-step="sms"] [data-figure="sent"]')).to_have_text("<5")
    csv = page.request.get(f"{s.base}/team/journeys/spring_invite/report.csv").text()
    assert "\nstep,mail,send,6,6,6,0,0,0,0," in csv
    assert "\nstep,sms,send,<5,<5,<5,0,0,0,0," in csv

    with reading(s.cx.engine) as conn:
        actions = set(conn.execute(select(audit_log.c.actor, audit_log.c.action)).all())
    actor = s.marketer.actor
    for action in (
        "template.put",
        "template.send_test",
        "audience.save",
        "journey.save",
        "journey.launch",
    ):
        assert (actor, action) in actions, action
