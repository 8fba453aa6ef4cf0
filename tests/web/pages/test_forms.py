"""The hosted sign-up form over HTTP: the page, the post, the thank-you, the confirmation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from candor.cli import app as cli
from candor.core.context import Candor
from candor.forms.process import process_submissions
from candor.ledger.consents import consent_history
from candor.rights.erasure import erase_contact
from candor.store.engine import reading
from candor.store.schema import metadata
from candor.store.tables import consent_events
from candor.web import create_app
from candor.web.pages.forms import Throttle
from candor.web.pages.security import RateLimiter
from tests.always_on import EXTRA, apply_always_on, queued, sign_up
from tests.journeys.runtime.helpers import add_contact


@pytest.fixture
def client(configured: Candor) -> Iterator[TestClient]:
    apply_always_on(configured)
    with TestClient(create_app(configured)) as client:
        yield client


def cx_of(client: TestClient) -> Candor:
    cx: Candor = client.app.state.cx  # type: ignore[attr-defined]
    return cx


def counts(cx: Candor) -> dict[str, int]:
    with reading(cx.engine) as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in metadata.sorted_tables
        }


def test_the_page_shows_each_purpose_in_its_current_wording_all_boxes_unticked(
    client: TestClient,
) -> None:
    page = client.get("/f/newsletter")
    assert page.status_code == 200
    assert "Yes, send me the newsletter with offers and news." in page.text
    assert re.findall(r'name="consent" value="([^"]+)"', page.text) == [
        "newsletter:weekly:email",
        "newsletter:offers:email",
    ]
    assert " checked" not in page.text and "<script>" not in page.text
    assert 'name="wording.newsletter" value="1"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers  # works without cookies
    german = client.get("/f/newsletter?lang=de")
    assert "Ihre E-Mail-Adresse" in german.text and 'name="lang" value="de"' in german.text
    assert client.get("/f/nope").status_code == 404


def test_bad_input_is_a_4xx_page_naming_the_field_and_nothing_is_stored(
    client: TestClient,
) -> None:
    cx = cx_of(client)
    before = counts(cx)
    answer = sign_up(client, email="not an address")
    assert answer.status_code == 422
    assert "Please check Your e-mail address" in answer.text
    assert 'value="not an address"' in answer.text  # the visitor's own input, to correct
    assert sign_up(client, consent=[]).status_code == 422
    assert "Please check your choices: tick at least one box" in sign_up(client, consent=[]).text
    assert sign_up(client, shoe_size="44").status_code == 422
    assert sign_up(client, form="nope").status_code == 404
    huge = client.post("/f/newsletter", data={"email": "a@b.de", "country": "x" * 20_000})
    assert huge.status_code == 413
    assert client.post("/f/newsletter", json={"email": "a@b.de"}).status_code == 415
    assert counts(cx) == before


def test_known_new_and_erased_addresses_get_the_same_answer(client: TestClient) -> None:
    cx = cx_of(client)
    add_contact(cx, 1)
    gone = add_contact(cx, 2)
    erase_contact(cx, gone, actor="t", reason="asked")
    answers = [
        sign_up(client, email=email)
        for email in ("person1@example.com", "someone.new@example.org", "person2@example.com")
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert counts(cx)["form_submissions"] == 3  # the same work at the door for each
    process_submissions(cx)
    assert sorted(m["contact_id"] for m in queued(cx)) == sorted({1, 3})  # no mail to 2


def test_bots_get_the_same_thank_you_and_nothing_is_kept(client: TestClient) -> None:
    cx = cx_of(client)
    good = sign_up(client, email="a@example.org")
    honeypot = sign_up(client, email="b@example.org", website="http://spam.example")
    page = client.get("/f/newsletter?lang=en")
    started = re.search(r'name="started" value="([^"]+)"', page.text)
    assert started is not None
    apply_always_on(cx, forms=[{**_form(), "min_fill_seconds": 5}])
    fast = sign_up(client, email="c@example.org", started=started.group(1))
    assert good.text == honeypot.text == fast.text
    assert counts(cx)["form_submissions"] == 1


def _form() -> dict[str, Any]:
    return dict(EXTRA["forms"][0])


def test_thank_you_and_confirmed_pages_follow_the_form(client: TestClient) -> None:
    cx = cx_of(client)
    sent = sign_up(client, "events-sms", consent=["events::email"], email="ev@example.org")
    assert "Check your phone or inbox." in sent.text
    process_submissions(cx)
    token = queued(cx)[0]["context"]["doi_token"]
    scanner = client.get(f"/confirm/{token}")  # a mail scanner prefetching the link
    assert scanner.status_code == 200
    with reading(cx.engine) as conn:
        statuses = conn.execute(select(consent_events.c.status)).scalars().all()
    assert statuses == ["pending"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', scanner.text)
    assert csrf is not None
    confirmed = client.post(
        f"/confirm/{token}", data={"csrf": csrf.group(1)}, follow_redirects=False
    )
    assert (confirmed.status_code, confirmed.headers["location"]) == (
        303,
        "https://candor.example/welcome",
    )
    apply_always_on(cx, forms=[{**_form(), "thank_you": {"redirect": "https://candor.example/t"}}])
    moved = sign_up(client, email="x@example.org")
    assert (moved.status_code, moved.headers["location"]) == (303, "https://candor.example/t")


def test_rate_limits_per_client_and_per_address(client: TestClient) -> None:
    cx = cx_of(client)
    throttle = Throttle(RateLimiter(3, 0.0001), RateLimiter(1, 0.0001))
    client.app.state.form_throttle = throttle  # type: ignore[attr-defined]
    assert sign_up(client, email="one@example.org").status_code == 200
    assert sign_up(client, email="one@example.org").status_code == 200  # answered, not kept
    assert sign_up(client, email="two@example.org").status_code == 200
    assert sign_up(client, email="three@example.org").status_code == 429
    assert counts(cx)["form_submissions"] == 2


def test_the_snippet_works_without_javascript_and_posts_to_the_hosted_form(
    client: TestClient,
) -> None:
    cx = cx_of(client)
    result = CliRunner().invoke(
        cli,
        [
            "--database",
            cx.url,
            "--keystore",
            str(cx.vault.keystore.url),
            "form",
            "snippet",
            "newsletter",
        ],
    )
    assert result.exit_code == 0, result.output
    html = result.output
    assert '<form method="post" action="https://candor.example/f/newsletter"' in html
    assert "<script" not in html and "style=" not in html and " checked" not in html
    assert 'name="started"' not in html  # static HTML cannot carry when it was shown
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    answer = client.post(
        "/f/newsletter",
        data={**fields, "email": "snip@example.org", "consent": "newsletter:offers:email"},
        headers={"referer": "https://shop.example/signup"},
    )
    assert answer.status_code == 200
    process_submissions(cx)
    with reading(cx.engine) as conn:
        row = conn.execute(select(consent_events.c.contact_id)).one()
    with reading(cx.engine) as conn:
        proof = consent_history(conn, cx.vault, row.contact_id)[0]["evidence"]
    assert (proof["via"], proof["page"]) == ("snippet", "https://shop.example/signup")
    unknown = CliRunner().invoke(
        cli,
        ["--database", cx.url, "--keystore", str(cx.vault.keystore.url), "form", "snippet", "x"],
    )
    assert unknown.exit_code == 2 and "no form 'x'" in unknown.output
