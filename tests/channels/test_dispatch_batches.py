"""Dispatch of whole batches: one gate query, records matched per row, a compose crash mid-send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from candor.channels import compose
from candor.channels.dispatch import dispatch_due
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.blocks import set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.store.journey_tables import outbox
from candor.store.tables import communications
from tests.channels.test_dispatch_support import (
    add_contact,
    configure_channels,
    enqueue,
    outbox_row,
)


def test_a_batch_of_many_contacts_is_decided_row_by_row(configured: Candor, sink: MailSink) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        people = [add_contact(conn, cx, email=f"p{i}@example.com") for i in range(45)]
        rows = {p: enqueue(conn, p, at=cx.clock.now(), key=f"batch:{p}") for p in people}
    withdrawn, blocked = {people[0], people[21], people[44]}, {people[19], people[40]}
    with cx.engine.begin() as conn:
        for person in withdrawn:
            consent = ConsentInput(purpose="events", status="withdrawn", source="api")
            record_consent(conn, cx.vault, person, consent, actor="test", at=cx.clock.now())
        for person in blocked:
            set_block(
                conn,
                cx.vault,
                person,
                reason="asked",
                source="api",
                actor="test",
                at=cx.clock.now(),
            )

    assert dispatch_due(cx) == 40
    for person, row_id in rows.items():
        row = outbox_row(cx, row_id)
        if person in withdrawn | blocked:
            assert row["status"] == "cancelled"
            expected = "withdrawn" if person in withdrawn else "blocked:all"
            assert row["decision_reason"] == expected
        else:
            assert row["status"] == "sent"
    assert sink.count() == 40
    # Every sent row points at its own communication, whatever order the ids came back in.
    with cx.engine.connect() as conn:
        linked = conn.execute(
            select(outbox.c.id, outbox.c.contact_id, communications.c.contact_id.label("to"))
            .join(communications, communications.c.id == outbox.c.communication_id)
            .where(communications.c.content_ref.like("outbox:%"))
        ).all()
        refs = dict(
            conn.execute(
                select(outbox.c.id, communications.c.content_ref).join(
                    communications, communications.c.id == outbox.c.communication_id
                )
            ).all()
        )
    assert len(linked) == 40 and all(r.contact_id == r.to for r in linked)
    assert all(ref.startswith(f"outbox:{row_id};") for row_id, ref in refs.items())


def test_a_crash_while_composing_records_what_was_sent_and_never_sends_it_again(
    configured: Candor, clock: ManualClock, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        people = [add_contact(conn, cx, email=f"p{i}@example.com") for i in range(5)]
        rows = [enqueue(conn, p, at=cx.clock.now(), key=f"crash:{p}") for p in people]
    real = compose.Composer.compose

    def crashing(self: compose.Composer, row: Any) -> Any:
        if row["id"] == rows[2]:
            raise RuntimeError("template engine bug")
        return real(self, row)

    monkeypatch.setattr(compose.Composer, "compose", crashing)
    with pytest.raises(RuntimeError, match="template engine bug"):
        dispatch_due(cx)
    assert [outbox_row(cx, r)["status"] for r in rows] == ["sent", "sent"] + ["queued"] * 3
    assert sink.count() == 2

    monkeypatch.setattr(compose.Composer, "compose", real)
    clock.advance(timedelta(hours=1))  # past the back-off
    assert dispatch_due(cx) == 3
    assert [outbox_row(cx, r)["status"] for r in rows] == ["sent"] * 5
    ids = [m["Message-ID"] for m in sink.messages()]
    assert len(ids) == 5 and len(set(ids)) == 5  # each message exactly once
