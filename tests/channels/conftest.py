"""Fixtures: a real SMTP sink and a real HTTP "SMS provider", both on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from candor.channels.mailsink import MailSink

REFUSED = "gone@example.net"


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    """A running mail sink on an ephemeral port that refuses REFUSED."""
    with MailSink(tmp_path / "mail", port=0, refuse_recipients=[REFUSED]) as running:
        yield running


@dataclass
class ProviderRequest:
    """One request the fake provider received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Provider:
    """A fake SMS provider: records requests; answers per recipient number (default 200)."""

    url: str = ""
    requests: list[ProviderRequest] = field(default_factory=list)
    status_for: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def provider() -> Iterator[Provider]:
    """A real HTTP server in a thread, standing in for an SMS/WhatsApp provider API."""
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with state.lock:
                state.requests.append(ProviderRequest(self.path, dict(self.headers), body))
            status = state.status_for.get(body.get("to", ""), 200)
            payload = json.dumps({"status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
