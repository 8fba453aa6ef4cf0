"""Team passwords: argon2id hashes (argon2-cffi, RFC 9106 low-memory profile) and the rules a
new password must meet."""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from candor.core.errors import InvalidInput

MIN_LENGTH: Final = 12
MAX_LENGTH: Final = 256

# argon2-cffi's defaults are RFC 9106's second recommendation (argon2id, t=3, 64 MiB, p=4).
hasher = PasswordHasher()
_decoy: tuple[PasswordHasher, str] | None = None


def decoy_hash() -> str:
    """A hash of nothing anyone knows, made with the current parameters: an unknown e-mail
    costs one verification too, so the time a login takes does not tell who has an account."""
    global _decoy
    if _decoy is None or _decoy[0] is not hasher:
        _decoy = (hasher, hasher.hash("candor: no such member"))
    return _decoy[1]


def check_new_password(password: str, *, email: str) -> None:
    """Refuse a password too short, too long, holding NUL, or the same as the e-mail."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidInput("password", f"must be at most {MAX_LENGTH} characters")
    if "\x00" in password:
        raise InvalidInput("password", "must not contain NUL characters")
    if password.strip().lower() == email.strip().lower():
        raise InvalidInput("password", "must not be the e-mail address")


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash; with no hash, a decoy is checked (and fails)."""
    try:
        return hasher.verify(stored or decoy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return hasher.check_needs_rehash(stored)
