"""`/docs` in Debian's Chromium: Swagger UI renders the operations from its own static files
under the strict CSP (no violation, no request leaves the server). Screenshots at desktop and
phone width land in the test's directory (docs/screenshots/api-docs.png is one of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from candor.core.context import Candor
from candor.web import create_app

from .browser_support import chromium, missing_browser, serve

pytestmark = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests skipped: {missing_browser()}"
)


def look(browser: Any, base: str, width: int, height: int, shot: Path) -> None:
    """Open /docs at one width: the operations drawn, no error, nothing fetched elsewhere."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(r.url) if r.status >= 400 else None)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)  # operations drawn
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/contacts" in [s.replace("\u200b", "") for s in shown]
    page.screenshot(path=str(shot))
    assert problems == [] and outside == [], (problems, outside)
    page.close()


def test_the_api_docs_render_under_the_strict_csp(configured: Candor, tmp_path: Path) -> None:
    with serve(create_app(configured)) as base, chromium() as browser:
        look(browser, base, 1280, 900, tmp_path / "api-docs-desktop.png")
        look(browser, base, 390, 844, tmp_path / "api-docs-phone.png")
