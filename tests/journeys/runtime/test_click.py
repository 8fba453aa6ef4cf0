"""A tracked link end to end: send over SMTP, the person clicks, the waiting contact moves on."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from candor.channels.dispatch import dispatch_due
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch, run_until_idle
from candor.web.app import create_app
from tests.channels.test_dispatch_support import configure_channels

from .helpers import TEMPLATES, add_contact, consent, journey_yaml, positions

CLICK_MAIL = {
    "email": {
        "subject": "Our spring events",
        "text": "See them here: {{ click_url }}\nUnsubscribe: {{ unsubscribe_url }}",
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


def test_clicking_the_tracked_link_wakes_the_wait(
    configured: Candor, clock: ManualClock, tmp_path: Path
) -> None:
    cx = configured
    reader, idle = add_contact(cx, 1), add_contact(cx, 2)
    for contact in (reader, idle):
        consent(cx, contact, "events")
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        yaml_text = journey_yaml(STEPS, templates={**TEMPLATES, "click_mail": CLICK_MAIL})
        launch(cx, load_journey(yaml_text), actor="test")
        run_until_idle(cx, dispatch=dispatch_due)
        mails = {m["To"]: m for m in sink.messages()}
    body = mails["person1@example.com"].get_body(("plain",)).get_content()
    assert "shop.example" not in body  # the target is inside the signed token, not in clear
    link = re.search(r"https://\S+/c/(\S+)", body)
    assert link is not None
    clock.advance(timedelta(hours=2))  # the reader opens the mail later that day
    with TestClient(create_app(cx)) as client:
        response = client.get(f"/c/{link.group(1)}", follow_redirects=False)
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"] == "https://shop.example/spring"
    run_until_idle(cx)
    assert positions(cx)[reader] == ("done", "done")
    assert positions(cx)[idle] == ("wait_click", "waiting")
