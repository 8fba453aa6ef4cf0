"""Bounces and complaints over real SMTP: Candor sends (VERP, DKIM, List-Id, Feedback-ID) to a
receiving server, which mails back a DSN and an ARF report to `bounces serve`'s receiver."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from pathlib import Path

import dkim
import pytest
from sqlalchemy import select

from candor.channels.bounces import BounceServer
from candor.channels.dispatch import dispatch_due
from candor.channels.dkim_sign import public_record
from candor.channels.email_settings import BounceSettings
from candor.channels.report_review import discard_held, held_reports, read_held
from candor.channels.verp import read_return_path
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.ledger.blocks import list_blocks
from candor.store.channel_tables import delivery_reports
from candor.store.sync_tables import sync_events
from candor.store.tables import addresses, communications
from tests.channels.feedback_support import (
    BOUNCE_DOMAIN,
    FEEDBACK_ADDRESS,
    configure_email,
    dkim_key,
)
from tests.channels.receiving_mta import ReceivingMta, dsn
from tests.channels.test_dispatch_support import add_contact, enqueue, outbox_row
from tests.sync.conftest import connect, hook

HARD, COMPLAINS, FINE = "gone@example.net", "angry@example.net", "happy@example.net"


def _deliverable(cx: Candor) -> dict[int, bool]:
    with cx.engine.connect() as conn:
        rows = conn.execute(select(addresses.c.contact_id, addresses.c.deliverable))
        return dict(rows.all())


def _status(cx: Candor, outbox_id: int) -> str:
    comm = outbox_row(cx, outbox_id)["communication_id"]
    with cx.engine.connect() as conn:
        query = select(communications.c.delivery_status).where(communications.c.id == comm)
        return str(conn.execute(query).scalar_one())


def test_a_hard_bounce_and_a_complaint_come_back_and_are_applied(
    configured: Candor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    monkeypatch.setenv("SYNC_SECRET", "s" * 32)
    connect(cx, [hook("crm", identifier="email")])  # the CRM knows people by e-mail
    key_file = dkim_key(tmp_path)
    bounces = BounceSettings(domain=BOUNCE_DOMAIN)
    with BounceServer(cx, bounces, port=0) as receiver:
        mta = ReceivingMta(
            receiver.host,
            receiver.port,
            hard={HARD},
            complain={COMPLAINS},
            feedback_address=FEEDBACK_ADDRESS,
        )
        with mta:
            configure_email(cx, mta.port, key_file)
            rows = {}
            with cx.engine.begin() as conn:
                for address in (HARD, COMPLAINS, FINE):
                    contact = add_contact(conn, cx, email=address)
                    rows[address] = (contact, enqueue(conn, contact, at=cx.clock.now()))
            assert dispatch_due(cx) == 3
            assert receiver.wait_for(2)

    record = public_record(key_file.read_bytes()).encode()  # what DNS would publish
    for sender, rcpt, content in mta.received:
        outbox_id = rows[rcpt][1]
        assert read_return_path(cx.vault.signing_key, sender, BOUNCE_DOMAIN) == outbox_id
        assert dkim.verify(content, dnsfunc=lambda name, timeout=5: record)
    headers = mta.headers_of(FINE)
    assert headers["List-Id"] == "<events.events.example.org>"
    assert headers["Feedback-ID"] == "none.send:events:marketing:candor"
    assert "list-id" in headers["DKIM-Signature"] and "feedback-id" in headers["DKIM-Signature"]

    hard_contact, hard_row = rows[HARD]
    angry_contact, angry_row = rows[COMPLAINS]
    assert _deliverable(cx) == {hard_contact: False, angry_contact: True, rows[FINE][0]: True}
    assert _status(cx, hard_row) == "bounced"
    assert _status(cx, angry_row) == "complained"
    assert _status(cx, rows[FINE][1]) == "sent"
    with cx.engine.connect() as conn:
        (block,) = list_blocks(conn, angry_contact, cx.vault)
        published = conn.execute(select(sync_events.c.type, sync_events.c.contact_id)).all()
        kept = conn.execute(
            select(delivery_reports.c.kind, delivery_reports.c.effect, delivery_reports.c.state)
        ).all()
    assert (block["kind"], block["channel"], block["source"]) == ("address", "email", "complaint")
    assert block["communication_id"] == outbox_row(cx, angry_row)["communication_id"]
    assert block["evidence"]["feedback_type"] == "abuse"
    assert ("block.set", angry_contact) in published
    assert sorted(kept) == [
        ("bounce", "undeliverable", "applied"),
        ("complaint", "block", "applied"),
    ]


def test_soft_bounces_past_the_limit_in_the_window_make_the_address_undeliverable(
    configured: Candor, clock: ManualClock, tmp_path: Path
) -> None:
    cx = configured
    bounces = BounceSettings(domain=BOUNCE_DOMAIN, soft_limit=2, soft_window="P7D")
    with BounceServer(cx, bounces, port=0) as receiver:
        mta = ReceivingMta(receiver.host, receiver.port, soft={HARD})
        with mta:
            configure_email(cx, mta.port, soft_limit=2, soft_window="P7D")
            with cx.engine.begin() as conn:
                contact = add_contact(conn, cx, email=HARD)
            for round_, wait in enumerate((timedelta(days=8), timedelta(days=1), None), 1):
                with cx.engine.begin() as conn:
                    enqueue(conn, contact, at=cx.clock.now(), key=f"soft-{round_}")
                assert dispatch_due(cx) == 1
                assert receiver.wait_for(round_)
                if round_ < 3:
                    assert _deliverable(cx)[contact] is True  # one in the window, then two
                if wait is not None:
                    clock.advance(wait)
    assert _deliverable(cx)[contact] is False


def test_a_mail_nobody_can_read_is_kept_for_review_and_can_be_discarded(
    configured: Candor,
) -> None:
    cx = configured
    raw = b"From: someone@example.net\r\nSubject: Re: your mail\r\n\r\nPlease call me.\r\n"
    with BounceServer(cx, BounceSettings(domain=BOUNCE_DOMAIN), port=0) as receiver:
        with smtplib.SMTP(receiver.host, receiver.port) as smtp:
            smtp.sendmail("someone@example.net", [f"bounces+1-00@{BOUNCE_DOMAIN}"], raw)
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                smtp.sendmail("x@example.net", ["postmaster@elsewhere.example"], raw)
            orphan = dsn(raw, "bounces+999-0000000000000000@" + BOUNCE_DOMAIN, "a@example.net")
            smtp.sendmail("", [FEEDBACK_ADDRESS], orphan)
        assert receiver.wait_for(2)
    with cx.engine.begin() as conn:
        held = held_reports(conn)
        assert [h.problem for h in held] == ["not a multipart/report", "matches no message"]
        assert read_held(conn, cx.vault, held[0].id, actor="test", at=cx.clock.now()) == raw
        discard_held(conn, cx.vault, held[0].id, actor="test", at=cx.clock.now())
    with cx.engine.begin() as conn:
        assert [h.readable for h in held_reports(conn)] == [False, True]
        with pytest.raises(NotFound):
            read_held(conn, cx.vault, held[0].id, actor="test", at=cx.clock.now())
