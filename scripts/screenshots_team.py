"""Screenshots of the team pages for docs/team.md, at desktop (1280) and phone (390) width.

Seeds a throw-away database (members, people with long German names, a phone consent, a
block, requests), serves the app on 127.0.0.1 and photographs the pages with Debian's
Chromium, as the browser tests do:

    .venv/bin/python scripts/screenshots_team.py [OUT_DIR]
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.browser_support import chromium, missing_browser, serve  # noqa: E402

from candor.accounts.members import add_member, set_password_with_link  # noqa: E402
from candor.core.context import Candor  # noqa: E402
from candor.ledger.blocks import set_block  # noqa: E402
from candor.ledger.config import apply_config, load_config_file  # noqa: E402
from candor.ledger.consents import ConsentInput, record_consent  # noqa: E402
from candor.ledger.contacts import NewAddress, NewContact, create_contact  # noqa: E402
from candor.rights.requests import NewRequest, open_subject_request  # noqa: E402
from candor.store.keystore import init_keystore  # noqa: E402
from candor.store.migrate import upgrade  # noqa: E402
from candor.store.vault import generate_master_key  # noqa: E402
from candor.web import create_app  # noqa: E402

PASSWORD = "screenshots only, never used elsewhere"
NAMES = [
    ("Maximilian-Alexander", "von Hohenzollern-Sigmaringen-Übermaßstab"),
    ("Jürgen", "Groß"),
    ("Zoë", "Weiß"),
    ("Sören", "Müller-Lüdenscheidt"),
    ("Ada", "Lovelace"),
]


def seed(cx: Candor) -> int:
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        apply_config(
            conn,
            load_config_file(ROOT / "tests" / "fixtures" / "candor.yaml"),
            actor="seed",
            at=now,
        )
        for email, role, name, zone in (
            ("ada@candor.example", "admin", "Ada Admin", "UTC"),
            ("dora@candor.example", "dpo", "Dora Datenschutz", "Europe/Berlin"),
            ("max@candor.example", "marketer", "Max Marketing", "Europe/Berlin"),
        ):
            link = add_member(conn, email, role, name=name, time_zone=zone, actor="seed", at=now)
            set_password_with_link(conn, link.token, PASSWORD, at=now)
        add_member(conn, "nia@candor.example", "auditor", name="Nia Neu", actor="seed", at=now)
        ids = []
        for n in range(64):
            first, last = NAMES[n % len(NAMES)]
            ids.append(
                create_contact(
                    conn,
                    cx.vault,
                    NewContact(
                        first_name=first,
                        last_name=last,
                        attributes={"country": ("DE", "AT", "CH")[n % 3]},
                        addresses=[
                            NewAddress("email", f"{first.lower()}.{n}@example.org"),
                            NewAddress("sms", f"+49151{n:08d}"),
                        ],
                    ),
                    actor="seed",
                    at=now - timedelta(days=n),
                )
            )
        person = ids[0]
        record_consent(
            conn,
            cx.vault,
            person,
            ConsentInput(
                purpose="events",
                status="granted",
                source="phone",
                occurred_at=now,
                evidence={
                    "how": "phone call",
                    "declared_at": now.isoformat(),
                    "wording": "Ja, laden Sie mich zu Ihren Veranstaltungen ein.",
                    "recorded_by": "Dora Datenschutz",
                    "recorded_by_member": "member:2",
                },
            ),
            actor="member:2",
            at=now,
        )
        set_block(
            conn,
            cx.vault,
            person,
            reason="keine SMS mehr",
            source="email",
            channel="sms",
            actor="seed",
            at=now,
        )
        for n, kind in enumerate(("access", "erasure")):
            open_subject_request(
                conn,
                cx.vault,
                NewRequest(
                    type=kind,
                    email=f"jürgen.{1 + 5 * n}@example.org",
                    channel="web",
                ),
                at=now - timedelta(days=(33, 3)[n]),
            )
    return person


def log_in(browser: Any, base: str, email: str, width: int) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/team/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/team/mission-control")
    return page


def shoot(page: Any, out: Path, name: str, path: str, open_all: bool = False) -> None:
    if path:
        page.goto(path)
    if open_all:
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    # Phones: what the first screen shows; desktops: the whole page.
    page.screenshot(path=str(out / f"{name}.png"), full_page=not name.endswith("-phone"))


def main() -> int:
    reason = missing_browser()
    if reason:
        print(f"cannot take screenshots: {reason}", file=sys.stderr)
        return 1
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    os.environ["CANDOR_MASTER_KEY"] = generate_master_key()
    with tempfile.TemporaryDirectory() as tmp:
        cx = Candor.open(f"sqlite:///{tmp}/candor.db", keystore=f"sqlite:///{tmp}/keys.db")
        upgrade(cx.engine)
        init_keystore(cx.vault.keystore)
        person = seed(cx)
        with serve(create_app(cx)) as base, chromium() as browser:
            for width, tail in ((1280, ""), (390, "-phone")):
                admin = log_in(browser, base, "ada@candor.example", width)
                admin.goto(f"{base}/team/members")
                admin.locator("#new-email").fill(f"sophie.gruenewald{width}@candor.example")
                admin.locator("#new-name").fill("Sophie Schneider-Grünewald")
                admin.locator("#new-role").select_option("dpo")
                admin.get_by_role("button", name="Add and show the link").click()
                shoot(admin, out, f"team-members{tail}", "")
                link = admin.locator("[data-link]").inner_text().strip()
                newcomer = browser.new_context(viewport={"width": width, "height": 900}).new_page()
                shoot(newcomer, out, f"team-set-password{tail}", link)
                dpo = log_in(browser, base, "dora@candor.example", width)
                shoot(
                    dpo,
                    out,
                    f"team-contacts{tail}",
                    f"{base}/team/contacts?attribute=country&value=DE",
                )
                shoot(
                    dpo, out, f"team-contacts-empty{tail}", f"{base}/team/contacts?status=objected"
                )
                shoot(dpo, out, f"team-contact{tail}", f"{base}/team/contacts/{person}", True)
                dpo.locator("#c-wording").fill("Ja, gerne.")
                dpo.locator("#c-at").fill("2099-01-01T10:00")  # refused: lies in the future
                dpo.get_by_role("button", name="Record", exact=True).click()
                shoot(dpo, out, f"team-contact-problem{tail}", "")
                shoot(dpo, out, f"team-requests{tail}", f"{base}/team/requests", True)
                shoot(dpo, out, f"team-account{tail}", f"{base}/team/account")
                marketer = log_in(browser, base, "max@candor.example", width)
                shoot(marketer, out, f"team-contacts-marketer{tail}", f"{base}/team/contacts")
            dpo.goto(f"{base}/team/contacts/{person + 1}")
            dpo.locator("#erase-form summary").click()
            dpo.get_by_label("Erase everywhere now; this cannot be undone").check()
            dpo.get_by_role("button", name="Erase", exact=True).click()
            shoot(dpo, out, "team-certificate-phone", "")
            stranger = browser.new_context(viewport={"width": 1280, "height": 700}).new_page()
            for n in range(10):
                stranger.goto(f"{base}/team/login")
                stranger.get_by_label("E-mail").fill("ada@candor.example")
                stranger.get_by_label("Password").fill(f"wrong {n}")
                stranger.get_by_role("button", name="Log in").click()
            shoot(stranger, out, "team-login-locked", "")
        cx.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
