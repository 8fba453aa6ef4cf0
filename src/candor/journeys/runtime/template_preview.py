"""Previews and test sends of studio content, rendered for a pseudonymous sample contact.

The sample takes a contact's profile attributes (pseudonymous by design) and stand-ins for
names and links: a marketer never sees a real person's identity in a preview.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Connection, select

from candor.channels.content import ContentSource, SmsCount, compile_content, sms_count
from candor.channels.email import OutgoingEmail, message_id_for
from candor.channels.settings import (
    ChannelSettingsError,
    EmailSettings,
    load_settings,
    transports_for,
)
from candor.channels.sms import OutgoingSms
from candor.channels.template_store import message_template
from candor.channels.templates import LINK_VARIABLES, TemplateError, referenced_fields, render
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger import audit
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.contacts import IDENTITY_FIELDS
from candor.store.tables import contacts

STAND_INS: Final = {"first_name": "Alex", "last_name": "Sample"}
SAMPLE_POOL: Final = 50
EXAMPLE_BASE: Final = "https://example.invalid"


@dataclass(frozen=True)
class Preview:
    """One language and channel rendered for the sample (SMS counted in segments)."""

    language: str
    channel: str
    subject: str | None
    html: str | None
    text: str
    sms: SmsCount | None = None


def sample_attributes(conn: Connection) -> dict[str, Any]:
    """The profile attributes of one contact picked at random (never erased or restricted)."""
    rows = conn.execute(
        select(contacts.c.attributes)
        .where(contacts.c.erased_at.is_(None), contacts.c.restricted_at.is_(None))
        .order_by(contacts.c.id.desc())
        .limit(SAMPLE_POOL)
    ).scalars()
    pool = [dict(a or {}) for a in rows]
    return random.choice(pool) if pool else {}


def sample_context(names: set[str], attributes: dict[str, Any]) -> dict[str, Any]:
    """Values for every name a template reads: sample attributes, stand-in names, example
    links, and `[name]` for what the sample lacks."""
    context: dict[str, Any] = {}
    for name in names:
        if name in IDENTITY_FIELDS:
            context[name] = STAND_INS.get(name, "Sample")
        elif name in LINK_VARIABLES or name.endswith("_url"):
            context[name] = f"{EXAMPLE_BASE}/{name.removesuffix('_url')}/sample"
        elif name in attributes and attributes[name] is not None:
            context[name] = attributes[name]
        else:
            context[name] = f"[{name}]"
    return context


def preview(
    source: ContentSource, language: str, channel: str, attributes: dict[str, Any]
) -> Preview:
    """Render one language and channel of the content for the sample (InvalidInput when the
    language or channel is not in the content, or a part does not render)."""
    compiled = compile_content(source)
    parts = compiled.parts.get(language, {}).get(channel)
    if parts is None:
        raise InvalidInput("channel", f"the content has no {channel} in {language!r}")
    template = message_template(source.id, channel, parts)
    try:
        rendered = render(template, sample_context(referenced_fields(template), attributes))
    except TemplateError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise InvalidInput(
            f"languages.{language}.{channel}.{exc.part}", where + exc.reason
        ) from None
    counted = sms_count(rendered.text) if channel != "email" else None
    return Preview(language, channel, rendered.subject, rendered.html, rendered.text, counted)


def send_test(
    cx: Candor, source: ContentSource, language: str, channel: str, address: str, *, actor: str
) -> None:
    """Send the sample rendering to an address the team member typed, through the channel's
    transport, and record it in the audit (the address itself is not kept)."""
    try:
        to = normalize(channel, address)
    except AddressError as exc:
        raise InvalidInput("address", str(exc)) from None
    with cx.engine.connect() as conn:
        shown = preview(source, language, channel, sample_attributes(conn))
        settings = load_settings(conn)
    try:
        transports = transports_for(settings)
    except ChannelSettingsError as exc:
        raise InvalidInput("channel", str(exc)) from None
    transport = transports.get(channel)
    if transport is None:
        raise InvalidInput("channel", f"no {channel} transport is configured")
    key = f"test:{source.id}:{secrets.token_hex(8)}"
    try:
        if channel == "email":
            email = settings.email or EmailSettings()
            message: Any = OutgoingEmail(
                to=to,
                from_=email.from_,
                subject=f"[Test] {shown.subject or ''}",
                text=shown.text,
                html=shown.html,
                message_id=message_id_for(key, email.domain),
                envelope_from=email.bounce,
            )
        else:
            message = OutgoingSms(to, f"[Test] {shown.text}", key)
        (result,) = transport.send([message])
    finally:
        for each in transports.values():
            each.close()
    with cx.engine.begin() as conn:
        audit.record(
            conn,
            actor=actor,
            action="template.send_test",
            object_type="template",
            object_id=source.id,
            at=cx.clock.now(),
            channel=channel,
            language=language,
            ok=result.ok,
            error=result.error,
        )
    if not result.ok:
        raise InvalidInput("address", f"the test message was not accepted ({result.error})")
