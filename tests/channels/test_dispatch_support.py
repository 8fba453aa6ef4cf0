"""Helpers shared by the dispatch, unsubscribe, hooks and exactly-once tests (no tests here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from candor.channels.template_store import put_template
from candor.core.context import Candor
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.journey_tables import outbox
from candor.store.tables import addresses, settings

PUBLIC_URL = "https://candor.example.org"
SENDER = "News <news@example.org>"
SMS_KEY_ENV = "CANDOR_TEST_SMS_KEY"
SMS_KEY = "sms-provider-secret"

NEWS_TEMPLATE = {
    "email": {
        "subject": "Hello {{ first_name }}: {{ country }} events",
        "text": "Hi {{ first_name }},\nsee our events.\nUnsubscribe: {{ unsubscribe_url }}\n",
        "html": '<p>Hi {{ first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
    },
    "sms": {"text": "Events in {{ country }}! Reply STOP to opt out."},
    "whatsapp": {"text": "Events in {{ country }}! Reply STOP to opt out."},
}
CONFIRM_TEMPLATE = {
    "email": {"subject": "Please confirm", "text": "Confirm here: {{ confirm_url }}\n"},
}


def configure_channels(
    cx: Candor,
    *,
    smtp_port: int | None = None,
    sms_url: str | None = None,
    whatsapp_url: str | None = None,
    dispatch: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Store the `channels` and `public_url` settings as `config apply` would (`extra`:
    further channel sections, such as a Twilio or Meta provider)."""
    channels: dict[str, Any] = {}
    if smtp_port is not None:
        channels["email"] = {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": SENDER}
    if sms_url is not None:
        channels["sms"] = {"provider_url": sms_url, "api_key_env": SMS_KEY_ENV}
    if whatsapp_url is not None:
        channels["whatsapp"] = {"provider_url": whatsapp_url, "api_key_env": SMS_KEY_ENV}
    channels["dispatch"] = {"backoff_seconds": 60, **(dispatch or {})}
    channels.update(extra or {})
    with cx.engine.begin() as conn:
        conn.execute(delete(settings).where(settings.c.key.in_(("channels", "public_url"))))
        conn.execute(
            insert(settings),
            [{"key": "channels", "value": channels}, {"key": "public_url", "value": PUBLIC_URL}],
        )
        put_template(conn, "news", NEWS_TEMPLATE, actor="test", at=cx.clock.now())
        put_template(conn, "confirm", CONFIRM_TEMPLATE, actor="test", at=cx.clock.now())


def add_contact(
    conn: Connection,
    cx: Candor,
    *,
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "Alice",
    consent: str | None = "granted",
    purpose: str = "events",
    language: str = "en",
) -> int:
    """A contact with its addresses and (optionally) one consent event for `purpose`."""
    items = []
    if email:
        items.append(NewAddress("email", email))
    if phone:
        items += [NewAddress("sms", phone), NewAddress("whatsapp", phone)]
    contact = create_contact(
        conn,
        cx.vault,
        NewContact(
            first_name=first_name,
            last_name="Example",
            addresses=items,
            attributes={"country": "DE"},
            language=language,
        ),
        actor="test",
        at=cx.clock.now(),
    )
    if consent is not None:
        record_consent(
            conn,
            cx.vault,
            contact,
            ConsentInput(purpose=purpose, status=consent, source="form"),
            actor="test",
            at=cx.clock.now(),
        )
    return contact


def address_of(conn: Connection, contact_id: int, channel: str) -> int:
    return int(
        conn.execute(
            select(addresses.c.id).where(
                addresses.c.contact_id == contact_id, addresses.c.channel == channel
            )
        ).scalar_one()
    )


def enqueue(
    conn: Connection,
    contact_id: int,
    *,
    at: datetime,
    channel: str = "email",
    key: str | None = None,
    template: str = "news",
    purpose: str = "events",
    theme: str | None = "events",
    kind: str = "marketing",
    context: dict[str, Any] | None = None,
    address_id: int | None = None,
) -> int:
    """An outbox row in the shape the journey runtime writes."""
    return int(
        conn.execute(
            insert(outbox)
            .values(
                idempotency_key=key or f"journey-test:{contact_id}:send-{channel}",
                journey_id=None,
                step_id="send",
                contact_id=contact_id,
                channel=channel,
                address_id=address_id
                if address_id is not None
                else address_of(conn, contact_id, channel),
                template_id=template,
                purpose_id=purpose,
                theme=theme,
                kind=kind,
                context=context if context is not None else {"country": "DE"},
                decision_reason="allowed",
                decision_basis="consent",
                decision_event_id=None,
                status="queued",
                attempts=0,
                next_attempt_at=at,
                created_at=at,
            )
            .returning(outbox.c.id)
        ).scalar_one()
    )


def outbox_row(cx: Candor, outbox_id: int) -> Any:
    with cx.engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == outbox_id)).mappings().one()
