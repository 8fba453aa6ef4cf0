"""Meta's WhatsApp Cloud API: template and text messages out, webhooks in.

Sending is a JSON POST to /{version}/{phone-number-id}/messages with the access token as
bearer. Meta signs webhook bodies with X-Hub-Signature-256: "sha256=" and the hex HMAC-SHA256
of the raw body keyed with the app secret. Our message id travels as
biz_opaque_callback_data and comes back with every status of that message.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from candor.channels.base import SendResult
from candor.channels.reports import Report
from candor.channels.sms import (
    HttpClientOwner,
    OutgoingSms,
    WhatsAppTemplate,
    http_failure,
    is_valid_number,
    json_body,
)

logger = logging.getLogger(__name__)

STATUS_STATES: Mapping[str, str] = {
    "accepted": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "failed": "failed",
}
# 131026: message undeliverable (the number is not on WhatsApp or cannot receive it).
NUMBER_FAILURES = frozenset({131026})
# 131050: the person stopped marketing messages from this business in WhatsApp itself.
STOPPED_MARKETING = 131050
# Rate limits: retry later, the message itself is fine.
TEMPORARY_CODES = frozenset({4, 80007, 130429, 131048, 131056})


def body_signature(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends with a webhook body."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(app_secret: str, body: bytes, presented: str) -> bool:
    """Whether `presented` is Meta's signature of exactly these bytes."""
    return hmac.compare_digest(body_signature(app_secret, body).encode(), presented.encode())


@dataclass(frozen=True)
class InboundWhatsApp:
    """A message a person sent us: their number (E.164), its text, WhatsApp's message id."""

    sender: str
    text: str
    wamid: str | None
    at: datetime | None


def _values(payload: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The `value` of every `messages` change in a webhook body."""
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, Mapping) and (change.get("field") in (None, "messages")):
                yield value


def _moment(timestamp: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def inbound_messages(payload: Mapping[str, Any]) -> list[InboundWhatsApp]:
    """The people's messages in a webhook body: text bodies and quick-reply button texts."""
    found = []
    for value in _values(payload):
        for message in value.get("messages") or []:
            kind = message.get("type")
            if kind == "text":
                text = str((message.get("text") or {}).get("body") or "")
            elif kind == "button":
                text = str((message.get("button") or {}).get("text") or "")
            elif kind == "interactive":
                reply = (message.get("interactive") or {}).get("button_reply") or {}
                text = str(reply.get("title") or "")
            else:
                text = ""
            sender = str(message.get("from") or "")
            if sender:
                found.append(
                    InboundWhatsApp(
                        "+" + sender.lstrip("+"),
                        text,
                        message.get("id"),
                        _moment(message.get("timestamp")),
                    )
                )
    return found


def status_reports(payload: Mapping[str, Any]) -> list[Report]:
    """A Report per message status in a webhook body (unknown statuses skipped)."""
    reports = []
    for value in _values(payload):
        for status in value.get("statuses") or []:
            state = STATUS_STATES.get(str(status.get("status") or ""))
            if state is None:
                continue
            codes = [e.get("code") for e in status.get("errors") or [] if isinstance(e, Mapping)]
            code = next((c for c in codes if isinstance(c, int)), None)
            effect: Any = "none"
            if state == "failed" and code in NUMBER_FAILURES:
                effect = "undeliverable"
            elif state == "failed" and code == STOPPED_MARKETING:
                effect = "block"
            reports.append(
                Report(
                    channel="whatsapp",
                    kind="status",
                    state=state,
                    effect=effect,
                    detail=f"meta_{code}" if code is not None else None,
                    message_id=status.get("biz_opaque_callback_data"),
                    provider_ref=status.get("id"),
                    evidence={
                        "provider": "meta",
                        "id": status.get("id"),
                        "status": status.get("status"),
                        "timestamp": status.get("timestamp"),
                        "errors": [
                            {"code": e.get("code"), "title": e.get("title")}
                            for e in status.get("errors") or []
                            if isinstance(e, Mapping)
                        ],
                    },
                )
            )
    return reports


def message_payload(message: OutgoingSms) -> dict[str, Any]:
    """The JSON body of one message: an approved template, or text."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.to.lstrip("+"),
        "biz_opaque_callback_data": message.message_id,
    }
    if message.template is not None:
        body["type"] = "template"
        body["template"] = _template(message.template)
    else:
        body["type"] = "text"
        body["text"] = {"preview_url": False, "body": message.text}
    return body


def _template(template: WhatsAppTemplate) -> dict[str, Any]:
    shaped: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
    if template.parameters:
        parameters = [{"type": "text", "text": p} for p in template.parameters]
        shaped["components"] = [{"type": "body", "parameters": parameters}]
    return shaped


class MetaTransport(HttpClientOwner):
    """Posts each WhatsApp message to the Cloud API with one pooled httpx client."""

    def __init__(
        self,
        *,
        phone_number_id: str,
        access_token: str,
        base_url: str,
        api_version: str,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(timeout=timeout, client=client)
        self.url = f"{base_url}/{api_version}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}

    def send(self, messages: Iterable[OutgoingSms]) -> list[SendResult]:
        """Send in order: 200 accepted, rate limits and 5xx temporary, other errors permanent."""
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutgoingSms) -> SendResult:
        if not is_valid_number(message.to):
            return SendResult(message.message_id, ok=False, permanent=True, error="invalid_number")
        response = self.post(
            message.message_id, self.url, json=message_payload(message), headers=self._headers
        )
        if isinstance(response, SendResult):
            return response
        body = json_body(response)
        if response.is_success:
            sent = (body.get("messages") or [{}])[0]
            wamid = sent.get("id") if isinstance(sent, Mapping) else None
            return SendResult(message.message_id, ok=True, provider_ref=wamid, state="queued")
        error = body.get("error") if isinstance(body.get("error"), Mapping) else {}
        code = error.get("code") if isinstance(error, Mapping) else None
        if isinstance(code, int) and code in TEMPORARY_CODES:
            return SendResult(message.message_id, ok=False, error=f"meta_{code}")
        result = http_failure(
            message.message_id,
            response.status_code,
            f"meta_{code}" if isinstance(code, int) else None,
        )
        logger.warning("whatsapp %s refused by Meta: %s", message.message_id, result.error)
        return result
