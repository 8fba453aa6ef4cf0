"""Screenshots of the hosted sign-up form for docs/always-on.md (docs/screenshots).

Serves a throw-away product configured from examples/candor.yaml with uvicorn on 127.0.0.1
and photographs the form in Chromium at desktop and phone width, in English and German,
with an error, and the thank-you and confirmation pages:

    .venv/bin/python scripts/screenshots_forms.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.browser_support import chromium, missing_browser, serve  # noqa: E402

from candor.core.context import Candor  # noqa: E402
from candor.forms.process import process_submissions  # noqa: E402
from candor.ledger.config import apply_config, load_config_file  # noqa: E402
from candor.store.engine import reading  # noqa: E402
from candor.store.journey_tables import outbox  # noqa: E402
from candor.store.keystore import init_keystore  # noqa: E402
from candor.store.migrate import upgrade  # noqa: E402
from candor.store.vault import generate_master_key  # noqa: E402
from candor.web import create_app  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def shoot(base: str, browser: object, cx: Candor) -> None:
    for name, width, lang in (("form", 1280, "en"), ("form-phone", 390, "de")):
        context = browser.new_context(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
        page = context.new_page()
        page.goto(f"{base}/f/newsletter?lang={lang}")
        page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
        context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{base}/f/newsletter?lang=en")
    page.get_by_label("Your e-mail address").fill("pat@example")
    page.get_by_label("First name").fill("Maximiliane Alexandra von Hohenberg-Schillingsfürst")
    page.wait_for_timeout(2500)  # a person takes longer than the form's min_fill_seconds
    page.get_by_role("button", name="Sign up").click()
    page.screenshot(path=str(OUT / "form-error.png"), full_page=True)
    page.get_by_label("Your e-mail address").fill("pat@example.org")
    page.get_by_label("Weekly newsletter").check()
    page.wait_for_timeout(2500)
    page.get_by_role("button", name="Sign up").click()
    page.screenshot(path=str(OUT / "form-thanks.png"), full_page=True)
    process_submissions(cx)
    with reading(cx.engine) as conn:
        token = conn.execute(outbox.select()).mappings().one()["context"]["doi_token"]
    page.goto(f"{base}/confirm/{token}")
    page.screenshot(path=str(OUT / "form-confirm.png"), full_page=True)
    context.close()


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
        with cx.engine.begin() as conn:
            config = load_config_file(ROOT / "examples" / "candor.yaml")
            apply_config(conn, config, actor="screenshots", at=cx.clock.now())
        with serve(create_app(cx)) as base, chromium() as browser:
            shoot(base, browser, cx)
        cx.dispose()
    for path in sorted(OUT.glob("form*.png")):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
