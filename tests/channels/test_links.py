"""Signed, expiring, single-purpose link tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from candor.channels import links
from candor.core import tokens

KEY = b"k" * 32
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_unsubscribe_token_round_trips_and_is_deterministic() -> None:
    make = dict(
        contact_id=7,
        purpose_id="events",
        theme="events",
        channel="email",
        address_id=3,
        outbox_id=11,
        issued_at=NOW,
    )
    token = links.unsubscribe_token(KEY, **make)  # type: ignore[arg-type]
    assert token == links.unsubscribe_token(KEY, **make)  # type: ignore[arg-type]
    claims = links.read_unsubscribe(KEY, token, NOW + timedelta(days=59))
    assert claims == links.UnsubscribeClaims(7, "events", "events", "email", 3, 11)
    assert "@" not in token  # opaque: ids only
    with pytest.raises(tokens.TokenError, match="expired"):
        links.read_unsubscribe(KEY, token, NOW + timedelta(days=61))
    with pytest.raises(tokens.TokenError, match="signature"):
        links.read_unsubscribe(b"x" * 32, token, NOW)


def test_tokens_are_single_purpose() -> None:
    pref = links.preferences_token(KEY, contact_id=7, issued_at=NOW)
    assert links.read_preferences(KEY, pref, NOW) == 7
    with pytest.raises(tokens.TokenError, match="purpose"):
        links.read_unsubscribe(KEY, pref, NOW)
    dl = links.download_token(KEY, contact_id=7, ref="dsr-1", expires_at=NOW + timedelta(days=7))
    assert links.read_download(KEY, dl, NOW) == (7, "dsr-1")
    with pytest.raises(tokens.TokenError):
        links.read_preferences(KEY, dl, NOW)


def test_click_tokens_only_lead_to_web_urls() -> None:
    token = links.click_token(
        KEY,
        contact_id=7,
        journey_id="welcome",
        step_id="mail1",
        channel="email",
        target="https://shop.example.org/offer",
        issued_at=NOW,
        purpose_id="engagement",
    )
    claims = links.read_click(KEY, token, NOW)
    assert (claims.journey_id, claims.step_id, claims.target) == (
        "welcome",
        "mail1",
        "https://shop.example.org/offer",
    )
    assert (claims.contact_id, claims.purpose_id) == (7, "engagement")
    with pytest.raises(ValueError):
        links.click_token(
            KEY,
            contact_id=7,
            journey_id="j",
            step_id="s",
            channel="email",
            target="javascript:alert(1)",
            issued_at=NOW,
            purpose_id="engagement",
        )


def test_a_click_token_names_a_person_only_with_the_analytics_purpose() -> None:
    anonymous = links.click_token(
        KEY,
        contact_id=None,
        journey_id="welcome",
        step_id="mail1",
        channel="email",
        target="https://shop.example.org/offer",
        issued_at=NOW,
    )
    claims = links.read_click(KEY, anonymous, NOW)
    assert (claims.contact_id, claims.purpose_id) == (None, None)
    with pytest.raises(ValueError, match="analytics purpose"):
        links.click_token(
            KEY,
            contact_id=7,
            journey_id="j",
            step_id="s",
            channel="email",
            target="https://shop.example.org/",
            issued_at=NOW,
        )


def test_open_tokens_are_their_own_kind() -> None:
    token = links.open_token(
        KEY,
        contact_id=7,
        journey_id="welcome",
        step_id="mail1",
        channel="email",
        purpose_id="engagement",
        issued_at=NOW,
    )
    assert links.read_open(KEY, token, NOW) == links.OpenClaims(
        7, "welcome", "mail1", "email", "engagement"
    )
    with pytest.raises(tokens.TokenError):
        links.read_click(KEY, token, NOW)
    assert links.open_url("https://c.example", "t") == "https://c.example/o/t.gif"


def test_urls_and_mailto() -> None:
    base = "https://candor.example.org"
    assert links.unsubscribe_url(base, "abc.def") == f"{base}/u/abc.def"
    assert links.preferences_url(base, "t") == f"{base}/preferences/t"
    assert links.confirm_url(base, "t") == f"{base}/confirm/t"
    assert links.click_url(base, "t") == f"{base}/c/t"
    assert links.unsubscribe_mailto("example.org", "ab_c.d-e") == (
        "mailto:unsubscribe@example.org?subject=unsubscribe-ab_c.d-e"
    )
