"""The rights journeys end to end through the CLI: the example files, real SMTP, the download."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from candor.channels.mailsink import MailSink
from candor.cli import app as cli
from candor.core.context import Candor
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.rights.certificates import certificate_of
from candor.store.engine import reading
from candor.store.tables import addresses, consent_events
from candor.web import create_app
from tests.channels.test_dispatch_support import PUBLIC_URL, configure_channels
from tests.journeys.runtime.helpers import add_contact, consent

EXAMPLES = Path(__file__).parents[2] / "examples" / "journeys"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/download/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=0) as running:
        yield running


def invoke(cx: Candor, *args: str) -> tuple[int, str]:
    base = ["--database", cx.url, "--keystore", str(cx.vault.keystore.url)]
    result = CliRunner().invoke(cli, [*base, *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("name", ["data-copy.yaml", "forget-me.yaml"])
def test_the_examples_validate_and_lint(configured: Candor, name: str) -> None:
    for command in ("validate", "lint"):
        code, out = invoke(configured, "journey", command, str(EXAMPLES / name))
        assert code == 0, out
        assert "error:" not in out and "warning" not in out, out


def test_data_copy_journey_mails_a_link_and_the_link_serves_the_copy(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    alice = add_contact(cx, 1, attributes={"customer_value": 987.25})
    add_contact(cx, 2, attributes={"country": "FR"})  # not in the target group
    consent(cx, alice, "events")

    code, out = invoke(cx, "journey", "launch", str(EXAMPLES / "data-copy.yaml"))
    assert code == 0 and "1 entered of 1 in the target group" in out, out
    code, out = invoke(cx, "journey", "run", "--until-idle")
    assert code == 0, out

    (mail,) = sink.messages()
    assert mail["To"] == "person1@example.com" and "Name1" in mail["Subject"]
    body = mail.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    (path,) = LINK.findall(text)
    prose = text.replace(path, "")  # a link, never the data; the token itself is random
    assert "987.25" not in prose and "events" not in prose
    http = TestClient(create_app(cx))
    page = http.get(path)
    assert page.status_code == 200 and "Name1" in page.text and "987.25" in page.text
    exported = http.get(path, params={"format": "json"}).json()
    assert exported["contact"]["first_name"] == "Name1"
    assert [a["value"] for a in exported["addresses"]] == ["person1@example.com"]
    code, out = invoke(cx, "journey", "status", "data_copy", "--json")
    assert code == 0 and '"delivered": 1' in out.replace("\n", " ").replace("  ", " "), out


def test_forget_me_journey_erases_the_target_group(configured: Candor) -> None:
    cx = configured
    old = add_contact(cx, 1, attributes={"last_order": "2018-06-01"})
    recent = add_contact(cx, 2, attributes={"last_order": "2025-06-01"})
    consent(cx, old, "events")

    code, out = invoke(cx, "journey", "launch", str(EXAMPLES / "forget-me.yaml"))
    assert code == 0 and "1 entered of 1 in the target group" in out, out
    code, out = invoke(cx, "journey", "run", "--until-idle", "--no-dispatch")
    assert code == 0, out

    with reading(cx.engine) as conn:
        certificate = certificate_of(conn, old)
        service = purpose_facts(conn, "service")
        at = cx.clock.now().replace(year=2100)
        gone = decide_for(conn, old, service, "email", None, None, at)
        kept = decide_for(conn, recent, service, "email", None, None, at)
        left = conn.execute(
            select(func.count()).select_from(addresses).where(addresses.c.contact_id == old)
        ).scalar_one()
        events = conn.execute(
            select(func.count())
            .select_from(consent_events)
            .where(consent_events.c.contact_id == old)
        ).scalar_one()
    assert certificate["scan"]["clean"] and certificate["actor"] == "journey:forget_inactive"
    assert certificate["deleted"]["addresses"] == 1 and certificate["key"]["destroyed"]
    assert (gone.reason, kept.reason) == ("erased", "allowed")
    assert left == 0 and events == 0
