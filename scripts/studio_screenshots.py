"""Screenshots of the studio for docs/studio.md: the designer, the content editor, an audience
and a report, at desktop (1280) and phone (390) width.

Seeds a throw-away database with a synthetic population, runs a journey to a local mail sink,
serves the app on 127.0.0.1 and photographs the pages with Debian's Chromium:

    .venv/bin/python scripts/studio_screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from candor.store.vault import generate_master_key  # noqa: E402

os.environ.setdefault("CANDOR_MASTER_KEY", generate_master_key())

from tests.channels.test_dispatch_support import configure_channels  # noqa: E402
from tests.e2e.browser_support import chromium, serve  # noqa: E402
from tests.e2e.team_login import log_in, team_member  # noqa: E402
from tests.journeys.runtime.helpers import add_contact, block, consent  # noqa: E402

from candor.channels.content import ContentSource  # noqa: E402
from candor.channels.mailsink import MailSink  # noqa: E402
from candor.core.clock import ManualClock  # noqa: E402
from candor.core.context import Candor  # noqa: E402
from candor.journeys.definition import build_journey  # noqa: E402
from candor.journeys.runtime import default_dispatch, launch, run_until_idle  # noqa: E402
from candor.journeys.runtime.audiences import Audience, save_audience  # noqa: E402
from candor.journeys.runtime.template_library import save_content  # noqa: E402
from candor.ledger.config import apply_config, load_config_file  # noqa: E402
from candor.store.engine import make_engine  # noqa: E402
from candor.store.keystore import init_keystore  # noqa: E402
from candor.store.migrate import upgrade  # noqa: E402
from candor.web import create_app  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
MJML = """<mjml>
  <mj-body>
    <mj-section background-color="#102a43"><mj-column>
      <mj-text color="#ffffff" font-size="22px">Spring events in {{ country }}</mj-text>
    </mj-column></mj-section>
    <mj-section><mj-column>
      <mj-text font-size="16px">Hello {{ first_name }},</mj-text>
      <mj-text>Our spring programme is out: talks, workshops and a garden party.</mj-text>
      <mj-button background-color="#0b5cad" href="{{ preferences_url }}">See the programme</mj-button>
      <mj-text font-size="12px"><a href="{{ unsubscribe_url }}">Unsubscribe</a></mj-text>
    </mj-column></mj-section>
  </mj-body>
</mjml>"""
CONTENT = {
    "id": "spring",
    "kind": "marketing",
    "languages": {
        "en": {
            "email": {"subject": "Spring events for {{ first_name }}", "preheader": "Talks, workshops, a garden party", "mjml": MJML},
            "sms": {"text": "Spring events in {{ country }}! Reply STOP to opt out."},
        },
        "de": {
            "email": {"subject": "Frühlingsevents für {{ first_name }}", "preheader": "Vorträge, Workshops, ein Gartenfest", "mjml": MJML.replace("Hello", "Hallo").replace("Our spring programme is out: talks, workshops and a garden party.", "Unser Frühlingsprogramm ist da: Vorträge, Workshops und ein Gartenfest.")},
            "sms": {"text": "Frühlingsevents in {{ country }}! Antworte STOP zum Abmelden."},
        },
    },
}
JOURNEY = {
    "id": "spring_invite", "name": "Spring invitation", "purpose": "events",
    "target": {"audience": "germans_we_asked"}, "fields": ["country", "vip", "first_name"],
    "ends_at": "2027-12-31T00:00:00Z",
    "steps": [
        {"id": "gate", "type": "consent", "channel": "email", "template": "spring", "theme": "events",
         "timeout": "P7D", "on_refused": "done", "on_timeout": "done"},
        {"id": "mail", "type": "send", "channel": "email", "template": "spring", "theme": "events", "on_denied": "done"},
        {"id": "pause", "type": "wait", "duration": "P1D"},
        {"id": "vip_check", "type": "branch", "default": "done",
         "cases": [{"when": {"field": "vip", "op": "eq", "value": True}, "next": "sms"}]},
        {"id": "sms", "type": "send", "channel": "email", "template": "spring", "theme": "events", "on_denied": "done"},
        {"id": "done", "type": "end"},
    ],
}


def seed(cx: Candor) -> None:
    with cx.engine.begin() as conn:
        apply_config(conn, load_config_file(ROOT / "tests" / "fixtures" / "candor.yaml"), actor="seed", at=cx.clock.now())
    for n in range(1, 41):
        person = add_contact(cx, n, sms=True, attributes={"country": "AT" if n % 10 == 0 else "DE", "vip": n % 4 == 0})
        if n % 7 != 0:
            consent(cx, person, "events")
        if n % 9 == 0:
            consent(cx, person, "events", status="withdrawn")
        if n % 11 == 0:
            block(cx, person, theme="events")
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        save_content(conn, ContentSource.model_validate(CONTENT), actor="seed", at=now)
        save_audience(conn, Audience.model_validate({
            "id": "germans_we_asked", "name": "Germans we asked", "purpose": "events", "channel": "email", "theme": "events",
            "filter": {"all": [{"field": "country", "op": "eq", "value": "DE"},
                               {"not": {"decision": {"purpose": "events", "reason": "not_asked"}}}]}}), actor="seed", at=now)
    launch(cx, build_journey(JOURNEY), actor="seed")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'candor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    cx = Candor.open(url, keystore=f"sqlite:///{tmp / 'keys.db'}", clock=ManualClock(datetime(2026, 4, 1, 9, tzinfo=UTC)))
    init_keystore(cx.vault.keystore)
    seed(cx)
    with MailSink(tmp / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        run_until_idle(cx, default_dispatch())
        cx.clock.advance(timedelta(days=1, minutes=5))  # type: ignore[attr-defined]
        run_until_idle(cx, default_dispatch())
    marketer = team_member(cx, "marketer", "Mia Marketer")
    with serve(create_app(cx)) as base, chromium() as browser:
        for width, suffix in ((1280, ""), (390, "-phone")):
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            log_in(page, base, marketer)
            page.goto(f"{base}/team/journeys/spring_invite/edit")
            page.locator("#step-list").get_by_role("button", name="vip_check", exact=True).click()
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / f"studio-designer{suffix}.png"), full_page=True)
            page.goto(f"{base}/team/content/spring")
            page.get_by_role("button", name="DE", exact=True).click()
            page.get_by_role("button", name="Preview").click()
            page.wait_for_timeout(1200)
            page.screenshot(path=str(OUT / f"studio-content{suffix}.png"), full_page=True)
            page.goto(f"{base}/team/audiences/germans_we_asked")
            page.wait_for_timeout(2500)
            page.screenshot(path=str(OUT / f"studio-audience{suffix}.png"), full_page=True)
            page.goto(f"{base}/team/journeys/spring_invite/report")
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / f"studio-report{suffix}.png"), full_page=True)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
