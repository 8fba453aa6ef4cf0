"""Dispatch against a real SMTP sink: headers, links, Message-ID, records, gate at send time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update

from candor.channels.dispatch import claim, dispatch_due
from candor.channels.email import message_id_for
from candor.channels.mailsink import MailSink
from candor.channels.settings import ChannelSettingsError, DispatchSettings
from candor.channels.template_store import put_template
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.blocks import set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.journey_tables import journeys, outbox
from candor.store.tables import addresses, communications, settings
from tests.channels.conftest import REFUSED
from tests.channels.test_dispatch_support import (
    PUBLIC_URL,
    add_contact,
    configure_channels,
    enqueue,
    outbox_row,
)


def test_marketing_email_carries_one_click_unsubscribe_and_its_decision(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
        row_id = enqueue(conn, alice, at=cx.clock.now(), key="j1:alice:s1")

    assert dispatch_due(cx) == 1

    (message,) = sink.messages()
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Hello Alice: DE events"
    assert message["Message-ID"] == message_id_for("j1:alice:s1", "example.org")
    https, mailto = (part.strip().strip("<>") for part in message["List-Unsubscribe"].split(","))
    assert https.startswith(f"{PUBLIC_URL}/u/")
    assert mailto.startswith("mailto:unsubscribe@example.org?subject=unsubscribe-")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = message.get_body(("plain",))
    assert body is not None and https in body.get_content()
    html = message.get_body(("html",))
    assert html is not None and https in html.get_content()

    row = outbox_row(cx, row_id)
    assert row["status"] == "sent" and row["attempts"] == 1
    assert row["message_id"] == message["Message-ID"]
    with cx.engine.connect() as conn:
        comm = (
            conn.execute(
                select(communications).where(communications.c.id == row["communication_id"])
            )
            .mappings()
            .one()
        )
    assert comm["contact_id"] == alice and comm["direction"] == "out"
    assert comm["decision_reason"] == "allowed" and comm["decision_basis"] == "consent"
    assert comm["decision_event_id"] is not None
    assert comm["purpose_id"] == "events" and comm["theme"] == "events"

    # Dispatching again sends nothing: the row is done.
    assert dispatch_due(cx) == 0
    assert sink.count() == 1


def test_a_withdrawal_between_enqueue_and_dispatch_cancels_the_message(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
        bob = add_contact(conn, cx, email="bob@example.com", first_name="Bob")
        withdrawn = enqueue(conn, alice, at=cx.clock.now())
        blocked = enqueue(conn, bob, at=cx.clock.now())
    with cx.engine.begin() as conn:
        record_consent(
            conn,
            cx.vault,
            alice,
            ConsentInput(purpose="events", status="withdrawn", source="api"),
            actor="test",
            at=cx.clock.now(),
        )
        set_block(
            conn, cx.vault, bob, reason="asked", source="api", actor="test", at=cx.clock.now()
        )

    assert dispatch_due(cx) == 0
    assert sink.count() == 0
    assert outbox_row(cx, withdrawn)["status"] == "cancelled"
    assert outbox_row(cx, withdrawn)["decision_reason"] == "withdrawn"
    assert outbox_row(cx, blocked)["decision_reason"] == "blocked:all"


def test_a_refused_recipient_makes_the_address_undeliverable(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        gone = add_contact(conn, cx, email=REFUSED)
        row_id = enqueue(conn, gone, at=cx.clock.now())

    assert dispatch_due(cx) == 0
    row = outbox_row(cx, row_id)
    assert (row["status"], row["error"]) == ("failed", "smtp_550")
    with cx.engine.connect() as conn:
        deliverable = conn.execute(
            select(addresses.c.deliverable).where(addresses.c.id == row["address_id"])
        ).scalar_one()
        decision = decide_for(
            conn,
            gone,
            purpose_facts(conn, "events"),
            "email",
            None,
            theme_ref(conn, "events"),
            cx.clock.now(),
        )
    assert deliverable is False
    assert decision.reason == "undeliverable"


def test_a_double_opt_in_confirmation_carries_no_advertising(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        carol = add_contact(conn, cx, email="carol@example.com", consent=None)
        pending = record_consent(
            conn,
            cx.vault,
            carol,
            ConsentInput(purpose="newsletter", status="granted", source="form", channel="email"),
            actor="test",
            at=cx.clock.now(),
        )
        # A complete advertising block does not stop a confirmation (it is not advertising).
        set_block(
            conn, cx.vault, carol, reason="no ads", source="api", actor="test", at=cx.clock.now()
        )
        enqueue(
            conn,
            carol,
            at=cx.clock.now(),
            template="confirm",
            purpose="newsletter",
            theme=None,
            kind="confirmation",
            context={"doi_token": pending.confirmation_token},
        )

    assert dispatch_due(cx) == 1
    (message,) = sink.messages()
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None
    body = message.get_body(("plain",))
    assert body is not None
    assert f"{PUBLIC_URL}/confirm/{pending.confirmation_token}" in body.get_content()
    assert "/u/" not in body.get_content()


def test_a_crashed_claim_is_retried_after_its_lease_with_the_same_message_id(
    configured: Candor, clock: ManualClock, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port, dispatch={"lease_seconds": 300})
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
        row_id = enqueue(conn, alice, at=cx.clock.now(), key="j1:alice:s1")

    # A worker claims the row and dies before it sends or records anything.
    (claimed,) = claim(cx, ["email"], 10, DispatchSettings(lease_seconds=300))
    assert claimed["status"] == "sending" and claimed["attempts"] == 1

    assert dispatch_due(cx) == 0  # the lease still holds
    clock.advance(timedelta(seconds=301))
    assert dispatch_due(cx) == 1
    row = outbox_row(cx, row_id)
    assert row["attempts"] == 2
    (message,) = sink.messages()
    assert message["Message-ID"] == message_id_for("j1:alice:s1", "example.org")


def test_a_marketing_template_without_a_link_gets_a_visible_unsubscribe_line(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        put_template(
            conn,
            "bare",
            {"email": {"subject": "Hi", "text": "Offers!"}},
            actor="test",
            at=cx.clock.now(),
        )
        alice = add_contact(conn, cx, email="alice@example.com")
        enqueue(conn, alice, at=cx.clock.now(), template="bare")
    assert dispatch_due(cx) == 1
    (message,) = sink.messages()
    body = message.get_body(("plain",))
    assert body is not None and f"Unsubscribe: {PUBLIC_URL}/u/" in body.get_content()


def test_a_missing_template_fails_the_row_permanently(configured: Candor, sink: MailSink) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
        row_id = enqueue(conn, alice, at=cx.clock.now(), template="nope")
    assert dispatch_due(cx) == 0
    row = outbox_row(cx, row_id)
    assert (row["status"], row["error"]) == ("failed", "template_missing")


def test_inline_journey_templates_win_and_the_resolved_address_is_recorded(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    inline = {
        "news": {"email": {"subject": "Inline {{ country }}", "text": "{{ unsubscribe_url }}"}}
    }
    with cx.engine.begin() as conn:
        conn.execute(
            insert(journeys).values(
                id="welcome",
                version=1,
                name="Welcome",
                purpose_id="events",
                definition={"templates": inline},
                state="running",
                created_at=cx.clock.now(),
            )
        )
        alice = add_contact(conn, cx, email="alice@example.com")
        row_id = enqueue(conn, alice, at=cx.clock.now())
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id)
            .values(journey_id="welcome", address_id=None)
        )
    assert dispatch_due(cx) == 1
    (message,) = sink.messages()
    assert message["Subject"] == "Inline DE"
    row = outbox_row(cx, row_id)
    with cx.engine.connect() as conn:
        comm_address = conn.execute(
            select(communications.c.address_id).where(
                communications.c.id == row["communication_id"]
            )
        ).scalar_one()
        email_address = conn.execute(
            select(addresses.c.id).where(
                addresses.c.contact_id == alice, addresses.c.channel == "email"
            )
        ).scalar_one()
    assert comm_address == email_address


def test_parallel_connections_keep_results_in_order(configured: Candor, sink: MailSink) -> None:
    cx = configured
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        value = conn.execute(
            select(settings.c.value).where(settings.c.key == "channels")
        ).scalar_one()
        value = {**value, "email": {**value["email"], "connections": 3}}
        conn.execute(settings.update().where(settings.c.key == "channels").values(value=value))
        ids = [
            enqueue(conn, add_contact(conn, cx, email=f"p{i}@example.com"), at=cx.clock.now())
            for i in range(7)
        ]
        gone = enqueue(conn, add_contact(conn, cx, email=REFUSED), at=cx.clock.now())
    assert dispatch_due(cx) == 7
    assert sink.count() == 7 and sink.connection_count() == 3
    assert all(outbox_row(cx, i)["status"] == "sent" for i in ids)
    assert outbox_row(cx, gone)["error"] == "smtp_550"


def test_no_channels_means_nothing_to_do_and_links_need_a_public_url(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        alice = add_contact(conn, cx, email="alice@example.com")
        enqueue(conn, alice, at=cx.clock.now())
    assert dispatch_due(cx) == 0  # no channel configured: the row waits
    configure_channels(cx, smtp_port=sink.port)
    with cx.engine.begin() as conn:
        conn.execute(delete(settings).where(settings.c.key == "public_url"))
    with pytest.raises(ChannelSettingsError, match=r"^public_url"):
        dispatch_due(cx)
    with cx.engine.connect() as conn:
        assert conn.execute(select(outbox.c.status)).scalar_one() == "queued"
