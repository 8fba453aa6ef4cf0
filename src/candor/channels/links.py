"""Links in messages: signed, expiring, single-purpose tokens and the URLs that carry them.

Tokens are opaque to the recipient (ids only, never an address) and each is valid for one
purpose: an unsubscribe token cannot open the preference center, a click token cannot
unsubscribe. Expiry derives from the message's creation time, so a re-delivered message is
byte-for-byte the same link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from candor.core import tokens

UNSUBSCRIBE = "u"
PREFERENCES = "pref"
DOWNLOAD = "dl"
CLICK = "c"
OPEN = "o"
UNSUBSCRIBE_VALID_FOR = timedelta(days=60)
PREFERENCES_VALID_FOR = timedelta(days=60)
CLICK_VALID_FOR = timedelta(days=90)


@dataclass(frozen=True)
class UnsubscribeClaims:
    """What an unsubscribe token names: whose permission, for what, from which message."""

    contact_id: int
    purpose_id: str
    theme: str | None
    channel: str | None
    address_id: int | None
    outbox_id: int | None


@dataclass(frozen=True)
class ClickClaims:
    """A tracked link: which journey step, where to send them, and (only for people who
    agreed to the journey's analytics purpose) who clicked and under which purpose.

    Without a contact the click counts in the step's aggregate only.
    """

    contact_id: int | None
    journey_id: str
    step_id: str
    channel: str
    target: str
    purpose_id: str | None = None


@dataclass(frozen=True)
class OpenClaims:
    """An open pixel: whose open, in which journey step, under which analytics purpose."""

    contact_id: int
    journey_id: str
    step_id: str
    channel: str
    purpose_id: str


def _int(claims: dict[str, Any], key: str) -> int | None:
    value = claims.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise tokens.TokenError("token is malformed")
    return value


def _str(claims: dict[str, Any], key: str) -> str | None:
    value = claims.get(key)
    if value is not None and not isinstance(value, str):
        raise tokens.TokenError("token is malformed")
    return value


def unsubscribe_token(
    key: bytes,
    *,
    contact_id: int,
    purpose_id: str,
    theme: str | None,
    channel: str | None,
    address_id: int | None,
    outbox_id: int | None,
    issued_at: datetime,
) -> str:
    """A one-click unsubscribe token for one message's purpose, theme and channel."""
    claims: dict[str, Any] = {"c": contact_id, "pu": purpose_id}
    for name, value in (("th", theme), ("ch", channel), ("a", address_id), ("o", outbox_id)):
        if value is not None:
            claims[name] = value
    return tokens.sign(key, UNSUBSCRIBE, claims, issued_at + UNSUBSCRIBE_VALID_FOR)


def read_unsubscribe(key: bytes, token: str, now: datetime) -> UnsubscribeClaims:
    """The claims of an unsubscribe token, or TokenError."""
    claims = tokens.verify(key, token, UNSUBSCRIBE, now)
    contact, purpose = _int(claims, "c"), _str(claims, "pu")
    if contact is None or not purpose:
        raise tokens.TokenError("token is malformed")
    return UnsubscribeClaims(
        contact,
        purpose,
        _str(claims, "th"),
        _str(claims, "ch"),
        _int(claims, "a"),
        _int(claims, "o"),
    )


def preferences_token(key: bytes, *, contact_id: int, issued_at: datetime) -> str:
    """A token that opens one contact's preference center."""
    return tokens.sign(key, PREFERENCES, {"c": contact_id}, issued_at + PREFERENCES_VALID_FOR)


def read_preferences(key: bytes, token: str, now: datetime) -> int:
    """The contact id of a preferences token, or TokenError."""
    contact = _int(tokens.verify(key, token, PREFERENCES, now), "c")
    if contact is None:
        raise tokens.TokenError("token is malformed")
    return contact


def download_token(key: bytes, *, contact_id: int, ref: str, expires_at: datetime) -> str:
    """A token for one download (an access copy): `ref` names the file or request."""
    return tokens.sign(key, DOWNLOAD, {"c": contact_id, "r": ref}, expires_at)


def read_download(key: bytes, token: str, now: datetime) -> tuple[int, str]:
    """(contact id, ref) of a download token, or TokenError."""
    claims = tokens.verify(key, token, DOWNLOAD, now)
    contact, ref = _int(claims, "c"), _str(claims, "r")
    if contact is None or not ref:
        raise tokens.TokenError("token is malformed")
    return contact, ref


def click_token(
    key: bytes,
    *,
    contact_id: int | None,
    journey_id: str,
    step_id: str,
    channel: str,
    target: str,
    issued_at: datetime,
    purpose_id: str | None = None,
) -> str:
    """A tracked link to `target` (http/https only); it names the person only together with
    the analytics purpose they agreed to (`contact_id` and `purpose_id` both, or neither)."""
    if urlsplit(target).scheme not in ("http", "https"):
        raise ValueError("click target must be an http(s) URL")
    if (contact_id is None) != (purpose_id is None):
        raise ValueError("a personal click token needs its analytics purpose")
    claims: dict[str, Any] = {"j": journey_id, "s": step_id, "ch": channel, "t": target}
    if contact_id is not None:
        claims |= {"c": contact_id, "an": purpose_id}
    return tokens.sign(key, CLICK, claims, issued_at + CLICK_VALID_FOR)


def read_click(key: bytes, token: str, now: datetime) -> ClickClaims:
    """The claims of a click token, or TokenError."""
    claims = tokens.verify(key, token, CLICK, now)
    contact, purpose = _int(claims, "c"), _str(claims, "an")
    journey, step, channel, target = (_str(claims, k) for k in ("j", "s", "ch", "t"))
    if not journey or not step or not channel or not target:
        raise tokens.TokenError("token is malformed")
    if (contact is None) != (purpose is None):
        raise tokens.TokenError("token is malformed")
    if urlsplit(target).scheme not in ("http", "https"):
        raise tokens.TokenError("token is malformed")
    return ClickClaims(contact, journey, step, channel, target, purpose)


def open_token(
    key: bytes,
    *,
    contact_id: int,
    journey_id: str,
    step_id: str,
    channel: str,
    purpose_id: str,
    issued_at: datetime,
) -> str:
    """An open pixel's token: only ever made for a person who agreed to `purpose_id`."""
    claims = {"c": contact_id, "j": journey_id, "s": step_id, "ch": channel, "an": purpose_id}
    return tokens.sign(key, OPEN, claims, issued_at + CLICK_VALID_FOR)


def read_open(key: bytes, token: str, now: datetime) -> OpenClaims:
    """The claims of an open token, or TokenError."""
    claims = tokens.verify(key, token, OPEN, now)
    contact = _int(claims, "c")
    journey, step, channel, purpose = (_str(claims, k) for k in ("j", "s", "ch", "an"))
    if contact is None or not journey or not step or not channel or not purpose:
        raise tokens.TokenError("token is malformed")
    return OpenClaims(contact, journey, step, channel, purpose)


def unsubscribe_url(public_url: str, token: str) -> str:
    return f"{public_url}/u/{token}"


def preferences_url(public_url: str, token: str) -> str:
    return f"{public_url}/preferences/{token}"


def confirm_url(public_url: str, doi_token: str) -> str:
    """The double opt-in confirmation link (the token comes from the consent ledger)."""
    return f"{public_url}/confirm/{doi_token}"


def download_url(public_url: str, token: str) -> str:
    return f"{public_url}/download/{token}"


def click_url(public_url: str, token: str) -> str:
    return f"{public_url}/c/{token}"


def open_url(public_url: str, token: str) -> str:
    return f"{public_url}/o/{token}.gif"


def unsubscribe_mailto(from_domain: str, token: str) -> str:
    """mailto:unsubscribe@<domain>?subject=unsubscribe-<token> (RFC 2369)."""
    return f"mailto:unsubscribe@{from_domain}?subject={quote('unsubscribe-' + token, safe='-._~')}"
