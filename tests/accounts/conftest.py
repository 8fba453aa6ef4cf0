"""Accounts tests: the product on each database, argon2 at its cheapest (see tests/conftest)."""

from __future__ import annotations

import pytest

from candor.core.context import Candor


@pytest.fixture
def team(cx: Candor, cheap_passwords: None) -> Candor:
    return cx
