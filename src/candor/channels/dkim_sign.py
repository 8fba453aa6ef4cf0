"""DKIM signatures (RFC 6376, rsa-sha256, relaxed/relaxed) on outgoing e-mail.

dkimpy parses the message, canonicalises it and hashes the signed header fields; the RSA
step runs in `cryptography` (OpenSSL): dkimpy's own modular exponentiation in Python takes
about 7 ms a message, twenty times OpenSSL's, which would halve what a worker can send.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import time
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from dkim.canonicalization import CanonicalizationPolicy

# Signed when present (RFC 6376 5.4.1 and the bulk-sender headers); From is signed twice so
# that a second From cannot be added unnoticed.
SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
)
_POLICY = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_NAME = b"DKIM-Signature"


class DkimKeyError(ValueError):
    """The key file cannot be read or holds no usable RSA private key."""


class DkimSigner:
    """Signs messages for one domain and selector with one RSA key (loaded once)."""

    def __init__(self, selector: str, domain: str, key_pem: bytes) -> None:
        try:
            key = load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise DkimKeyError("not a PEM private key without a passphrase") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
            raise DkimKeyError("needs an RSA key of at least 1024 bits")
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self._key = key

    @classmethod
    def from_file(cls, selector: str, domain: str, key_file: str | Path) -> DkimSigner:
        """A signer with the key read from `key_file`; DkimKeyError when it cannot be used.

        Loading checks the RSA key (170 ms measured on a busy machine), so one signer
        is kept per file and its modification time: a worker's rounds reuse it, a replaced
        key file is read again.
        """
        path = Path(key_file)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as exc:
            raise DkimKeyError(f"cannot be read: {exc.strerror}") from None
        return _cached_signer(selector, domain, str(path), stamp)

    def sign(self, message: bytes, now: float | None = None) -> bytes:
        """The message with a DKIM-Signature header in front."""
        return self.header(message, now) + message

    def header(self, message: bytes, now: float | None = None) -> bytes:
        """The DKIM-Signature header line (with CRLF) for `message`."""
        headers, body = dkim.rfc822_parse(message)
        present = {name.lower() for name, _ in headers}
        signed = [h for h in SIGNED_HEADERS if h in present] + [b"from"]
        body_hash = base64.b64encode(hashlib.sha256(_POLICY.canonicalize_body(body)).digest())
        fields = (
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", self.domain),
            (b"s", self.selector),
            (b"t", str(int(time.time() if now is None else now)).encode("ascii")),
            (b"h", b" : ".join(signed)),  # spaced: fold may break the line there
            (b"bh", body_hash),
            (b"b", b""),
        )
        value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(_NAME))
        digest = hashlib.sha256()
        canonical = _POLICY.canonicalize_headers(headers)
        dkim.hash_headers(digest, _POLICY, canonical, signed, (_NAME, b" " + value), None)
        signature = self._key.sign(
            digest.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        return _NAME + b": " + value + base64.b64encode(signature) + b"\r\n"


@functools.lru_cache(maxsize=8)
def _cached_signer(selector: str, domain: str, path: str, stamp: int) -> DkimSigner:
    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        raise DkimKeyError(f"cannot be read: {exc.strerror}") from None
    return DkimSigner(selector, domain, pem)


def public_record(key_pem: bytes) -> str:
    """The DNS TXT record to publish at <selector>._domainkey.<domain> for this key."""
    key = load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimKeyError("needs an RSA key")
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
