"""Composing outbox rows into messages: template, minimal context, links and headers.

The context holds only what the row carries (the journey's declared fields), the contact's
names when the template reads them (decrypted from the vault just then), and signed links.
Marketing e-mail gets the RFC 8058 List-Unsubscribe headers and, if its template forgot
one, a visible unsubscribe line; a double opt-in confirmation carries no advertising.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import RowMapping

from candor.channels import links, verp
from candor.channels.email import OutgoingEmail, Unsubscribe, message_id_for
from candor.channels.engagement import tracked_rows
from candor.channels.settings import ChannelSettings, EmailSettings
from candor.channels.sms import OutgoingSms, WhatsAppTemplate
from candor.channels.sms_encoding import sms_shape
from candor.channels.template_store import message_template, resolve_template
from candor.channels.templates import (
    MessageTemplate,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
    render,
)
from candor.core.errors import CandorError
from candor.ledger.registry import controller_name
from candor.store.journey_tables import journeys
from candor.store.tables import addresses, contacts
from candor.store.vault import Vault

logger = logging.getLogger(__name__)

IDENTITY_FIELDS = frozenset({"first_name", "last_name"})
# Context keys that feed links and are never template variables themselves.
PRIVATE_KEYS = frozenset({"doi_token", "download_token", "click_target", "verify_token"})
# Kinds that carry an unsubscribe way out (everything but the DOI confirmation).
UNSUBSCRIBABLE = ("marketing", "service", "consent_request")
ADVERTISING = ("marketing", "consent_request")
# WhatsApp takes free text only this long after the person's own latest message.
SERVICE_WINDOW = timedelta(hours=24)


@dataclass
class Composed:
    """A ready message for its channel's transport."""

    message: OutgoingEmail | OutgoingSms


@dataclass
class ComposeStream:
    """A batch's messages, composed one at a time as the transport takes them.

    Rendering a message then overlaps the server's work on the previous one. `handed` pairs
    each handed-out message with its row's index (results follow that order), `errors`
    holds permanent compose errors by index. An unexpected exception ends the stream and
    waits in `failure`: what was already sent gets recorded first, so it is never re-sent.
    """

    composer: Composer
    rows: Sequence[Mapping[Any, Any]]
    handed: list[tuple[int, Composed]] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    failure: Exception | None = None

    def __iter__(self) -> Iterator[OutgoingEmail | OutgoingSms]:
        for index, row in enumerate(self.rows):
            try:
                composed = self.composer.compose(row)
            except Exception as exc:
                self.failure = exc
                return
            if isinstance(composed, str):
                self.errors[index] = composed
                continue
            self.handed.append((index, composed))
            yield composed.message


def sms_message_id(outbox_id: int, idempotency_key: str) -> str:
    """A stable provider message id that also names the outbox row (for receipts)."""
    return f"{outbox_id}.{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}"


def outbox_id_of(message_id: str) -> int | None:
    """The outbox row an SMS/WhatsApp message id came from, if it is one of ours."""
    head, dot, _ = message_id.partition(".")
    return int(head) if dot and head.isdigit() else None


