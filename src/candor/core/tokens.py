"""Signed, expiring, single-purpose tokens for links sent to people (DOI, unsubscribe, ...).

A token is `payload.signature`, both URL-safe base64; the payload names its purpose and
expiry, so a token made for one purpose is refused for any other. Single use, where needed,
is enforced by the caller's table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any


class TokenError(ValueError):
    """A token that is malformed, forged, expired or meant for something else."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: str, claims: dict[str, Any], expires_at: datetime) -> str:
    """A token carrying `claims` for `purpose`, valid until `expires_at`."""
    payload = {"p": purpose, "exp": int(expires_at.timestamp()), **claims}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(key: bytes, token: str, purpose: str, now: datetime) -> dict[str, Any]:
    """The token's claims, or TokenError saying why it is refused."""
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 2048:
        raise TokenError("token is malformed")
    body, mac = token.split(".")
    expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    try:
        presented = _unb64(mac)
    except ValueError:
        raise TokenError("token is malformed") from None
    if not hmac.compare_digest(expected, presented):
        raise TokenError("token signature is invalid")
    try:
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("token is malformed") from None
    if not isinstance(claims, dict) or claims.get("p") != purpose:
        raise TokenError("token is not valid for this purpose")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < now.timestamp():
        raise TokenError("token has expired")
    return claims
