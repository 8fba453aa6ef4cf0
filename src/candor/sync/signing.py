"""Webhook signatures: HMAC-SHA256 over f"{timestamp}.{body}" in `Candor-Signature`.

Headers: `Candor-Signature: t=<unix seconds>,v1=<hex>`, `Candor-Event-Id`, `Candor-Connector`
(the sender's name, which is the receiver's connector id for it). A receiver checks the
signature in constant time and refuses timestamps outside a five-minute window.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "Candor-Signature"
EVENT_ID_HEADER = "Candor-Event-Id"
CONNECTOR_HEADER = "Candor-Connector"
WINDOW_SECONDS = 300


class SignatureError(ValueError):
    """A missing, malformed, forged or stale signature (answered 401)."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `timestamp.body`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_headers(
    secret: bytes, body: bytes, *, timestamp: int, event_id: str, sender: str
) -> dict[str, str]:
    """Every header a signed delivery carries."""
    return {
        SIGNATURE_HEADER: f"t={timestamp},v1={signature(secret, timestamp, body)}",
        EVENT_ID_HEADER: event_id,
        CONNECTOR_HEADER: sender,
        "Content-Type": "application/json",
    }


def parse_signature(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a `t=...,v1=...` header, or SignatureError."""
    timestamp: int | None = None
    found: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            found.append(value)
    if timestamp is None or not found:
        raise SignatureError("signature header is malformed")
    return timestamp, found


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    window: int = WINDOW_SECONDS,
) -> int:
    """The signed timestamp when the signature is valid and fresh; SignatureError otherwise."""
    header = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
    if not header:
        raise SignatureError("signature header is missing")
    timestamp, candidates = parse_signature(header)
    expected = signature(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("signature does not match")
    if abs(now - timestamp) > window:
        raise SignatureError("timestamp is outside the accepted window")
    return timestamp
