"""Shared by the bounce tests: e-mail settings with VERP, DKIM and a bounce domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from candor.core.context import Candor
from tests.channels.test_dispatch_support import SENDER, configure_channels

BOUNCE_DOMAIN = "bounces.example.org"
FEEDBACK_ADDRESS = f"fbl@{BOUNCE_DOMAIN}"


def dkim_key(directory: Path) -> Path:
    """A fresh 2048-bit RSA key as a PEM file (what an operator would generate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = directory / "dkim.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def configure_email(
    cx: Candor, smtp_port: int, key_file: Path | None = None, **bounces: Any
) -> None:
    """E-mail through 127.0.0.1:`smtp_port`, VERP return paths on BOUNCE_DOMAIN, DKIM if a key."""
    email: dict[str, Any] = {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "from": SENDER,
        "bounces": {"domain": BOUNCE_DOMAIN, **bounces},
    }
    if key_file is not None:
        email["dkim"] = {"selector": "s2026", "domain": "example.org", "key_file": str(key_file)}
    configure_channels(cx, extra={"email": email})
