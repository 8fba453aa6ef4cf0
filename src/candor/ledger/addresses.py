"""Address normalisation per channel: e-mail validated and lower-cased, phones in E.164."""

from __future__ import annotations

import re
from typing import Final

import email_validator
import phonenumbers
from email_validator import EmailNotValidError, validate_email

CHANNELS: Final = ("email", "sms", "whatsapp", "post")
MESSAGE_CHANNELS: Final = ("email", "sms", "whatsapp")


class AddressError(ValueError):
    """An address that cannot be used; the message names the problem, never the value."""


def normalize(channel: str, value: str, default_region: str = "DE") -> str:
    """The canonical form of an address on a channel, or AddressError."""
    if channel not in CHANNELS:
        raise AddressError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    if not isinstance(value, str) or not value.strip():
        raise AddressError("address is empty")
    value = value.strip()
    if channel == "email":
        return normalize_email(value)
    if channel in ("sms", "whatsapp"):
        return normalize_phone(value, default_region)
    return " ".join(value.split())


def normalize_email(value: str) -> str:
    """The validated address with local part and domain lower-cased, or AddressError.

    email-validator is the authority; the common plain-ASCII form takes a fast path whose
    result is the same (tests/ledger/test_addresses.py proves it against the validator).
    """
    fast = plain_email(value)
    if fast is not None:
        return fast
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError("not a valid e-mail address") from exc
    local, _, domain = result.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


# RFC 5322 dot-atom local part in ASCII (email-validator's DOT_ATOM_TEXT) and a host name of
# two or more LDH labels whose top-level label ends with a letter.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?"
_PLAIN = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+(?:[a-zA-Z0-9][a-zA-Z0-9\-]{{0,61}})?[a-zA-Z]"
)


def plain_email(value: str) -> str | None:
    """The normalised form of a plain ASCII address, or None to ask email-validator.

    Accepts only what email-validator accepts unchanged apart from case: no quoting, display
    name, domain literal, Unicode, IDNA (`--`) label, special-use domain, and local part
    (64) and address (254) within the strict-mode lengths.
    """
    if len(value) > 254 or _PLAIN.fullmatch(value) is None:
        return None
    local, _, domain = value.partition("@")
    if len(local) > 64 or len(domain) > 253 or "--" in domain:
        return None
    domain = domain.lower()
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return f"{local.lower()}@{domain}"


def normalize_phone(value: str, default_region: str = "DE") -> str:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise AddressError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
