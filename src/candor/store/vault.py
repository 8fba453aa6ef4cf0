"""Identity vault: per-contact AES-GCM data keys, wrapped by the master key, and blind indexes.

Each contact's identifying data is encrypted with a key of its own, kept in the separate key
store. Destroying that key (crypto-shredding) leaves every copy of the data unreadable,
including old backups of the data database.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, delete, select

from candor.store.key_cache import KeyCache, Missing
from candor.store.keystore import contact_keys
from candor.store.sql import insert_driver_rows, to_driver
from candor.store.types import utcnow

NONCE_SIZE = 12
KEY_FILE_NAME = "candor.key"


class MasterKeyError(RuntimeError):
    """The master key is missing or malformed."""


def generate_master_key() -> str:
    """A new master key, base64 text, for candor.key or CANDOR_MASTER_KEY."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def parse_master_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError) as exc:
        raise MasterKeyError("master key is not valid base64") from exc
    if len(raw) != 32:
        raise MasterKeyError("master key must be 32 bytes (base64 encoded)")
    return raw


def load_master_key(key_file: Path) -> bytes:
    """CANDOR_MASTER_KEY when set, else the key file written by `candor init`."""
    env = os.environ.get("CANDOR_MASTER_KEY")
    if env:
        return parse_master_key(env)
    if not key_file.exists():
        raise MasterKeyError(
            f"no master key: set CANDOR_MASTER_KEY or run `candor init` ({key_file})"
        )
    return parse_master_key(key_file.read_text())


