"""The team's side in Chromium: an admin adds a DPO and a marketer, each sets a password from
the one-time link and logs in; the marketer sees pseudonymous lists only; the DPO records a
consent from a phone call, lifts a block, rectifies an address, restricts and lifts, erases a
person and sees the certificate. Sessions end at once; ten wrong passwords lock the login.
axe-core finds no serious or critical violation on the team pages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from candor.core.context import Candor
from candor.ledger.blocks import list_blocks, set_block
from candor.ledger.consents import consent_history
from candor.ledger.contacts import NewAddress, NewContact, create_contact, read_contact
from candor.store.engine import reading
from candor.store.rights_tables import erasure_certificates
from candor.store.tables import contacts
from candor.web import create_app
from tests.conftest import add_member_with_password

from .browser_support import chromium, missing_browser, serious_violations, serve

if missing_browser() is None:
    from playwright.sync_api import expect

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)
ADMIN_PASSWORD = "the admin's long passphrase"
WORDING = "Ja, laden Sie mich zu Ihren Veranstaltungen ein, auch per SMS."


class Team:
    """The served app with an admin, one person with a block, and a crowd to list."""

    def __init__(self, cx: Candor, base: str, browser: Any) -> None:
        self.cx, self.base, self.browser = cx, base, browser
        self.admin = add_member_with_password(
            cx, "ada@team.example", "admin", ADMIN_PASSWORD, "Ada Admin"
        )
        now = cx.clock.now()
        with cx.engine.begin() as conn:
            self.person = create_contact(
                conn,
                cx.vault,
                NewContact(
                    first_name="Jürgen",
                    last_name="Groß-Übermaß",
                    addresses=[
                        NewAddress("email", "juergen.gross@example.org"),
                        NewAddress("sms", "+49 151 23456789"),
                    ],
                    attributes={"country": "DE"},
                ),
                actor="test",
                at=now,
            )
            self.block = set_block(
                conn,
                cx.vault,
                self.person,
                reason="asked in a reply",
                source="email",
                actor="test",
                at=now,
            )
        self.audits: list[str] = []

    def page(self, width: int = 1280) -> Any:
        """A fresh browser (its own cookies) whose pages axe can be injected into."""
        context = self.browser.new_context(
            viewport={"width": width, "height": 900}, locale="en-GB", bypass_csp=True
        )
        return context.new_page()

    def log_in(self, page: Any, email: str, password: str) -> None:
        page.goto(f"{self.base}/team/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/team/mission-control")

    def check_axe(self, page: Any, name: str) -> None:
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        found = serious_violations(page)
        assert found == [], f"{name}: {found}"
        self.audits.append(name)

    def add_member(self, admin: Any, email: str, name: str, role: str) -> str:
        admin.goto(f"{self.base}/team/members")
        admin.locator("#new-email").fill(email)
        admin.locator("#new-name").fill(name)
        admin.locator("#new-role").select_option(role)
        admin.get_by_role("button", name="Add and show the link").click()
        link = admin.locator("[data-link]")
        expect(link).to_contain_text("/team/set-password/")
        return str(link.inner_text()).strip()

    def set_password(self, page: Any, link: str, password: str) -> None:
        page.goto(link)
        self.check_axe(page, "set password")
        page.locator("#password").fill(password)
        page.locator("#repeat").fill(password)
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("status")).to_contain_text("Your password is set")


@pytest.fixture
def team(configured: Candor, cheap_passwords: None) -> Iterator[Team]:
    app = create_app(configured)
    with serve(app) as base, chromium() as browser:
        yield Team(configured, base, browser)


def _record(team: Team, page: Any) -> None:
    page.goto(f"{team.base}/team/contacts/{team.person}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jürgen Groß-Übermaß")


def test_an_admin_adds_a_dpo_and_a_marketer_and_the_dpo_handles_a_person(team: Team) -> None:
    admin = team.page()
    team.log_in(admin, "ada@team.example", ADMIN_PASSWORD)
    dpo_link = team.add_member(admin, "dora@team.example", "Dora Datenschutz", "dpo")
    team.check_axe(admin, "team page with a new link")
    marketer_link = team.add_member(admin, "max@team.example", "Max Marketing", "marketer")
    assert dpo_link != marketer_link
    admin.goto(f"{team.base}/team/account")
    team.check_axe(admin, "account")

    marketer = team.page(390)
    team.set_password(marketer, marketer_link, "marketing passphrase 2026")
    team.log_in(marketer, "max@team.example", "marketing passphrase 2026")
    marketer.get_by_role("link", name="Contacts").click()
    expect(marketer.get_by_text("pseudonymous: your role sees no names")).to_be_visible()
    expect(marketer.get_by_text(f"Contact #{team.person}")).to_be_visible()
    listed = marketer.content()
    for secret in ("Jürgen", "Groß", "juergen.gross", "+49151"):
        assert secret not in listed
    team.check_axe(marketer, "contacts list (marketer, phone width)")
    refused = marketer.goto(f"{team.base}/team/contacts/{team.person}")
    assert refused is not None and refused.status == 403

    dpo = team.page()
    team.set_password(dpo, dpo_link, "privacy passphrase 2026")
    team.log_in(dpo, "dora@team.example", "privacy passphrase 2026")
    dpo.get_by_role("link", name="Contacts").click()
    expect(dpo.get_by_role("link", name="Jürgen Groß-Übermaß")).to_be_visible()
    team.check_axe(dpo, "contacts list (dpo)")
    dpo.get_by_role("link", name="Jürgen Groß-Übermaß").click()
    team.check_axe(dpo, "contact record with its actions")
    dpo.reload()

    # A consent taken on the phone: the ledger event names the member and the call.
    dpo.locator("#consent-form summary").click()
    dpo.locator("#c-purpose").select_option("events")
    dpo.locator("#c-status").select_option("granted")
    dpo.locator("#c-how").select_option("phone")
    dpo.locator("#c-wording").fill(WORDING)
    dpo.get_by_role("button", name="Record", exact=True).click()
    expect(dpo.get_by_role("status")).to_have_text("Consent event recorded.")
    with reading(team.cx.engine) as conn:
        event = consent_history(conn, team.cx.vault, team.person)[-1]
        dora = event["evidence"]["recorded_by_member"]
    assert (event["status"], event["source"]) == ("granted", "phone")
    assert event["evidence"]["recorded_by"] == "Dora Datenschutz" and dora.startswith("member:")
    assert event["evidence"]["how"] == "phone call" and event["evidence"]["wording"] == WORDING
    assert event["evidence"]["declared_at"].startswith("2026-03-02T09:00")

    # Lift the block the person had asked for.
    dpo.get_by_text(f"Lift block #{team.block}").click()
    dpo.locator(f"#l{team.block}-reason").fill("asked to hear from us again")
    dpo.locator(f"#l{team.block}-wording").fill("Sie dürfen mir wieder schreiben.")
    dpo.get_by_role("button", name="Lift block").click()
    expect(dpo.get_by_role("status")).to_have_text("Block lifted.")
    with reading(team.cx.engine) as conn:
        (block,) = list_blocks(conn, team.person, team.cx.vault)
    assert block["lifted"]["evidence"]["recorded_by_member"] == dora

    # Rectify the e-mail address: the same address row, the right value.
    with reading(team.cx.engine) as conn:
        email = next(
            a
            for a in read_contact(conn, team.cx.vault, team.person)["addresses"]
            if a["channel"] == "email"
        )
    dpo.locator("#rectify-form summary").click()
    dpo.locator("#r-address").select_option(str(email["id"]))
    dpo.locator("#r-value").fill("juergen.gross@example.com")
    dpo.get_by_role("button", name="Rectify", exact=True).click()
    expect(dpo.get_by_role("status")).to_have_text("Record rectified.")
    expect(dpo.locator("li", has_text="email: juergen.gross@example.com")).to_be_visible()

    # Restrict, then lift the restriction.
    dpo.get_by_role("button", name="Restrict processing").click()
    expect(dpo.get_by_role("status")).to_have_text("Processing restricted.")
    expect(dpo.locator("code", has_text="restricted").first).to_be_visible()
    dpo.get_by_role("button", name="Lift the restriction").click()
    expect(dpo.get_by_role("status")).to_have_text("Restriction lifted.")
    with reading(team.cx.engine) as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == team.person)).one()
    assert row.restricted_at is None

    dpo.get_by_role("link", name="Requests").click()
    team.check_axe(dpo, "request queue")

    # Erase, and see the certificate.
    _record(team, dpo)
    dpo.locator("#erase-form summary").click()
    dpo.get_by_label("Erase everywhere now; this cannot be undone").check()
    dpo.get_by_role("button", name="Erase", exact=True).click()
    expect(dpo.get_by_role("heading", level=1)).to_have_text(f"Contact {team.person} was erased")
    expect(dpo.get_by_text("Erasure certificate #")).to_be_visible()
    assert "Jürgen" not in dpo.content()
    team.check_axe(dpo, "erasure certificate")
    with reading(team.cx.engine) as conn:
        certificate = conn.execute(select(erasure_certificates)).one()
    assert certificate.actor == dora and certificate.body["key"]["destroyed"] is True
    assert len(team.audits) == 9


def test_sessions_end_at_once_and_ten_wrong_passwords_lock_the_login(team: Team) -> None:
    add_member_with_password(team.cx, "dora@team.example", "dpo", "privacy passphrase 2026")
    dpo = team.page()
    team.log_in(dpo, "dora@team.example", "privacy passphrase 2026")
    old = dpo.context.cookies()
    dpo.get_by_role("button", name="Log out").click()
    expect(dpo.get_by_role("status")).to_have_text("You are logged out.")
    replay = team.page()
    replay.context.add_cookies(old)  # a copy of the cookie from before the logout
    replay.goto(f"{team.base}/team/contacts/{team.person}")
    expect(replay).to_have_url(f"{team.base}/team/login")

    team.log_in(dpo, "dora@team.example", "privacy passphrase 2026")
    admin = team.page()
    team.log_in(admin, "ada@team.example", ADMIN_PASSWORD)
    admin.goto(f"{team.base}/team/members")
    admin.get_by_label("Role of dora").select_option("auditor")
    admin.get_by_role("button", name="Change role").last.click()
    expect(admin.get_by_role("status")).to_contain_text("Role changed")
    dpo.reload()
    expect(dpo).to_have_url(f"{team.base}/team/login")

    team.log_in(dpo, "dora@team.example", "privacy passphrase 2026")
    admin.get_by_role("button", name="Disable dora").click()
    expect(admin.get_by_role("status")).to_have_text("Member disabled.")
    dpo.reload()
    expect(dpo).to_have_url(f"{team.base}/team/login")

    stranger = team.page(390)
    for n in range(10):
        stranger.goto(f"{team.base}/team/login")
        stranger.get_by_label("E-mail").fill("ada@team.example")
        stranger.get_by_label("Password").fill(f"wrong guess {n}")
        stranger.get_by_role("button", name="Log in").click()
    alert = stranger.get_by_role("alert")
    expect(alert).to_contain_text("This login is locked after ten wrong passwords.")
    expect(alert).to_contain_text("Try again after 2 Mar 2026, 09:15 UTC")
    team.check_axe(stranger, "login, locked")
