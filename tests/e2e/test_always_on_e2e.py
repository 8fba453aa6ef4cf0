"""Always on, end to end: a visitor signs up on the hosted form in Chromium, the double opt-in
mail arrives over SMTP (aiosmtpd), the visitor confirms on the page, and the welcome journey
triggered by consent.confirmed sends its first mail; `candor worker` runs throughout."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.journeys.runtime import default_dispatch, run_worker
from candor.ledger.consents import consent_history
from candor.ledger.contacts import find_by_address
from candor.rights.erasure import erase_contact
from candor.store.engine import reading
from candor.store.tables import communications, form_submissions
from candor.web import create_app
from tests.always_on import apply_always_on, queued
from tests.journeys.runtime.helpers import add_contact
from tests.journeys.runtime.triggered import triggered

from .browser_support import chromium, missing_browser, serve

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)
AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """Wait until `condition()` is truthy (the worker's work arriving), or fail naming it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Site:
    cx: Candor
    base: str
    browser: Any
    sink: MailSink

    def page(self, width: int = 1280) -> Any:
        context = self.browser.new_context(
            viewport={"width": width, "height": 900}, locale="en-GB", bypass_csp=True
        )
        return context.new_page()

    def mails_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sink.messages() if m["To"] == address]

    def settled(self) -> bool:
        """The worker took every submission and sent every queued message."""
        with reading(self.cx.engine) as conn:
            waiting = conn.execute(select(form_submissions.c.id)).first()
        return waiting is None and all(m["status"] != "queued" for m in queued(self.cx))

    def sign_up(self, email: str, name: str = "Pat") -> Any:
        page = self.page()
        page.goto(f"{self.base}/f/newsletter")
        page.get_by_label("Your e-mail address").fill(email)
        page.get_by_label("First name").fill(name)
        page.get_by_label("Weekly newsletter").check()
        page.get_by_role("button", name="Sign up").click()
        page.get_by_role("heading", name="Almost done").wait_for()
        return page


@pytest.fixture
def site(configured: Candor, tmp_path: Path) -> Iterator[Site]:
    stop = threading.Event()
    with (
        MailSink(tmp_path / "mail", port=0) as sink,
        serve(create_app(configured)) as base,
        chromium() as browser,
    ):
        email = {"smtp_url": f"smtp://127.0.0.1:{sink.port}", "from": "news@candor.example"}
        cx = apply_always_on(configured, channels={"email": email})
        welcome = {"id": "hello", "type": "send", "channel": "email", "template": "hello"}
        steps = [{**welcome, "theme": "weekly"}, {"id": "done", "type": "end"}]
        triggered(cx, {"on": "consent.confirmed", "purpose": "newsletter"}, steps=steps)
        worker = threading.Thread(
            target=run_worker,
            args=(cx, default_dispatch()),
            kwargs={"idle_sleep": 60.0, "stop": stop},
            daemon=True,
        )
        worker.start()
        try:
            yield Site(cx, base, browser, sink)
        finally:
            stop.set()
            worker.join(timeout=30)


def _link(site: Site, mail: EmailMessage) -> str:
    """The mail's confirmation link, on the server under test (public_url is https)."""
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"https://candor\.example(/confirm/\S+)", body.get_content())
    assert found is not None
    return site.base + found.group(1)


def test_sign_up_confirm_and_the_welcome_journey_sends(site: Site) -> None:
    page = site.sign_up("visitor@example.org")
    (doi,) = wait_for(lambda: site.mails_to("visitor@example.org"), "the double opt-in mail")
    assert "List-Unsubscribe" not in doi  # a confirmation carries no advertising
    link = _link(site, doi)
    assert httpx.get(link).status_code == 200  # a link scanner prefetches: confirms nothing
    with reading(site.cx.engine) as conn:
        contact = find_by_address(conn, site.cx.vault, "email", "visitor@example.org")
        assert contact is not None
        assert [e["status"] for e in consent_history(conn, site.cx.vault, contact)] == ["pending"]
    page.goto(link)
    page.get_by_role("button", name="Yes, confirm").click()
    page.get_by_text("your subscription is confirmed").wait_for()
    mails = wait_for(
        lambda: (
            len(site.mails_to("visitor@example.org")) == 2 and site.mails_to("visitor@example.org")
        ),
        "the welcome mail",
    )
    assert mails[1]["Subject"] == "Hello Pat"  # the welcome journey's first step
    assert "List-Unsubscribe" in mails[1]
    with reading(site.cx.engine) as conn:  # the evidence of both steps is in the ledger
        pending, confirmed = consent_history(conn, site.cx.vault, contact)
        sent = conn.execute(
            select(communications.c.purpose_id, communications.c.decision_reason).where(
                communications.c.contact_id == contact
            )
        ).all()
    assert pending["evidence"]["form"] == "newsletter" and pending["evidence"]["via"] == "hosted"
    assert "Chrome" in pending["evidence"]["user_agent"] and pending["evidence"]["ip"]
    assert pending["evidence"]["wording_version"] == 1
    assert (
        confirmed["evidence"]["page"] == "confirm"
        and confirmed["confirms_event_id"] == pending["id"]
    )
    assert [tuple(r) for r in sent] == [("newsletter", "allowed"), ("newsletter", "allowed")]


def test_a_resubmission_within_the_hour_sends_no_second_mail(site: Site) -> None:
    site.sign_up("twice@example.org")
    wait_for(lambda: site.mails_to("twice@example.org"), "the first mail")
    site.sign_up("twice@example.org")
    wait_for(site.settled, "the worker to take the second submission")
    assert len(site.mails_to("twice@example.org")) == 1
    assert len(queued(site.cx, "confirmation")) == 1


def test_a_suppressed_address_gets_the_same_page_and_no_mail(site: Site) -> None:
    gone = add_contact(site.cx, 9)
    erase_contact(site.cx, gone, actor="test", reason="asked")
    erased = site.sign_up("person9@example.com").inner_text("main")
    fresh = site.sign_up("someone@example.org").inner_text("main")
    assert erased == fresh
    wait_for(lambda: site.mails_to("someone@example.org"), "the new person's mail")
    wait_for(site.settled, "the worker to take both submissions")
    assert site.mails_to("person9@example.com") == []


def test_the_form_is_accessible_and_fits_a_phone(site: Site) -> None:
    for width in (1280, 390):
        page = site.page(width)
        page.goto(f"{site.base}/f/newsletter")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate("axe.run().then(r => r.violations.map(v => v.id))")
        assert violations == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        boxes = page.locator("input[type=checkbox]")
        assert all(not boxes.nth(i).is_checked() for i in range(boxes.count()))
