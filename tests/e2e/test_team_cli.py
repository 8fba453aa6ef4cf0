"""Team members and API keys from a user's shell: `candor user ...` and `candor api-key ...`."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_foundation_cli import candor, home  # noqa: F401  (the `home` fixture)

LINK = re.compile(r"http://127\.0\.0\.1:8000/team/set-password/[A-Za-z0-9_-]{40,}")


def test_members_are_added_with_a_link_listed_re_roled_and_disabled(home: Path) -> None:  # noqa: F811
    added = candor(home, "user", "add", "--email", "Ada@Team.Example", "--role", "admin")
    assert added.returncode == 0, added.stderr
    assert "ada@team.example (admin)" in added.stdout and LINK.search(added.stdout)
    dpo = candor(
        home,
        "user",
        "add",
        "--email",
        "dora@team.example",
        "--role",
        "dpo",
        "--name",
        "Dora",
        "--base-url",
        "https://candor.example.org",
    )
    assert "https://candor.example.org/team/set-password/" in dpo.stdout
    again = candor(home, "user", "add", "--email", "DORA@team.example", "--role", "dpo")
    assert again.returncode == 2 and "a member with this e-mail exists" in again.stderr
    bad = candor(home, "user", "add", "--email", "x@team.example", "--role", "owner")
    assert bad.returncode == 2 and "role: must be one of" in bad.stderr
    listed = candor(home, "user", "list")
    assert "dora@team.example" in listed.stdout and "no password yet" in listed.stdout
    link = candor(home, "user", "link", "--email", "dora@team.example")
    assert LINK.search(link.stdout)
    role = candor(home, "user", "role", "--email", "dora@team.example", "--role", "auditor")
    assert role.returncode == 0 and "dora@team.example is now auditor" in role.stdout
    last = candor(home, "user", "disable", "--email", "ada@team.example")
    assert last.returncode == 2 and "last active admin" in last.stderr
    done = candor(home, "user", "disable", "--email", "dora@team.example")
    assert done.returncode == 0 and "disabled dora@team.example" in done.stdout
    assert "disabled" in candor(home, "user", "list").stdout
    missing = candor(home, "user", "disable", "--email", "nobody@team.example")
    assert missing.returncode == 2 and "no member with this e-mail" in missing.stderr


def test_api_keys_are_listed_without_the_key_and_revoked(home: Path) -> None:  # noqa: F811
    key = candor(home, "api-key", "create", "--role", "marketer", "--name", "shop").stdout.strip()
    assert key.startswith("cnd_")
    listed = candor(home, "api-key", "list")
    assert "shop" in listed.stdout and "marketer" in listed.stdout and key not in listed.stdout
    revoked = candor(home, "api-key", "revoke", "1")
    assert revoked.returncode == 0 and "revoked key 1 (shop, marketer)" in revoked.stdout
    twice = candor(home, "api-key", "revoke", "1")
    assert twice.returncode == 2 and "already revoked" in twice.stderr
    assert candor(home, "api-key", "revoke", "7").returncode == 2
