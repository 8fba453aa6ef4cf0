"""The forms tests run against the test registry plus a sign-up form (tests.always_on)."""

from __future__ import annotations

import pytest

from candor.core.context import Candor
from tests.always_on import apply_always_on


@pytest.fixture
def signup(configured: Candor) -> Candor:
    return apply_always_on(configured)
