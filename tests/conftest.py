"""Shared fixtures: every database test runs on SQLite and, when CANDOR_TEST_POSTGRES_URL is
set, on PostgreSQL too (a private schema per test session, truncated between tests)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.config import apply_config, load_config_file
from candor.store.engine import make_engine
from candor.store.keystore import init_keystore
from candor.store.migrate import upgrade
from candor.store.schema import metadata
from candor.store.vault import generate_master_key

POSTGRES_URL = os.environ.get("CANDOR_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]
FIXTURES = Path(__file__).parent / "fixtures"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "candor.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    return path


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """A private schema in the test database, migrated once per session."""
    assert POSTGRES_URL is not None
    schema = f"candor_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated data database on each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copy(template, tmp_path / "candor.db")
        return f"sqlite:///{tmp_path / 'candor.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    engine = make_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = generate_master_key()
    monkeypatch.setenv("CANDOR_MASTER_KEY", key)
    return key


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def cx(db_url: str, tmp_path: Path, clock: ManualClock, master_key: str) -> Iterator[Candor]:
    """The product opened on a clean database with its own key store and a manual clock."""
    keystore = f"sqlite:///{tmp_path / 'candor-keys.db'}"
    candor = Candor.open(db_url, keystore=keystore, clock=clock)
    init_keystore(candor.vault.keystore)
    yield candor
    candor.dispose()


@pytest.fixture
def configured(cx: Candor) -> Candor:
    """The product with tests/fixtures/candor.yaml applied."""
    config = load_config_file(FIXTURES / "candor.yaml")
    with cx.engine.begin() as conn:
        apply_config(conn, config, actor="test", at=cx.clock.now())
    return cx


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its cheapest parameters, so the many logins of page tests stay fast; the
    production parameters are checked in tests/accounts/test_passwords.py."""
    from argon2 import PasswordHasher, profiles

    from candor.accounts import passwords

    monkeypatch.setattr(passwords, "hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


def add_member_with_password(
    cx: Candor, email: str, role: str, password: str, name: str = ""
) -> int:
    """A team member who has already set `password` through their one-time link."""
    from candor.accounts.members import add_member, set_password_with_link

    with cx.engine.begin() as conn:
        link = add_member(conn, email, role, name=name, actor="test", at=cx.clock.now())
        set_password_with_link(conn, link.token, password, at=cx.clock.now())
    return link.member.id
