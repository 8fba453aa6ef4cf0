"""The first hour of a new user at the shell: what the commands say, and what they refuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from candor.cli import app as cli
from candor.core.context import Candor
from candor.figures.mission_control import journey_figures
from candor.store.tables import purposes, settings
from tests.journeys.runtime.helpers import add_contact, block, invite_then_wait, journey_yaml


def invoke(cx: Candor, *args: str) -> tuple[int, str]:
    base = ["--database", cx.url, "--keystore", str(cx.vault.keystore.url)]
    result = CliRunner().invoke(cli, [*base, *args])
    return result.exit_code, result.output


def test_launch_says_how_many_of_the_target_group_entered_and_why_not_the_rest(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    add_contact(cx, 1)
    add_contact(cx, 2)
    blocked = add_contact(cx, 3)
    block(cx, blocked)  # a complete advertising block: never enters
    journey = tmp_path / "promo.yaml"
    journey.write_text(journey_yaml(invite_then_wait("P14D")))
    code, out = invoke(cx, "journey", "launch", str(journey))
    assert code == 0, out
    assert "2 entered of 3 in the target group; not entered: blocked:all 1" in out, out
    with cx.engine.connect() as conn:
        (shown,) = journey_figures(conn)
    enter = shown["steps"]["(enter)"]
    assert (shown["entered"], enter["stopped"]) == (2, {"blocked:all": 1})  # Mission Control


def test_mailsink_announces_itself_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    sink = subprocess.Popen(
        [sys.executable, "-m", "candor", "mailsink", "--port", "0", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert sink.stdout is not None
    first = sink.stdout.readline()  # blocks until the sink listens
    sink.send_signal(signal.SIGTERM)
    rest = sink.communicate(timeout=30)[0]
    assert first.startswith("mail sink on 127.0.0.1:"), first
    assert (first + rest).count("mail sink on") == 1, first + rest
    assert "mail sink stopped" in rest


BAD_SECTIONS = [
    ("public_url: http://candor.example\n", "public_url: must be an https URL"),
    (
        "channels: {email: {smtp_url: 'http://mail.example', from: news@candor.example}}\n",
        "channels.email.smtp_url: unsupported SMTP URL scheme 'http'",
    ),
    (
        "channels: {email: {smtp_url: 'smtp://mail.example:twentyfive'}}\n",
        "channels.email.smtp_url: SMTP URL has an invalid port",
    ),
    ("rights: {erasure_reveiw: true}\n", "rights.erasure_reveiw: Extra inputs are not permitted"),
    (
        "connectors: [{id: shop, url: 'https://shop.example/hook', secret_env: SHOP_SECRET}]\n",
        "sync.name: not set while connectors are declared; name this instance",
    ),
]


@pytest.mark.parametrize(("section", "message"), BAD_SECTIONS)
def test_config_apply_refuses_a_bad_section_naming_its_key(
    cx: Candor, tmp_path: Path, section: str, message: str
) -> None:
    file = tmp_path / "candor.yaml"
    purpose = "purposes: [{id: s, name: S, kind: service, legal_basis: contract, wording: w}]\n"
    file.write_text(purpose + section)
    code, out = invoke(cx, "config", "apply", str(file))
    assert code == 2 and f"candor.yaml: {message}" in out, out
    with cx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(settings)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(purposes)).scalar_one() == 0


def test_journey_validate_reports_structural_and_reference_errors_in_one_run(
    configured: Candor, tmp_path: Path
) -> None:
    steps = invite_then_wait("P14D")
    broken = [
        {**steps[0], "template": "no_such_template", "theme": "no_such_theme"},  # references
        {**steps[1], "duration": "soon"},  # structure: not a duration
        *steps[2:],
    ]
    file = tmp_path / "both.yaml"
    file.write_text(journey_yaml(broken, purpose="no_such_purpose"))
    code, out = invoke(configured, "journey", "validate", str(file))
    assert code == 1
    assert "steps[1].duration" in out, out  # structural
    assert "unknown template 'no_such_template'" in out, out  # references, in the same run
    assert "unknown theme 'no_such_theme'" in out and "unknown purpose 'no_such_purpose'" in out