@dataclass
class Composer:
    """Renders one batch: contacts, addresses and templates loaded once for all its rows."""

    vault: Vault
    settings: ChannelSettings
    public_url: str
    now: datetime
    contacts: dict[int, RowMapping] = field(default_factory=dict)
    addresses: dict[int, RowMapping] = field(default_factory=dict)
    targets: Mapping[tuple[int, str], int] = field(default_factory=dict)
    # (journey, template, language) -> parts; a template's language variant is chosen by
    # the contact's language (journey-inline templates have one language).
    parts: dict[tuple[str | None, str, str], dict[str, Any] | None] = field(default_factory=dict)
    compiled: dict[tuple[str | None, str, str, str], MessageTemplate | None] = field(
        default_factory=dict
    )
    way_out: dict[int, bool] = field(default_factory=dict)
    names: dict[int, set[str]] = field(default_factory=dict)
    controller: str = ""  # the controller's name: messages are signed with it
    tracking: dict[str, dict[str, Any]] = field(default_factory=dict)  # journey -> `tracking`
    tracked: dict[int, str] = field(default_factory=dict)  # outbox row -> analytics purpose

    @classmethod
    def load(
        cls,
        conn: Connection,
        vault: Vault,
        settings: ChannelSettings,
        *,
        live_rows: Sequence[RowMapping],
        targets: Mapping[tuple[int, str], int],
        at: datetime,
    ) -> Composer:
        """Fetch what the rows need in a few set-based reads, and decide who is tracked."""
        self = cls(vault, settings, settings.require_public_url(), at, targets=targets)
        self.controller = controller_name(conn)
        contact_ids = sorted({r["contact_id"] for r in live_rows})
        if not contact_ids:
            return self
        query = select(
            contacts.c.id, contacts.c.key_id, contacts.c.identity, contacts.c.language
        ).where(contacts.c.id.in_(contact_ids))
        self.contacts = {r["id"]: r for r in conn.execute(query).mappings()}
        wanted = sorted({a for a in (self.address_of(r) for r in live_rows) if a is not None})
        query = select(
            addresses.c.id, addresses.c.channel, addresses.c.value, addresses.c.last_inbound_at
        ).where(addresses.c.id.in_(wanted))
        self.addresses = {r["id"]: r for r in conn.execute(query).mappings()}
        vault.load(r["key_id"] for r in self.contacts.values())
        journey_ids = sorted({r["journey_id"] for r in live_rows if r["journey_id"]})
        inline: dict[str, Any] = {}
        if journey_ids:
            query = select(journeys.c.id, journeys.c.definition).where(
                journeys.c.id.in_(journey_ids)
            )
            for r in conn.execute(query):
                inline[r.id] = (r.definition or {}).get("templates") or {}
                if (r.definition or {}).get("tracking"):
                    self.tracking[r.id] = dict(r.definition["tracking"])
            self.tracked = tracked_rows(conn, live_rows, self.tracking, at)
        for row in live_rows:
            key = (row["journey_id"], row["template_id"], self.language_of(row))
            if key not in self.parts:
                try:
                    self.parts[key] = resolve_template(
                        conn, row["template_id"], inline.get(row["journey_id"] or ""), key[2]
                    )
                except CandorError:
                    self.parts[key] = None
        return self

    def language_of(self, row: Mapping[Any, Any]) -> str:
        """The language of the row's contact (its template variant is chosen by it)."""
        contact = self.contacts.get(row["contact_id"])
        return str(contact["language"]) if contact is not None else ""

    def address_of(self, row: Mapping[Any, Any]) -> int | None:
        """The address the row goes to: its own, else the one the gate resolved."""
        explicit = row["address_id"]
        return (
            int(explicit)
            if explicit is not None
            else self.targets.get((row["contact_id"], row["channel"]))
        )

    def template(self, row: Mapping[Any, Any]) -> MessageTemplate | None:
        language = self.language_of(row)
        key = (row["journey_id"], row["template_id"], language, row["channel"])
        if key not in self.compiled:
            parts = self.parts.get((row["journey_id"], row["template_id"], language))
            channel_parts = (parts or {}).get(row["channel"])
            try:
                self.compiled[key] = (
                    message_template(row["template_id"], row["channel"], channel_parts)
                    if channel_parts
                    else None
                )
            except CandorError:
                self.compiled[key] = None
        return self.compiled[key]

    def _has_way_out(self, template: MessageTemplate) -> bool:
        """has_unsubscribe, cached per compiled template of the batch."""
        key = id(template)
        if key not in self.way_out:
            self.way_out[key] = has_unsubscribe(template)
        return self.way_out[key]

    def _names(self, template: MessageTemplate) -> set[str]:
        """referenced_fields, cached per compiled template of the batch."""
        key = id(template)
        if key not in self.names:
            self.names[key] = referenced_fields(template)
        return self.names[key]

    def compose(self, row: Mapping[Any, Any]) -> Composed | str:
        """The message for one row, or a permanent error code (no personal data in it)."""
        template = self.template(row)
        if template is None:
            return "template_missing"
        contact = self.contacts.get(row["contact_id"])
        address_id = self.address_of(row)
        address = self.addresses.get(address_id) if address_id is not None else None
        if contact is None or address is None:
            return "no_address"
        raw = self.vault.decrypt(
            contact["key_id"], f"address:{address['channel']}", address["value"]
        )
        if raw is None:
            return "no_address"
        names = self._names(template)
        context = self.context(row, contact, names)
        try:
            rendered = render(template, context)
        except TemplateError as exc:
            # Ids and places only: a rendering error may quote a field's value.
            logger.warning(
                "outbox row %s: template %s, part %s, line %s does not render",
                row["id"],
                exc.template_id,
                exc.part,
                exc.line,
            )
            return "template_error"
        text, html = rendered.text, rendered.html
        footer = row["kind"] == "marketing" and not self._has_way_out(template)
        needed = footer or (row["channel"] == "email" and row["kind"] in ADVERTISING)
        unsubscribe = context.get("unsubscribe_url") or (
            self._unsubscribe_url(row) if needed else ""
        )
        if row["channel"] == "email":
            if footer:
                text = f"{text.rstrip()}\n\nUnsubscribe: {unsubscribe}\n"
                if html is not None:
                    html += f'\n<p><a href="{escape(unsubscribe)}">Unsubscribe</a></p>\n'
            if html is not None and row["id"] in self.tracked:
                html += self._pixel(row)
            return Composed(
                self._email(row, raw.decode(), rendered.subject or "", text, html, unsubscribe)
            )
        return self._mobile(
            row,
            raw.decode(),
            text if not footer else f"{text} Reply STOP to opt out.",
            rendered.approved,
            address,
        )

    def _mobile(
        self,
        row: Mapping[Any, Any],
        to: str,
        text: str,
        approved: tuple[str, str, tuple[str, ...]] | None,
        address: Mapping[Any, Any],
    ) -> Composed | str:
        """An SMS with its encoding and segments, or a WhatsApp message (template or text).

        Free-text WhatsApp goes out only inside the 24-hour window the person's own latest
        message opened; outside it the message fails permanently (`outside_service_window`).
        """
        message_id = sms_message_id(row["id"], row["idempotency_key"])
        if row["channel"] == "sms":
            return Composed(OutgoingSms(to, text, message_id, shape=sms_shape(text)))
        if approved is not None:
            name, language, parameters = approved
            template = WhatsAppTemplate(name, language, parameters)
            return Composed(OutgoingSms(to, text, message_id, template=template))
        opened = address["last_inbound_at"]
        if opened is None or self.now - opened > SERVICE_WINDOW:
            return "outside_service_window"
        return Composed(OutgoingSms(to, text, message_id))

    def _email(
        self,
        row: Mapping[Any, Any],
        to: str,
        subject: str,
        text: str,
        html: str | None,
        unsubscribe_url: str,
    ) -> OutgoingEmail:
        email = self.settings.email or EmailSettings()
        one_click = None
        if row["kind"] in ADVERTISING:
            token = unsubscribe_url.rpartition("/")[2]
            one_click = Unsubscribe(unsubscribe_url, links.unsubscribe_mailto(email.domain, token))
        bounces = email.bounces
        envelope = (
            verp.return_path(self.vault.signing_key, row["id"], bounces.domain)
            if bounces is not None
            else email.bounce
        )
        return OutgoingEmail(
            to=to,
            from_=email.from_,
            subject=subject,
            text=text,
            html=html,
            message_id=message_id_for(row["idempotency_key"], email.domain),
            unsubscribe=one_click,
            envelope_from=envelope,
            headers=self._list_headers(row, email),
        )

    def _list_headers(self, row: Mapping[Any, Any], email: EmailSettings) -> dict[str, str]:
        """Feedback-ID on every message (campaign:purpose:kind:sender, for Gmail's feedback
        loop), List-Id on advertising (RFC 2919: one list per purpose and theme)."""
        campaign = f"{row['journey_id'] or 'none'}.{row['step_id'] or 'none'}"
        headers = {"Feedback-ID": f"{campaign}:{row['purpose_id']}:{row['kind']}:{email.sender_id}"}
        if row["kind"] in ADVERTISING:
            label = f"{row['theme']}.{row['purpose_id']}" if row["theme"] else row["purpose_id"]
            headers["List-Id"] = f"<{label.replace('_', '-')}.{email.domain}>"
        return headers

    def _pixel(self, row: Mapping[Any, Any]) -> str:
        """The open pixel, for people tracked under a journey that asked for opens."""
        tracking = self.tracking.get(row["journey_id"] or "") or {}
        if not tracking.get("opens") or not row["journey_id"]:
            return ""
        token = links.open_token(
            self.vault.signing_key,
            contact_id=row["contact_id"],
            journey_id=row["journey_id"],
            step_id=row["step_id"] or "",
            channel=row["channel"],
            purpose_id=self.tracked[row["id"]],
            issued_at=row["created_at"],
        )
        url = escape(links.open_url(self.public_url, token))
        return f'\n<img src="{url}" width="1" height="1" alt="" style="display:none">\n'

    def _unsubscribe_url(self, row: Mapping[Any, Any]) -> str:
        issued: datetime = row["created_at"]
        token = links.unsubscribe_token(
            self.vault.signing_key,
            contact_id=row["contact_id"],
            purpose_id=row["purpose_id"],
            theme=row["theme"],
            channel=row["channel"],
            address_id=self.address_of(row),
            outbox_id=row["id"],
            issued_at=issued,
        )
        return links.unsubscribe_url(self.public_url, token)

    def context(
        self, row: Mapping[Any, Any], contact: Mapping[Any, Any], names: set[str]
    ) -> dict[str, Any]:
        """Declared fields, names if read, and the links the template uses (all deterministic)."""
        data: Mapping[str, Any] = row["context"] or {}
        context = {k: v for k, v in data.items() if k not in PRIVATE_KEYS}
        if names & IDENTITY_FIELDS:
            raw = self.vault.decrypt(contact["key_id"], "identity", contact["identity"])
            identity = json.loads(raw) if raw else {}
            for name in names & IDENTITY_FIELDS:
                context[name] = identity.get(name) or ""
        if "controller" in names:
            context["controller"] = self.controller
        key, issued, base = self.vault.signing_key, row["created_at"], self.public_url
        if "unsubscribe_url" in names and row["kind"] in UNSUBSCRIBABLE:
            context["unsubscribe_url"] = self._unsubscribe_url(row)
        if "preferences_url" in names:
            token = links.preferences_token(key, contact_id=row["contact_id"], issued_at=issued)
            context["preferences_url"] = links.preferences_url(base, token)
        if data.get("doi_token"):
            context["confirm_url"] = links.confirm_url(base, str(data["doi_token"]))
        if data.get("download_token"):
            context["download_url"] = links.download_url(base, str(data["download_token"]))
        if data.get("verify_token"):  # a DSR identity check (rights.messages)
            context["verify_url"] = f"{base}/requests/verify/{data['verify_token']}"
        if data.get("click_target") and row["journey_id"] and "click_url" in names:
            purpose = self.tracked.get(row["id"])  # the person agreed to be tracked: named
            token = links.click_token(
                key,
                contact_id=row["contact_id"] if purpose else None,
                journey_id=row["journey_id"],
                step_id=row["step_id"] or "",
                channel=row["channel"],
                target=str(data["click_target"]),
                issued_at=issued,
                purpose_id=purpose,
            )
            context["click_url"] = links.click_url(base, token)
        return context
