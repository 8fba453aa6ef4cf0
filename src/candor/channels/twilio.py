"""Twilio's Messages API: sending SMS, reading status callbacks and inbound messages.

Sending is a form-encoded POST to /2010-04-01/Accounts/{AccountSid}/Messages.json with
HTTP basic auth (account SID, auth token). Twilio signs every request it makes to us with
X-Twilio-Signature: base64 HMAC-SHA1, keyed with the auth token, over the full URL it
called followed by each POST parameter's name and value, sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable, Mapping
from urllib.parse import quote

import httpx

from candor.channels.base import SendResult
from candor.channels.reports import Report
from candor.channels.sms import (
    HttpClientOwner,
    OutgoingSms,
    http_failure,
    is_valid_number,
    json_body,
)

logger = logging.getLogger(__name__)

# Error codes that say the number itself cannot take messages: invalid 'To' number (21211),
# not reachable by SMS (21612), not a mobile number (21614), unknown or unreachable handset
# (30005), landline or unreachable carrier (30006).
NUMBER_FAILURES = frozenset({21211, 21612, 21614, 30005, 30006})
# MessageStatus values and the delivery state each one means.
STATUS_STATES: Mapping[str, str] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature for a request to `url` with these POST parameters."""
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], presented: str
) -> bool:
    """Whether `presented` is Twilio's signature of this request (constant-time compare)."""
    expected = signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), presented.strip().encode())


def status_report(channel: str, form: Mapping[str, str], message_id: str | None) -> Report | None:
    """The Report of a status callback; None for statuses that are no delivery state."""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    state = STATUS_STATES.get(status)
    if state is None:
        return None
    code = (form.get("ErrorCode") or "").strip()
    detail = f"twilio_{code}" if code.isdigit() else None
    unusable = code.isdigit() and int(code) in NUMBER_FAILURES
    evidence = {
        "provider": "twilio",
        "MessageSid": form.get("MessageSid") or form.get("SmsSid"),
        "MessageStatus": status,
        "ErrorCode": code or None,
    }
    return Report(
        channel=channel,
        kind="status",
        state=state,
        effect="undeliverable" if unusable and state in ("failed", "undelivered") else "none",
        detail=detail,
        message_id=message_id,
        provider_ref=form.get("MessageSid") or form.get("SmsSid"),
        evidence=evidence,
    )


class TwilioTransport(HttpClientOwner):
    """Posts each SMS to Twilio with one pooled httpx client; a status callback per message."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        sender: Mapping[str, str],
        base_url: str,
        status_callback: str | None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(timeout=timeout, client=client)
        self.url = f"{base_url}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        self._auth = (account_sid, auth_token)
        self._sender = dict(sender)
        self._callback = status_callback

    def send(self, messages: Iterable[OutgoingSms]) -> list[SendResult]:
        """Send in order: 201 accepted (queued at Twilio), 4xx permanent, 5xx temporary."""
        return [self._send_one(message) for message in messages]

    def _send_one(self, message: OutgoingSms) -> SendResult:
        if not is_valid_number(message.to):
            return SendResult(message.message_id, ok=False, permanent=True, error="invalid_number")
        form = {"To": message.to, "Body": message.text, **self._sender}
        if self._callback:
            form["StatusCallback"] = f"{self._callback}?m={quote(message.message_id, safe='')}"
        response = self.post(message.message_id, self.url, data=form, auth=self._auth)
        if isinstance(response, SendResult):
            return response
        body = json_body(response)
        if response.is_success:
            sid = str(body.get("sid") or "") or None
            state = STATUS_STATES.get(str(body.get("status") or "queued"), "queued")
            return SendResult(message.message_id, ok=True, provider_ref=sid, state=state)
        code = body.get("code")
        result = http_failure(
            message.message_id,
            response.status_code,
            f"twilio_{code}" if isinstance(code, int) else None,
        )
        logger.warning("sms %s refused by Twilio: %s", message.message_id, result.error)
        return result
