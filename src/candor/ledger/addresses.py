"""Address normalisation per channel: e-mail validated and lower-cased, phones in E.164."""

from __future__ import annotations

from typing import Final

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
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError("not a valid e-mail address") from exc
    local, _, domain = result.normalized.rpartition("@")
    return f"{local.lower()}@{domain.lower()}"


def normalize_phone(value: str, default_region: str = "DE") -> str:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise AddressError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
