"""Applying reports: states only move forward, reports that beat the send's record wait for
it, a repeated complaint sets one block, and nothing that arrives is dropped."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from candor.channels.delivery import apply_reports
from candor.channels.dispatch import dispatch_due
from candor.channels.mailsink import MailSink
from candor.channels.reports import Report, advances
from candor.core.context import Candor
from candor.ledger.blocks import list_blocks
from candor.store.channel_tables import delivery_reports
from candor.store.journey_tables import outbox
from candor.store.tables import addresses, communications
from tests.channels.test_dispatch_support import add_contact, configure_channels, enqueue


def test_states_never_move_back() -> None:
    assert advances(None, "queued") and advances("queued", "sent")
    assert advances("sent", "bounced") and advances("delivered", "complained")
    assert not advances("delivered", "sent") and not advances("complained", "delivered")


def _sent(cx: Candor, tmp_path: Path, *, gate_picks_address: bool = False) -> tuple[int, int]:
    """(contact, outbox row) of one e-mail sent to a sink."""
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        with cx.engine.begin() as conn:
            contact = add_contact(conn, cx, email="a@example.net")
            row = enqueue(conn, contact, at=cx.clock.now())
            if gate_picks_address:  # as rights messages queue them: the gate resolves it
                conn.execute(update(outbox).where(outbox.c.id == row).values(address_id=None))
        assert dispatch_due(cx) == 1
    return contact, row


def _bounce(row: int) -> Report:
    return Report("email", "bounce", "bounced", "undeliverable", "5.1.1", outbox_id=row)


def _complaint(row: int) -> Report:
    evidence = {"feedback_type": "abuse"}
    return Report("email", "complaint", "complained", "block", "abuse", row, evidence=evidence)


def test_a_bounce_finds_the_address_the_gate_resolved_at_sending(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    _, row = _sent(cx, tmp_path, gate_picks_address=True)
    with cx.engine.begin() as conn:
        done = apply_reports(conn, cx.vault, [_bounce(row)], at=cx.clock.now())
        deliverable = conn.execute(select(addresses.c.deliverable)).scalar_one()
    assert (done.applied, done.undeliverable, deliverable) == (1, 1, False)


def test_reports_that_beat_the_record_wait_and_are_settled_by_it(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        with cx.engine.begin() as conn:
            contact = add_contact(conn, cx, email="a@example.net")
            row = enqueue(conn, contact, at=cx.clock.now())
            conn.execute(update(outbox).where(outbox.c.id == row).values(address_id=None))
            # The provider was faster than our record: the row is still being sent.
            conn.execute(update(outbox).where(outbox.c.id == row).values(status="sending"))
            done = apply_reports(conn, cx.vault, [_complaint(row)], at=cx.clock.now())
            assert (done.waiting, done.blocks) == (1, 0)
            conn.execute(update(outbox).where(outbox.c.id == row).values(status="queued"))
        assert dispatch_due(cx) == 1
    with cx.engine.connect() as conn:
        state = conn.execute(select(communications.c.delivery_status)).scalar_one()
        kept = conn.execute(select(delivery_reports.c.state, delivery_reports.c.address_id)).one()
        (block,) = list_blocks(conn, contact, cx.vault)
    assert state == "complained" and kept.state == "applied" and kept.address_id is not None
    assert block["communication_id"] is not None and block["evidence"]["feedback_type"] == "abuse"


def test_a_repeated_complaint_sets_one_block_and_is_kept_twice(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    contact, row = _sent(cx, tmp_path)
    for _ in range(2):
        with cx.engine.begin() as conn:
            apply_reports(conn, cx.vault, [_complaint(row)], at=cx.clock.now())
    with cx.engine.connect() as conn:
        assert len(list_blocks(conn, contact)) == 1
        assert len(conn.execute(select(delivery_reports.c.id)).all()) == 2


def test_stopping_marketing_in_whatsapp_sets_an_address_block(configured: Candor) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        contact = add_contact(conn, cx, phone="+4915123456780")
        row = enqueue(conn, contact, at=cx.clock.now(), channel="whatsapp")
        conn.execute(update(outbox).where(outbox.c.id == row).values(status="failed"))
        stopped = Report("whatsapp", "status", "failed", "block", "meta_131050", outbox_id=row)
        apply_reports(conn, cx.vault, [stopped], at=cx.clock.now())
        (block,) = list_blocks(conn, contact)
    assert (block["kind"], block["channel"], block["source"]) == ("address", "whatsapp", "provider")


def test_a_report_about_no_message_of_ours_is_held_for_review(configured: Candor) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        done = apply_reports(conn, cx.vault, [_bounce(999)], at=cx.clock.now())
        held = conn.execute(select(delivery_reports.c.state, delivery_reports.c.detail)).one()
    assert done.review == 1 and tuple(held) == ("review", "matches no message")