def write_master_key(key_file: Path) -> bool:
    """Write a new key file with mode 0600 unless one exists or the key comes from the env."""
    if os.environ.get("CANDOR_MASTER_KEY") or key_file.exists():
        return False
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_master_key() + "\n")
    return True


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class PendingKey:
    """A new contact key before it is stored (Vault.new_keys): encrypts like Vault.encrypt."""

    __slots__ = ("cipher", "key_id", "wrapped")

    def __init__(self, key_id: str, wrapped: bytes, cipher: AESGCM) -> None:
        self.key_id = key_id
        self.wrapped = wrapped
        self.cipher = cipher

    def encrypt(self, field: str, plaintext: bytes) -> bytes:
        """The same blob as Vault.encrypt(key_id, field, plaintext) once the key is stored."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self.cipher.encrypt(nonce, plaintext, f"{self.key_id}:{field}".encode())


class Vault:
    """Encrypts and decrypts identifying data; computes blind indexes for look-ups."""

    def __init__(self, master_key: bytes, keystore: Engine) -> None:
        self._wrap = AESGCM(_derive(master_key, b"candor key wrapping"))
        self._index_key = _derive(master_key, b"candor blind index")
        self.signing_key = _derive(master_key, b"candor token signing")
        self.keystore = keystore
        self._cache = KeyCache()

    # -- blind index -------------------------------------------------------------------
    def blind_index(self, channel: str, normalized_value: str) -> str:
        """Keyed hash of an address: equal addresses match, the value cannot be read back."""
        kind = "phone" if channel in ("sms", "whatsapp") else channel
        message = f"{kind}:{normalized_value}".encode()
        return hmac.digest(self._index_key, message, "sha256").hex()  # = hmac.new().hexdigest()

    # -- contact keys ------------------------------------------------------------------
    def create_keys(self, count: int) -> list[str]:
        """Create `count` new contact keys in the key store (one statement) and return ids."""
        return self.store_keys(self.new_keys(count))

    def new_keys(self, count: int) -> list[PendingKey]:
        """`count` new contact keys, wrapped, usable to encrypt but not stored yet.

        Lets a bulk import seal data ahead and store only the keys of the contacts it
        writes (store_keys): a key that is never stored protects nothing and is dropped.
        """
        keys = []
        for _ in range(count):
            key_id = secrets.token_hex(16)
            data_key = AESGCM.generate_key(bit_length=256)
            nonce = os.urandom(NONCE_SIZE)
            wrapped = nonce + self._wrap.encrypt(nonce, data_key, key_id.encode())
            keys.append(PendingKey(key_id, wrapped, AESGCM(data_key)))
        return keys

    def store_keys(self, keys: Sequence[PendingKey]) -> list[str]:
        """Put new keys in the key store (one statement) and the cache; returns their ids."""
        if not keys:
            return []
        with self.keystore.begin() as conn:
            now = to_driver(conn, contact_keys.c.created_at, utcnow())
            rows = [(k.key_id, k.wrapped, now) for k in keys]
            insert_driver_rows(conn, contact_keys, ("key_id", "wrapped", "created_at"), rows)
        self._cache.put_all({key.key_id: key.cipher for key in keys})
        return [key.key_id for key in keys]

    def load(self, key_ids: Iterable[str]) -> None:
        """Fetch and unwrap the keys not yet cached, in one query."""
        missing = [k for k in set(key_ids) if k not in self._cache]
        if missing:
            self._cache.put_all(self._fetch(missing))

    def _fetch(self, missing: list[str]) -> dict[str, AESGCM | None]:
        """The unwrapped keys from the key store (None for a destroyed or unknown key)."""
        found: dict[str, bytes] = {}
        with self.keystore.connect() as conn:
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                query = select(contact_keys.c.key_id, contact_keys.c.wrapped).where(
                    contact_keys.c.key_id.in_(chunk)
                )
                found.update({row.key_id: row.wrapped for row in conn.execute(query)})
        keys: dict[str, AESGCM | None] = {}
        for key_id in missing:
            wrapped = found.get(key_id)
            if wrapped is None:
                keys[key_id] = None
                continue
            nonce, body = wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:]
            keys[key_id] = AESGCM(self._wrap.decrypt(nonce, body, key_id.encode()))
        return keys

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Crypto-shred: delete the keys, so everything encrypted with them is unreadable."""
        ids = list(set(key_ids))
        with self.keystore.begin() as conn:
            deleted = conn.execute(delete(contact_keys).where(contact_keys.c.key_id.in_(ids)))
        self._cache.put_all(dict.fromkeys(ids))
        return deleted.rowcount or 0

    def forget_cache(self) -> None:
        self._cache.clear()

    # -- encryption --------------------------------------------------------------------
    def encrypt(self, key_id: str, field: str, plaintext: bytes) -> bytes:
        cipher = self._cipher(key_id)
        if cipher is None:
            raise KeyError("contact key destroyed")
        nonce = os.urandom(NONCE_SIZE)
        return nonce + cipher.encrypt(nonce, plaintext, f"{key_id}:{field}".encode())

    def decrypt(self, key_id: str, field: str, blob: bytes | None) -> bytes | None:
        """The plaintext, or None when there is no blob or the key was destroyed."""
        if blob is None:
            return None
        cipher = self._cipher(key_id)
        if cipher is None:
            return None
        try:
            return cipher.decrypt(
                blob[:NONCE_SIZE], blob[NONCE_SIZE:], f"{key_id}:{field}".encode()
            )
        except InvalidTag:
            return None

    def encrypt_json(self, key_id: str, field: str, value: Any) -> bytes:
        """A JSON value (evidence, identity) sealed with the contact's key; keys sorted."""
        return self.encrypt(key_id, field, json.dumps(value, sort_keys=True).encode())

    def decrypt_json(self, key_id: str, field: str, blob: bytes | None) -> Any:
        """The JSON value, or None without a blob or once the key was destroyed."""
        raw = self.decrypt(key_id, field, blob)
        return json.loads(raw) if raw else None

    def decrypt_many(
        self, key_id: str, field: str, blobs: Sequence[bytes | None]
    ) -> list[bytes | None]:
        """`decrypt` of many blobs of one key and field (an access copy), the key looked up once."""
        cipher = self._cipher(key_id)
        if cipher is None:
            return [None] * len(blobs)
        decrypt, aad, n = cipher.decrypt, f"{key_id}:{field}".encode(), NONCE_SIZE
        try:
            return [None if b is None else decrypt(b[:n], b[n:], aad) for b in blobs]
        except InvalidTag:  # a tampered blob: find it row by row (None for that one)
            return [self.decrypt(key_id, field, b) for b in blobs]

    def _cipher(self, key_id: str) -> AESGCM | None:
        cipher = self._cache.get(key_id)
        if isinstance(cipher, Missing):  # not cached, or dropped since a batch's load()
            cipher = self._fetch([key_id])[key_id]
            self._cache.put_all({key_id: cipher})
        return cipher
