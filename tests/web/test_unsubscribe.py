"""RFC 8058 one-click unsubscribe: GET shows a page and changes nothing, POST withdraws."""

from __future__ import annotations

from pathlib import Path

from candor.channels.dispatch import dispatch_due
from candor.channels.links import unsubscribe_token
from candor.channels.mailsink import MailSink
from candor.ledger.consents import consent_history
from tests.channels.test_dispatch_support import add_contact, configure_channels, enqueue
from tests.web.conftest import Api


def _sent_unsubscribe_url(api: Api, tmp_path: Path) -> tuple[int, str]:
    cx = api.cx
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        with cx.engine.begin() as conn:
            alice = add_contact(conn, cx, email="alice@example.com")
            enqueue(conn, alice, at=cx.clock.now())
        assert dispatch_due(cx) == 1
        (message,) = sink.messages()
    https = message["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    return alice, https.removeprefix("https://candor.example.org")


def test_get_shows_a_form_and_changes_nothing(api: Api, tmp_path: Path) -> None:
    alice, path = _sent_unsubscribe_url(api, tmp_path)
    before = api.row_counts()
    page = api.get(path, role=None)
    assert page.status_code == 200
    assert 'method="post"' in page.text and "<button" in page.text
    assert "set-cookie" not in page.headers
    assert api.row_counts() == before
    assert api.decide(alice, "events", channel="email", theme="events")["reason"] == "allowed"


def test_post_withdraws_at_once_and_again_is_still_200(api: Api, tmp_path: Path) -> None:
    alice, path = _sent_unsubscribe_url(api, tmp_path)
    done = api.post(
        path,
        role=None,
        data={"List-Unsubscribe": "One-Click"},
        headers={"User-Agent": "MailClient/1.0"},
        follow_redirects=False,
    )
    assert done.status_code == 200
    assert "set-cookie" not in done.headers and "location" not in done.headers
    assert api.decide(alice, "events", channel="email", theme="events")["reason"] == "withdrawn"
    # Other channels keep their permission: the link named e-mail and the events theme.
    with api.cx.engine.connect() as conn:
        events = consent_history(conn, api.cx.vault, alice)
    withdrawal = events[-1]
    assert (withdrawal["status"], withdrawal["source"]) == ("withdrawn", "unsubscribe")
    assert (withdrawal["theme"], withdrawal["channel"]) == ("events", "email")
    assert withdrawal["evidence"]["user_agent"] == "MailClient/1.0"
    assert withdrawal["evidence"]["ip"]
    assert withdrawal["communication_id"] is not None

    counts = api.row_counts()
    again = api.post(path, role=None, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert api.row_counts()["consent_events"] == counts["consent_events"]


def test_bad_or_expired_tokens_get_a_page_without_details(api: Api) -> None:
    cx = api.cx
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
    old = unsubscribe_token(
        cx.vault.signing_key,
        contact_id=alice,
        purpose_id="events",
        theme=None,
        channel="email",
        address_id=None,
        outbox_id=None,
        issued_at=cx.clock.now().replace(year=2020),
    )
    before = api.row_counts()
    for path in (f"/u/{old}", "/u/garbage", "/u/a.b"):
        for method in ("GET", "POST"):
            answer = api.call(method, path, role=None)
            assert answer.status_code == 400
            assert "not valid or has expired" in answer.text
            assert "signature" not in answer.text
    assert api.row_counts() == before
    assert api.decide(alice, "events", channel="email")["reason"] == "allowed"


def test_pages_speak_german_set_no_cookie_and_use_no_inline_style(api: Api, tmp_path: Path) -> None:
    _, path = _sent_unsubscribe_url(api, tmp_path)
    german = api.get(path, role=None, headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in german.text and "Abmelden" in german.text
    assert "<style" not in german.text and 'href="/static/candor.css"' in german.text
    switched = api.get(f"{path}?lang=de", role=None)
    assert '<html lang="de">' in switched.text and "set-cookie" not in switched.headers
    assert f'action="{path}?lang=de"' in switched.text  # the answer keeps the language
    done = api.post(
        f"{path}?lang=de", role=None, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False
    )
    assert done.status_code == 200 and "Sie sind abgemeldet" in done.text
    assert "set-cookie" not in done.headers
    english = api.get(path, role=None)
    assert '<html lang="en">' in english.text and "Unsubscribe" in english.text


def test_a_gpc_signal_on_the_page_is_recorded_once(api: Api, tmp_path: Path) -> None:
    alice, path = _sent_unsubscribe_url(api, tmp_path)
    before = api.row_counts()["consent_events"]
    first = api.get(path, role=None, headers={"Sec-GPC": "1"})
    assert "We recorded it as your objection" in first.text
    again = api.get(path, role=None, headers={"Sec-GPC": "1"})
    assert "is on record" in again.text
    with api.cx.engine.connect() as conn:
        events = consent_history(conn, api.cx.vault, alice)
    gpc = [e for e in events if e["source"] == "gpc"]
    assert [(e["purpose"], e["status"]) for e in gpc] == [("profiling", "refused")]
    assert gpc[0]["evidence"]["page"] == "unsubscribe"
    assert api.row_counts()["consent_events"] == before + 1
    # The signal is not an unsubscribe: the link's permission still holds.
    assert api.decide(alice, "events", channel="email", theme="events")["reason"] == "allowed"
