"""How browser tests become a team member: the ONE place that creates a member and logs in.

A member is a team account with a password (argon2, hashed at the cheapest parameters in
tests that use the `cheap_passwords` fixture), logged in through the login form.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from candor.core.context import Candor
from tests.conftest import add_member_with_password

PASSWORD = "a long test password for the team"
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Member:
    """A team member a test logs in as: the role and what the login form needs."""

    id: int
    role: str
    name: str
    email: str
    password: str

    @property
    def actor(self) -> str:
        """How audit entries name this member."""
        return f"member:{self.id}"


def team_member(cx: Candor, role: str, name: str | None = None) -> Member:
    """Create a member with `role` and a password already set through their one-time link."""
    name = name or f"{role.title()} Member"
    email = f"{role}{next(_NUMBERS)}@team.example"
    member_id = add_member_with_password(cx, email, role, PASSWORD, name=name)
    return Member(member_id, role, name, email, PASSWORD)


def log_in(page: Any, base: str, member: Member) -> None:
    """Log the page in as `member` through the login form; returns on Mission Control."""
    page.goto(f"{base}/team/login")
    page.get_by_label("E-mail").fill(member.email)
    page.get_by_label("Password").fill(member.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/team/mission-control")
