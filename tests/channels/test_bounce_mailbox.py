"""`bounces poll`: reports from an IMAP mailbox (a local IMAP server), applied, then deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from candor.channels.bounce_mailbox import MailboxError, poll_mailbox
from candor.channels.dispatch import dispatch_due
from candor.channels.email_settings import BounceSettings
from candor.channels.mailsink import MailSink
from candor.channels.report_review import held_reports
from candor.channels.verp import return_path
from candor.core.context import Candor
from candor.store.tables import addresses
from tests.channels.feedback_support import BOUNCE_DOMAIN, FEEDBACK_ADDRESS, configure_email
from tests.channels.imap_server import ImapServer, Mailbox
from tests.channels.receiving_mta import arf, dsn
from tests.channels.test_dispatch_support import add_contact, enqueue

PASSWORD_ENV = "CANDOR_TEST_IMAP_PASSWORD"


def _settings(port: int) -> BounceSettings:
    return BounceSettings(
        domain=BOUNCE_DOMAIN,
        imap_url=f"imap://bounces@127.0.0.1:{port}/INBOX",
        imap_password_env=PASSWORD_ENV,
    )


def test_reports_in_the_mailbox_are_applied_and_only_then_deleted(
    configured: Candor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_email(cx, sink.port)
        with cx.engine.begin() as conn:
            gone = add_contact(conn, cx, email="gone@example.net")
            angry = add_contact(conn, cx, email="angry@example.net")
            rows = {gone: enqueue(conn, gone, at=cx.clock.now())}
            rows[angry] = enqueue(conn, angry, at=cx.clock.now())
        assert dispatch_due(cx) == 2
        sent = {m["To"]: m.as_bytes() for m in sink.messages()}
    verp = {c: return_path(cx.vault.signing_key, row, BOUNCE_DOMAIN) for c, row in rows.items()}
    box = Mailbox("bounces", "secret")
    box.add(dsn(sent["gone@example.net"], verp[gone], "gone@example.net"))
    box.add(arf(sent["angry@example.net"], verp[angry], "angry@example.net", FEEDBACK_ADDRESS))
    box.add(b"Subject: autoreply\r\n\r\nI am on holiday.\r\n")
    with ImapServer(box) as server:
        result = poll_mailbox(cx, _settings(server.port))
    assert (result.messages, result.applied, result.review) == (3, 2, 1)
    assert (result.undeliverable, result.blocks) == (1, 1)
    assert box.messages == []
    with cx.engine.connect() as conn:
        flags = dict(conn.execute(select(addresses.c.contact_id, addresses.c.deliverable)).all())
        assert [h.problem for h in held_reports(conn)] == ["not a multipart/report"]
    assert flags == {gone: False, angry: True}


def test_a_wrong_password_or_folder_stops_with_a_clear_error_and_keeps_the_mail(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = Mailbox("bounces", "secret")
    box.add(b"Subject: x\r\n\r\ny\r\n")
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with ImapServer(box) as server, pytest.raises(MailboxError, match="login or folder"):
        poll_mailbox(configured, _settings(server.port))
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(MailboxError, match="imap_password_env"):
        poll_mailbox(configured, _settings(1))
    assert len(box.messages) == 1
