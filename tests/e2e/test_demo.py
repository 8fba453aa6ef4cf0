"""`candor demo` from a user's shell: seeds, shows the gate and runs a journey over SMTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

from fastapi.testclient import TestClient
from pytest import MonkeyPatch

from candor.accounts.api_keys import authenticate
from candor.core.context import Candor
from candor.store.engine import reading
from candor.web import create_app

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_a_journey_into_the_mail_sink(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    env["CANDOR_DEMO_MAIL_DIR"] = str(tmp_path / "mail")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "candor",
            "demo",
            "--contacts",
            "300",
            "--config",
            str(ROOT / "examples" / "candor.yaml"),
            "--journey",
            str(ROOT / "examples" / "journeys" / "welcome.yaml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "seeded 300 contacts" in done.stdout
    assert "launched journey 'welcome_series'" in done.stdout
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert files, "the journey delivered nothing to the sink"
    first = message_from_bytes(files[0].read_bytes())
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["List-Unsubscribe"].startswith("<https://candor.example/u/")
    ids = [message_from_bytes(f.read_bytes())["Message-ID"] for f in files]
    assert len(ids) == len(set(ids)), "a message was delivered twice"
    _the_printed_team_link_leads_to_a_login(tmp_path, done.stdout, monkeypatch)


def _the_printed_team_link_leads_to_a_login(
    here: Path, stdout: str, monkeypatch: MonkeyPatch
) -> None:
    """The demo's closing link sets the admin's password; the admin then logs in."""
    found = re.search(r"http://127\.0\.0\.1:8000(/team/set-password/[\w-]+)", stdout)
    assert found and "admin@candor.example" in stdout, stdout[-600:]
    monkeypatch.chdir(here)
    cx = Candor.open(f"sqlite:///{here / 'candor.db'}")
    try:
        client = TestClient(create_app(cx))
        form = client.get(found.group(1))
        assert form.status_code == 200 and "Demo Admin" in form.text
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token
        password = "a demo password for the team"
        set_it = {"csrf": token.group(1), "password": password, "repeat": password}
        assert client.post(found.group(1), data=set_it).status_code == 200
        login = client.get("/team/login")
        token = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert token
        answer = client.post(
            "/team/login",
            data={"csrf": token.group(1), "email": "admin@candor.example", "password": password},
        )
        assert answer.status_code == 200 and "Mission Control" in answer.text
        assert "/team/members" in answer.text  # the admin's navigation
    finally:
        cx.dispose()


def test_demo_ends_with_next_steps_and_a_working_admin_login(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    done = subprocess.run(
        [sys.executable, "-m", "candor", "demo", "--contacts", "50"],
        cwd=tmp_path,
        env={**env, "CANDOR_DEMO_MAIL_DIR": str(tmp_path / "mail")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    steps = done.stdout.split("Next steps:")[1]
    assert f'export PATH="{Path(sys.executable).parent}:$PATH"' in steps
    assert f"cd {tmp_path} && candor serve" in steps
    assert "/team/login" in steps and "/docs" in steps
    key = re.search(r"Bearer (cnd_\S+)\"", steps)
    assert key is not None, steps
    cx = Candor.open(f"sqlite:///{tmp_path / 'candor.db'}")
    try:
        with reading(cx.engine) as conn:
            principal = authenticate(conn, key.group(1))
    finally:
        cx.dispose()
    assert principal is not None and principal.role == "admin"
