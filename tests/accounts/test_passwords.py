"""Password hashing: argon2id at RFC 9106 parameters, and the rules for a new password."""

from __future__ import annotations

import pytest
from argon2 import Parameters, PasswordHasher, Type, extract_parameters

from candor.accounts import passwords
from candor.core.errors import InvalidInput


def test_hashes_are_argon2id_with_the_rfc_9106_low_memory_parameters() -> None:
    stored = passwords.hash_password("a long enough password")
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
    assert "a long enough password" not in stored
    assert passwords.verify_password(stored, "a long enough password")
    assert not passwords.verify_password(stored, "a long enough passworD")
    assert not passwords.needs_rehash(stored)


def test_a_hash_made_with_weaker_parameters_asks_to_be_rehashed() -> None:
    weak = Parameters(Type.ID, 19, 16, 32, 1, 64, 1)
    stored = PasswordHasher.from_parameters(weak).hash("a long enough password")
    assert passwords.needs_rehash(stored)


def test_without_a_stored_hash_verification_fails_but_still_runs() -> None:
    # The decoy is a real argon2 hash: unknown accounts cost the same work as known ones.
    assert extract_parameters(passwords.decoy_hash()).time_cost == 3
    assert not passwords.verify_password(None, "candor: no such member")
    assert not passwords.verify_password("not a hash", "anything")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12"),
        ("x" * 257, "at most 256"),
        ("twelve chars\x00!", "NUL"),
        ("Dora@Team.example", "e-mail"),
    ],
)
def test_a_new_password_is_refused_naming_the_problem(password: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        passwords.check_new_password(password, email="dora@team.example")
    assert caught.value.field == "password" and problem in caught.value.problem
