"""`candor bounces serve|poll|review|show|discard` from a user's shell."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import yaml

from tests.channels.imap_server import ImapServer, Mailbox
from tests.channels.receiving_mta import dsn
from tests.e2e.test_foundation_cli import FIXTURES, candor

DOMAIN = "bounces.example.org"
ORPHAN = dsn(b"Subject: hi\r\n\r\nx\r\n", f"bounces+77-0000000000000000@{DOMAIN}", "x@example.net")


def _home(tmp_path: Path, imap_port: int = 1) -> Path:
    assert candor(tmp_path, "init").returncode == 0
    config = yaml.safe_load((FIXTURES / "candor.yaml").read_text())
    config["public_url"] = "https://candor.example"
    config["channels"] = {
        "email": {
            "smtp_url": "smtp://127.0.0.1:9",
            "from": "news@example.org",
            "bounces": {
                "domain": DOMAIN,
                "imap_url": f"imap://bounces@127.0.0.1:{imap_port}/INBOX",
                "imap_password_env": "BOUNCE_IMAP_PASSWORD",
            },
        }
    }
    (tmp_path / "candor.yaml").write_text(yaml.safe_dump(config))
    assert candor(tmp_path, "config", "apply", "candor.yaml").returncode == 0
    return tmp_path


def test_poll_takes_the_mailbox_in_and_review_show_discard_handle_what_matched_nothing(
    tmp_path: Path,
) -> None:
    box = Mailbox("bounces", "secret")
    box.add(ORPHAN)
    with ImapServer(box) as server:
        home = _home(tmp_path, server.port)
        missing = candor(home, "bounces", "poll")
        assert missing.returncode == 2 and "BOUNCE_IMAP_PASSWORD" in missing.stderr
        polled = candor(home, "bounces", "poll", env={"BOUNCE_IMAP_PASSWORD": "secret"})
    assert polled.returncode == 0, polled.stderr
    assert "1 messages: 0 reports applied, 1 held for review" in polled.stdout
    assert box.messages == []
    listed = candor(home, "bounces", "review")
    found = re.search(r"#(\d+) email .* matches no message", listed.stdout)
    assert found is not None, listed.stdout
    shown = candor(home, "bounces", "show", found.group(1))
    assert "Reporting-MTA: dns; mx.example.net" in shown.stdout
    assert candor(home, "bounces", "discard", found.group(1)).returncode == 0
    assert "(discarded)" in candor(home, "bounces", "review").stdout
    again = candor(home, "bounces", "show", found.group(1))
    assert again.returncode == 2 and "not found" in again.stderr


def test_serve_receives_reports_until_stopped(tmp_path: Path) -> None:
    home = _home(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "candor", "bounces", "serve", "--port", "0"],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(rf"bounces for {DOMAIN} on 127\.0\.0\.1:(\d+)", line)
        assert found is not None, line + (process.stderr.read() if process.stderr else "")
        with smtplib.SMTP("127.0.0.1", int(found.group(1))) as smtp:
            smtp.sendmail("", [f"bounces+77-0000000000000000@{DOMAIN}"], ORPHAN)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert "matches no message" in candor(home, "bounces", "review").stdout


def test_without_a_bounce_domain_the_commands_say_what_is_missing(tmp_path: Path) -> None:
    assert candor(tmp_path, "init").returncode == 0
    result = candor(tmp_path, "bounces", "poll")
    assert result.returncode == 2 and "channels.email.bounces" in result.stderr
