"""The foundation from a user's shell: init, config, keys, import, decide, verify."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent.parent / "fixtures"


def candor(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "candor", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    result = candor(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path


def test_init_writes_a_private_key_file_and_both_databases(home: Path) -> None:
    key = home / "candor.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "candor.db").exists() and (home / "candor-keys.db").exists()
    assert candor(home, "init").returncode == 0  # upgrading again is harmless


def test_config_apply_reports_errors_and_applies_nothing(home: Path) -> None:
    bad = home / "bad.yaml"
    bad.write_text(
        "purposes:\n  - {id: x, name: X, kind: marketing, legal_basis: contract, wording: w}\n"
    )
    result = candor(home, "config", "apply", str(bad))
    assert result.returncode == 2
    assert "bad.yaml: purposes[0:x].legal_basis: marketing needs consent" in result.stderr
    with sqlite3.connect(home / "candor.db") as db:
        assert db.execute("select count(*) from purposes").fetchone()[0] == 0
    ok = candor(home, "config", "apply", str(FIXTURES / "candor.yaml"))
    assert ok.returncode == 0 and "purposes: created 6" in ok.stdout


def test_import_decide_and_verify(home: Path) -> None:
    assert candor(home, "config", "apply", str(FIXTURES / "candor.yaml")).returncode == 0
    csv = home / "people.csv"
    csv.write_text(
        "external_id,first_name,email,consent:events,country\n"
        "x1,Ann,ann@example.org,granted,DE\nx2,Bob,bad-address,granted,DE\nx3,Cy,cy@example.org,,DE\n"
    )
    result = candor(home, "contacts", "import", str(csv))
    assert result.returncode == 0, result.stderr
    assert "imported 2" in result.stdout and "rejected 1" in result.stdout
    assert "line 3: email: not a valid e-mail address" in result.stdout
    assert "bad-address" not in result.stdout  # no personal data echoed
    decided = candor(
        home,
        "decide",
        "--contact",
        "1",
        "--purpose",
        "events",
        "--channel",
        "email",
        "--theme",
        "events",
    )
    assert json.loads(decided.stdout)["allowed"] is True
    decided = candor(home, "decide", "--contact", "2", "--purpose", "events", "--channel", "email")
    assert json.loads(decided.stdout)["reason"] == "not_asked"
    assert candor(home, "ledger", "verify").returncode == 0
    with sqlite3.connect(home / "candor.db") as db:
        db.execute("update consent_events set status = 'refused' where id = 1")
    broken = candor(home, "ledger", "verify")
    assert broken.returncode == 1 and "first bad event 1" in broken.stderr


def test_api_key_is_printed_once_and_stored_hashed(home: Path) -> None:
    result = candor(home, "api-key", "create", "--role", "dpo")
    key = result.stdout.strip()
    assert result.returncode == 0 and key.startswith("cnd_")
    with sqlite3.connect(home / "candor.db") as db:
        stored = db.execute("select key_hash, role from api_keys").fetchall()
    assert stored and stored[0][1] == "dpo" and key not in stored[0][0]
    assert candor(home, "api-key", "create", "--role", "boss").returncode == 2


def test_commands_without_init_fail_clearly(tmp_path: Path) -> None:
    result = candor(tmp_path, "ledger", "verify")
    assert result.returncode == 2 and "candor init" in result.stderr
