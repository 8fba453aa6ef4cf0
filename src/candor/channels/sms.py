"""SMS and WhatsApp through an HTTP provider, plus parsing of the provider's delivery receipts.

The provider gets JSON {to, text, channel, message_id}; message_id doubles as the provider's
idempotency key, so a retried request cannot send twice at a provider that honours it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import httpx
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from candor.channels.base import SendResult
from candor.channels.sms_encoding import SmsShape

logger = logging.getLogger(__name__)

MobileChannel = Literal["sms", "whatsapp"]
# 4xx replies that do not mean "this message can never be delivered": retry later instead.
_TEMPORARY_CLIENT_ERRORS = frozenset({401, 403, 408, 409, 425, 429})


@dataclass(frozen=True, slots=True)
class WhatsAppTemplate:
    """An approved WhatsApp template: its name, language code and body parameters."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """One SMS or WhatsApp message: E.164 number, rendered text, caller-given message id.

    `template` (WhatsApp) sends an approved template instead of free text; `shape` (SMS) is
    the encoding and segment count computed when the message was composed.
    """

    to: str
    text: str
    message_id: str
    template: WhatsAppTemplate | None = None
    shape: SmsShape | None = None


def is_valid_number(number: str) -> bool:
    """Whether `number` is a plausible international (E.164) phone number."""
    if not number.startswith("+"):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed)


def http_failure(message_id: str, status: int, code: str | None = None) -> SendResult:
    """Classify a non-2xx reply: 4xx permanent (except throttling/auth), 5xx temporary."""
    permanent = 400 <= status < 500 and status not in _TEMPORARY_CLIENT_ERRORS
    return SendResult(message_id, ok=False, permanent=permanent, error=code or f"http_{status}")


def json_body(response: httpx.Response) -> dict[str, Any]:
    """A provider's JSON answer as a dict ({} when it is none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class HttpClientOwner:
    """An httpx client (pooled connections) that a transport closes if it created it."""

    def __init__(self, *, timeout: float | httpx.Timeout, client: httpx.Client | None) -> None:
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client if this transport created it."""
        if self._owns_client:
            self._client.close()

    def post(self, message_id: str, url: str, **request: Any) -> httpx.Response | SendResult:
        """POST one message; a timeout or network error becomes a temporary failure."""
        try:
            return self._client.post(url, **request)
        except httpx.TimeoutException:
            return SendResult(message_id, ok=False, error="timeout")
        except httpx.HTTPError:
            return SendResult(message_id, ok=False, error="transport_error")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class HttpProviderTransport(HttpClientOwner):
    """Posts each message to the provider's HTTP API with a shared, pooled httpx client."""

    def __init__(
        self,
        channel: MobileChannel,
        provider_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        if channel not in ("sms", "whatsapp"):
            raise ValueError(f"unsupported mobile channel {channel!r}")
        super().__init__(timeout=timeout, client=client)
        self.channel: MobileChannel = channel
        self.provider_url = provider_url
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def send(self, messages: Iterable[OutgoingSms]) -> list[SendResult]:
        """Send each message in order: 2xx ok, 4xx permanent, 5xx and network errors temporary."""
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutgoingSms) -> SendResult:
        """Post one message and classify the outcome (logging ids and codes, never numbers)."""
        if not is_valid_number(message.to):
            return self._failed(
                SendResult(message.message_id, ok=False, permanent=True, error="invalid_number")
            )
        payload: dict[str, Any] = {
            "to": message.to,
            "text": message.text,
            "channel": self.channel,
            "message_id": message.message_id,
        }
        if message.template is not None:
            template = message.template
            payload["template"] = {
                "name": template.name,
                "language": template.language,
                "parameters": list(template.parameters),
            }
        response = self.post(
            message.message_id, self.provider_url, json=payload, headers=self._headers
        )
        if isinstance(response, SendResult):
            return self._failed(response)
        if response.is_success:
            return SendResult(message.message_id, ok=True)
        return self._failed(http_failure(message.message_id, response.status_code))

    def _failed(self, result: SendResult) -> SendResult:
        """Log a failure by message id and code, and return it."""
        kind = "permanently" if result.permanent else "temporarily"
        logger.warning(
            "%s message %s failed %s: %s", self.channel, result.message_id, kind, result.error
        )
        return result


class DeliveryReceipt(BaseModel):
    """A provider's delivery report. `failed` may succeed on retry; `undeliverable` never will."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    message_id: str = Field(min_length=1)
    status: Literal["delivered", "failed", "undeliverable"]
    error: str | None = None

    @property
    def permanent(self) -> bool:
        """Whether the address should be treated as unusable for this channel."""
        return self.status == "undeliverable"


def parse_delivery_receipt(payload: Mapping[str, Any]) -> DeliveryReceipt:
    """Validate a receipt webhook body; ValueError names each bad field (never echoes values)."""
    if not isinstance(payload, Mapping):
        raise ValueError("delivery receipt must be a JSON object")
    try:
        return DeliveryReceipt.model_validate(dict(payload))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'receipt'}: {err['msg']}"
            for err in exc.errors()
        )
        # `from None`: pydantic's own message echoes input values (phone numbers) into logs.
        raise ValueError(f"invalid delivery receipt: {problems}") from None
