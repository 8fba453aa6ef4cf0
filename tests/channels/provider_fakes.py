"""Twilio and Meta stand-ins: real HTTP servers on 127.0.0.1 speaking their documented formats.

Each checks what Candor sends (Twilio: form fields and basic auth; Meta: the JSON message and
the bearer token), records it, answers as the provider does, and sends back status
callbacks and inbound messages signed as the provider signs them (computed here from the
documentation, not with Candor's own code), to a running Candor.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)
    sid: str = ""


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def _redirect(public_url: str, candor_url: str) -> str:
    """Where a request to the public URL really goes: the same path on the running Candor."""
    parts = urlsplit(public_url)
    return candor_url + parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass
class FakeTwilio:
    """Twilio's Messages API: POST /2010-04-01/Accounts/{sid}/Messages.json, basic auth."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "twilio-auth-token"
    base_url: str = ""
    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, tuple[int, int]] = field(default_factory=dict)  # To -> (http, code)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if handler.path != expected_path:
            return _answer(handler, 404, {"code": 20404, "message": "not found", "status": 404})
        basic = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {basic}":
            return _answer(handler, 401, {"code": 20003, "message": "auth", "status": 401})
        if not handler.headers.get("Content-Type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _answer(handler, 400, {"code": 20001, "message": "form", "status": 400})
        length = int(handler.headers.get("Content-Length", "0"))
        form = dict(parse_qsl(handler.rfile.read(length).decode(), keep_blank_values=True))
        if (
            not form.get("To")
            or not form.get("Body")
            or not (form.get("From") or form.get("MessagingServiceSid"))
        ):
            return _answer(handler, 400, {"code": 21604, "message": "missing", "status": 400})
        if form["To"] in self.refuse:
            status, code = self.refuse[form["To"]]
            return _answer(handler, status, {"code": code, "message": "refused", "status": status})
        sid = f"SM{next(self._ids):032x}"
        with self.lock:
            self.messages.append(Received(handler.path, dict(handler.headers), form=form, sid=sid))
        _answer(
            handler, 201, {"sid": sid, "status": "queued", "to": form["To"], "error_code": None}
        )

    @staticmethod
    def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
        """Twilio's documented signature: HMAC-SHA1 of URL + sorted name/value pairs, base64."""
        data = url + "".join(k + params[k] for k in sorted(params))
        return base64.b64encode(
            hmac.new(auth_token.encode(), data.encode(), "sha1").digest()
        ).decode()

    def status_callback(
        self, message: Received, status: str, candor_url: str, error_code: int | None = None
    ) -> httpx.Response:
        """POST the message's StatusCallback as Twilio does, signed."""
        url = message.form["StatusCallback"]
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.form.get("From", ""),
            "MessageSid": message.sid,
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.form["To"],
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        headers = {"X-Twilio-Signature": self.sign(self.auth_token, url, params)}
        return httpx.post(_redirect(url, candor_url), data=params, headers=headers)

    def inbound(
        self, sender: str, body: str, public_url: str, candor_url: str, *, token: str | None = None
    ) -> httpx.Response:
        """An inbound SMS to the number's messaging webhook, as Twilio posts it."""
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": sender,
            "MessageSid": f"SM{next(self._ids):032x}",
            "NumMedia": "0",
            "To": "+4915100000000",
        }
        signature = self.sign(token or self.auth_token, public_url, params)
        return httpx.post(
            _redirect(public_url, candor_url),
            data=params,
            headers={"X-Twilio-Signature": signature},
        )


@dataclass
class FakeMeta:
    """The WhatsApp Cloud API: POST /{version}/{phone-number-id}/messages with a bearer token."""

    phone_number_id: str = "106540352242922"
    access_token: str = "meta-access-token"
    app_secret: str = "meta-app-secret"
    verify_token: str = "meta-verify-token"
    version: str = "v21.0"
    base_url: str = ""
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path != f"/{self.version}/{self.phone_number_id}/messages":
            return _answer(handler, 404, {"error": {"code": 100, "message": "unknown path"}})
        if handler.headers.get("Authorization") != f"Bearer {self.access_token}":
            return _answer(handler, 401, {"error": {"code": 190, "type": "OAuthException"}})
        length = int(handler.headers.get("Content-Length", "0"))
        body = json.loads(handler.rfile.read(length))
        problem = self._problem(body)
        if problem:
            return _answer(handler, 400, {"error": {"code": 100, "message": problem}})
        wamid = f"wamid.HBgM{next(self._ids):020d}"
        with self.lock:
            self.messages.append(
                Received(handler.path, dict(handler.headers), json=body, sid=wamid)
            )
        _answer(
            handler,
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid, "message_status": "accepted"}],
            },
        )

    @staticmethod
    def _problem(body: dict[str, Any]) -> str | None:
        if body.get("messaging_product") != "whatsapp" or not str(body.get("to", "")).isdigit():
            return "messaging_product and a digits-only `to` are required"
        if body.get("type") == "text":
            return None if body.get("text", {}).get("body") else "text.body is required"
        if body.get("type") == "template":
            template = body.get("template", {})
            if not template.get("name") or not template.get("language", {}).get("code"):
                return "template.name and template.language.code are required"
            return None
        return "type must be text or template"

    def sign(self, body: bytes) -> str:
        """X-Hub-Signature-256 as Meta documents it."""
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def _post(
        self, value: dict[str, Any], candor_url: str, *, secret: str | None = None
    ) -> httpx.Response:
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "4915100000000",
                                    "phone_number_id": self.phone_number_id,
                                },
                                **value,
                            },
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(payload).encode()
        signature = FakeMeta(app_secret=secret).sign(raw) if secret is not None else self.sign(raw)
        return httpx.post(
            f"{candor_url}/hooks/meta/whatsapp",
            content=raw,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        )

    def status(
        self, message: Received, status: str, candor_url: str, error_code: int | None = None
    ) -> httpx.Response:
        """A statuses webhook for one of the messages Candor sent."""
        entry: dict[str, Any] = {
            "id": message.sid,
            "status": status,
            "timestamp": "1767225600",
            "recipient_id": message.json["to"],
        }
        if "biz_opaque_callback_data" in message.json:
            entry["biz_opaque_callback_data"] = message.json["biz_opaque_callback_data"]
        if error_code is not None:
            entry["errors"] = [{"code": error_code, "title": "Message undeliverable"}]
        return self._post({"statuses": [entry]}, candor_url)

    def inbound(
        self, sender_digits: str, text: str, candor_url: str, *, secret: str | None = None
    ) -> httpx.Response:
        """A person's text message, as the messages webhook carries it."""
        value = {
            "contacts": [{"profile": {"name": "Someone"}, "wa_id": sender_digits}],
            "messages": [
                {
                    "from": sender_digits,
                    "id": f"wamid.IN{next(self._ids):020d}",
                    "timestamp": "1767225600",
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        }
        return self._post(value, candor_url, secret=secret)


@contextmanager
def running(fake: FakeTwilio | FakeMeta) -> Iterator[FakeTwilio | FakeMeta]:
    """Serve the fake on 127.0.0.1 (a free port) while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake._handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server, thread = _serve(Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
