"""Tracked links and the open pixel end to end: send over SMTP, people click and open.

Per-person engagement exists only for people who agreed to the journey's analytics purpose;
everyone else's click counts in the step's aggregate, and their mail has no pixel.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

from fastapi.testclient import TestClient

from candor.channels.dispatch import dispatch_due
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch, run_until_idle
from candor.ledger.communications import list_communications
from candor.store.engine import reading
from candor.web.app import create_app
from tests.channels.test_dispatch_support import configure_channels

from .helpers import TEMPLATES, add_contact, consent, journey_yaml, positions, stats

CLICK_MAIL = {
    "email": {
        "subject": "Our spring events",
        "text": "See them here: {{ click_url }}\nUnsubscribe: {{ unsubscribe_url }}",
        "html": '<p><a href="{{ click_url }}">Spring</a> <a href="{{ unsubscribe_url }}">x</a></p>',
    }
}
STEPS = [
    {
        "id": "invite",
        "type": "send",
        "channel": "email",
        "template": "click_mail",
        "theme": "events",
        "link": "https://shop.example/spring",
    },
    {"id": "wait_click", "type": "wait", "event": "click", "timeout": "P7D", "on_timeout": "no"},
    {"id": "done", "type": "end"},
    {"id": "no", "type": "end"},
]
TRACKING = {"purpose": "engagement", "opens": True}


def _send(cx: Candor, tmp_path: Path) -> dict[str, EmailMessage]:
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        yaml_text = journey_yaml(
            STEPS, templates={**TEMPLATES, "click_mail": CLICK_MAIL}, tracking=TRACKING
        )
        launch(cx, load_journey(yaml_text), actor="test")
        run_until_idle(cx, dispatch=dispatch_due)
        return {m["To"]: m for m in sink.messages()}


def _link(mail: EmailMessage, kind: str) -> str:
    body = mail.get_body(("html",)).get_content()
    found = re.search(rf"https://[^\"\s]+/{kind}/([^\"\s]+)", body)
    assert found is not None, body
    return found.group(1)


def test_clicks_and_opens_are_personal_only_under_consent_and_always_counted(
    configured: Candor, clock: ManualClock, tmp_path: Path
) -> None:
    cx = configured
    reader, private, idle = add_contact(cx, 1), add_contact(cx, 2), add_contact(cx, 3)
    for contact in (reader, private, idle):
        consent(cx, contact, "events")
    consent(cx, reader, "engagement")
    mails = _send(cx, tmp_path)
    text = mails["person1@example.com"].get_body(("plain",)).get_content()
    assert "shop.example" not in text  # the target is inside the signed token, not in clear
    assert "/o/" in mails["person1@example.com"].get_body(("html",)).get_content()
    assert "/o/" not in mails["person2@example.com"].get_body(("html",)).get_content()

    clock.advance(timedelta(hours=2))  # they open the mail later that day
    with TestClient(create_app(cx)) as client:
        for person in ("person1@example.com", "person2@example.com"):
            response = client.get(f"/c/{_link(mails[person], 'c')}", follow_redirects=False)
            assert response.status_code == 302
            assert response.headers["location"] == "https://shop.example/spring"
        pixel = client.get(f"/o/{_link(mails['person1@example.com'], 'o')}")
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    run_until_idle(cx)
    assert positions(cx)[reader] == ("done", "done")
    assert positions(cx)[private] == ("wait_click", "waiting")  # clicked, but never tracked
    assert positions(cx)[idle] == ("wait_click", "waiting")
    counted = stats(cx)
    assert counted[("invite", "clicked")] == 2 and counted[("invite", "opened")] == 1
    with reading(cx.engine) as conn:
        refs = {c: [m["content_ref"] for m in list_communications(conn, c)] for c in (1, 2)}
    assert "click:promo:invite" in refs[reader] and "open:promo:invite" in refs[reader]
    assert not any(r.startswith(("click:", "open:")) for r in refs[private])


def test_a_withdrawal_after_sending_stops_per_person_tracking(
    configured: Candor, clock: ManualClock, tmp_path: Path
) -> None:
    cx = configured
    reader = add_contact(cx, 1)
    consent(cx, reader, "events")
    consent(cx, reader, "engagement")
    mails = _send(cx, tmp_path)
    clock.advance(timedelta(minutes=5))
    consent(cx, reader, "engagement", status="withdrawn")
    clock.advance(timedelta(minutes=5))
    with TestClient(create_app(cx)) as client:
        client.get(f"/c/{_link(mails['person1@example.com'], 'c')}", follow_redirects=False)
        client.get(f"/o/{_link(mails['person1@example.com'], 'o')}")
        assert client.get("/o/forged.token.gif").status_code == 200  # a pixel all the same
    with reading(cx.engine) as conn:
        refs = [m["content_ref"] for m in list_communications(conn, reader)]
    assert not any(r.startswith(("click:", "open:")) for r in refs)
    assert stats(cx)[("invite", "clicked")] == 1
