"""VERP return paths: bounces+<outbox id>-<mac>@<domain>, one per message.

A bounce or complaint sent to that address names its message; the MAC (keyed with the
instance's signing key) keeps anyone from making up an address that marks someone else's
mailbox as bouncing. Lower case only: some servers lower-case the local part.
"""

from __future__ import annotations

import hashlib
import hmac
import re

LOCAL_PREFIX = "bounces"
_MAC_LENGTH = 16  # hex digits: 64 bits
_ADDRESS = re.compile(r"^bounces\+([0-9]{1,19})-([0-9a-f]{16})@(.+)$", re.IGNORECASE)


def _mac(key: bytes, outbox_id: int) -> str:
    message = f"verp:{outbox_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:_MAC_LENGTH]


def return_path(key: bytes, outbox_id: int, domain: str) -> str:
    """The envelope sender of one message."""
    return f"{LOCAL_PREFIX}+{outbox_id}-{_mac(key, outbox_id)}@{domain}"


def read_return_path(key: bytes, address: str, domain: str | None = None) -> int | None:
    """The outbox id a VERP address names, or None when it is not one of ours (or forged)."""
    found = _ADDRESS.match(address.strip().strip("<>"))
    if found is None:
        return None
    if domain is not None and found.group(3).lower() != domain.lower():
        return None
    outbox_id = int(found.group(1))
    if not hmac.compare_digest(_mac(key, outbox_id), found.group(2).lower()):
        return None
    return outbox_id
