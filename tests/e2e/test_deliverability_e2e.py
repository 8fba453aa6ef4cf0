"""A journey learns from what the mail servers report back, seen on the contact pages.

Three people get the first mail. One address does not exist (the receiving server mails a
DSN back), one person marks it as spam (an ARF report comes back), one reads it. The next
send step reaches only the third; the contact pages say why, in a real browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from candor.channels.bounces import BounceServer
from candor.channels.dispatch import dispatch_due
from candor.channels.email_settings import BounceSettings
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch, run_until_idle
from candor.web.app import create_app
from tests.channels.feedback_support import (
    BOUNCE_DOMAIN,
    FEEDBACK_ADDRESS,
    configure_email,
    dkim_key,
)
from tests.channels.receiving_mta import ReceivingMta
from tests.e2e.browser_support import chromium, missing_browser, serve
from tests.e2e.team_login import log_in, team_member
from tests.journeys.runtime.helpers import add_contact, consent, journey_yaml, stats

SHOTS = Path(__file__).parent.parent.parent / "docs" / "screenshots"
GONE, ANGRY, HAPPY = "person1@example.com", "person2@example.com", "person3@example.com"
STEPS = [
    {"id": "first", "type": "send", "channel": "email", "template": "promo_mail",
     "theme": "events", "on_denied": "skipped"},
    {"id": "later", "type": "wait", "duration": "P2D"},
    {"id": "second", "type": "send", "channel": "email", "template": "promo_mail",
     "theme": "events", "on_denied": "skipped"},
    {"id": "done", "type": "end"},
    {"id": "skipped", "type": "end"},
]  # fmt: skip


@pytest.fixture
def reported(configured: Candor, clock: ManualClock, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The journey run through both sends, with the reports of the first one applied."""
    cx = configured
    people = {address: add_contact(cx, n) for n, address in enumerate((GONE, ANGRY, HAPPY), 1)}
    for contact in people.values():
        consent(cx, contact, "events")
    with BounceServer(cx, BounceSettings(domain=BOUNCE_DOMAIN), port=0) as receiver:
        mta = ReceivingMta(
            receiver.host,
            receiver.port,
            hard={GONE},
            complain={ANGRY},
            feedback_address=FEEDBACK_ADDRESS,
        )
        with mta:
            configure_email(cx, mta.port, dkim_key(tmp_path))
            launch(cx, load_journey(journey_yaml(STEPS)), actor="test")
            run_until_idle(cx, dispatch=dispatch_due)
            assert receiver.wait_for(2)  # the DSN and the ARF report are stored
            clock.advance(timedelta(days=2, minutes=1))
            run_until_idle(cx, dispatch=dispatch_due)
    yield {"cx": cx, "people": people, "mta": mta}


def test_the_next_send_reaches_only_the_person_who_got_the_mail(reported: dict[str, Any]) -> None:
    mta, cx = reported["mta"], reported["cx"]
    first, second = mta.received[:3], mta.received[3:]
    assert sorted(rcpt for _, rcpt, _ in first) == [GONE, ANGRY, HAPPY]
    assert [rcpt for _, rcpt, _ in second] == [HAPPY]
    counted = stats(cx)
    assert counted[("second", "undeliverable")] == 1
    assert counted[("second", "blocked:address")] == 1


@pytest.mark.skipif(missing_browser() is not None, reason=f"no browser: {missing_browser()}")
def test_the_contact_pages_show_why(reported: dict[str, Any], cheap_passwords: None) -> None:
    cx, people = reported["cx"], reported["people"]
    dpo = team_member(cx, "dpo", "Dora DPO")
    with serve(create_app(cx)) as base, chromium() as browser:
        for width, name in ((1280, "desktop"), (390, "phone")):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            log_in(page, base, dpo)

            page.goto(f"{base}/team/contacts/{people[GONE]}")
            addresses = page.locator("main ul").first.inner_text()
            assert "undeliverable" in addresses and "bounce report" in addresses
            reports = page.locator("section[aria-labelledby=reports-h]").inner_text()
            assert "made the address undeliverable" in reports and "5.1.1" in reports
            assert "User unknown" in reports  # the remote server's own words, as evidence
            why = page.locator("section[aria-labelledby=why-h]").inner_text()
            assert "undeliverable" in why
            page.screenshot(path=str(SHOTS / f"contact-bounced-{name}.png"), full_page=True)

            page.goto(f"{base}/team/contacts/{people[ANGRY]}")
            reports = page.locator("section[aria-labelledby=reports-h]").inner_text()
            assert "complaint" in reports and "set a marketing block" in reports
            blocks = page.locator("section[aria-labelledby=blocks-h]").inner_text()
            assert "spam complaint" in blocks and "abuse" in blocks
            why = page.locator("section[aria-labelledby=why-h]").inner_text()
            assert "blocked:address" in why
            page.screenshot(path=str(SHOTS / f"contact-complained-{name}.png"), full_page=True)

            page.goto(f"{base}/team/contacts/{people[HAPPY]}")
            comms = page.locator("section[aria-labelledby=comm-h]").inner_text()
            assert comms.count("sent") >= 2 and "Delivery" in comms
            context.close()
