"""Screenshots of Mission Control and the preference center for the README (docs/screenshots).

Seeds a throw-away database with a small synthetic population, serves the app with uvicorn on
127.0.0.1 and photographs the pages with Debian's Chromium, as the browser tests do:

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CANDOR_MASTER_KEY", "")

from sqlalchemy import update  # noqa: E402
from tests.e2e.browser_support import chromium, missing_browser, serve  # noqa: E402

from candor.accounts.members import add_member, set_password_with_link  # noqa: E402
from candor.channels.links import preferences_token  # noqa: E402
from candor.journeys.definition import build_journey  # noqa: E402
from candor.journeys.runtime.enroll import launch, save_draft  # noqa: E402
from candor.ledger.blocks import insert_block  # noqa: E402
from candor.ledger.communications import record_communication  # noqa: E402
from candor.ledger.config import apply_config, load_config_file  # noqa: E402
from candor.ledger.consents import ConsentInput, record_consent  # noqa: E402
from candor.ledger.contacts import NewAddress, NewContact, create_contact  # noqa: E402
from candor.store.vault import generate_master_key
from candor.rights.requests import NewRequest, open_subject_request  # noqa: E402
from candor.core.context import Candor
from candor.store.keystore import init_keystore  # noqa: E402
from candor.store.migrate import upgrade  # noqa: E402
from candor.store.tables import contacts  # noqa: E402
from candor.web import create_app  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
PASSWORD = "screenshots only, never used elsewhere"
JOURNEY = {
    "id": "spring-events", "name": "Spring event invitations", "purpose": "events",
    "fields": ["country"], "target": {"field": "country", "op": "eq", "value": "DE"},
    "steps": [
        {"id": "pause", "type": "wait", "duration": "P1D"},
        {"id": "route", "type": "branch", "default": "done",
         "cases": [{"when": {"field": "country", "op": "eq", "value": "DE"}, "next": "done"}]},
        {"id": "done", "type": "end"},
    ],
}


def seed(cx: Candor) -> tuple[str, int]:
    """A config, 40 people with mixed permissions, a journey, blocks, sends and requests."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        apply_config(conn, load_config_file(ROOT / "tests" / "fixtures" / "candor.yaml"),
                     actor="seed", at=now)
        link = add_member(conn, "admin@candor.example", "admin", name="Ada Admin",
                          actor="seed", at=now)
        set_password_with_link(conn, link.token, PASSWORD, at=now)
        key = "admin@candor.example"
        ids = []
        for n in range(40):
            ids.append(create_contact(
                conn, cx.vault,
                NewContact(first_name=f"Person{n}", addresses=[
                    NewAddress("email", f"person{n}@example.org"),
                    NewAddress("sms", f"+4915112345{n:03d}")]),
                actor="seed", at=now))
        for n, contact_id in enumerate(ids):
            status = ("granted", "refused", None, "granted")[n % 4]
            if status:
                record_consent(conn, cx.vault, contact_id, ConsentInput(
                    purpose="events", status=status, source="form", channel="email"),
                    actor="seed", at=now)
            if n % 3 == 0:
                record_consent(conn, cx.vault, contact_id, ConsentInput(
                    purpose="newsletter", status="granted", source="form", channel="email"),
                    actor="seed", at=now)
            if n % 9 == 0:
                insert_block(conn, contact_id, None if n % 2 else "sms", None, None,
                             "asked in a reply", "seed", None, "seed", now)
            for minute in range(n % 6):
                record_communication(conn, cx.vault, contact_id, channel="email",
                                     direction="out", purpose="events",
                                     occurred_at=now - timedelta(minutes=minute), actor="seed",
                                     at=now)
        conn.execute(update(contacts).where(contacts.c.id.in_(ids[:25]))
                     .values(attributes={"country": "DE"}))
        save_draft(conn, build_journey(JOURNEY), actor="seed", at=now)
        for n, kind in enumerate(("access", "erasure", "objection")):
            open_subject_request(conn, cx.vault, NewRequest(
                type=kind, email=f"person{n}@example.org", channel="web"),
                at=now - timedelta(days=(35, 12, 2)[n]))
    launch(cx, journey_id="spring-events", actor="seed")
    return key, ids[3]


def main() -> int:
    reason = missing_browser()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    os.environ["CANDOR_MASTER_KEY"] = generate_master_key()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cx = Candor.open(f"sqlite:///{tmp}/candor.db", keystore=f"sqlite:///{tmp}/keys.db")
        upgrade(cx.engine)
        init_keystore(cx.vault.keystore)
        key, person = seed(cx)
        token = preferences_token(cx.vault.signing_key, contact_id=person,
                                  issued_at=cx.clock.now())
        with serve(create_app(cx)) as base, chromium() as browser:
            team = browser.new_context(viewport={"width": 1280, "height": 900})
            page = team.new_page()
            page.goto(f"{base}/team/login")
            page.get_by_label("E-mail").fill(key)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_selector(".live.on")
            page.screenshot(path=str(OUT / "mission-control.png"), full_page=True)
            page.goto(f"{base}/team/journeys/spring-events")
            page.screenshot(path=str(OUT / "journey.png"), full_page=True)
            page.close()
            team.close()
            for name, width in (("preference-center.png", 1100),
                                ("preference-center-phone.png", 375)):
                context = browser.new_context(viewport={"width": width, "height": 900},
                                              locale="en-GB")
                subject = context.new_page()
                subject.goto(f"{base}/preferences/{token}")
                subject.screenshot(path=str(OUT / name), full_page=True)
                context.close()
        cx.dispose()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
