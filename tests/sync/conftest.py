"""Helpers of the sync tests: connectors in the settings, a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from candor.core.context import Candor
from candor.ledger.config import apply_config, parse_config
from candor.store.engine import reading
from candor.store.sync_tables import sync_deliveries, sync_events
from candor.sync.signing import verify

SECRET = "s3cret-for-tests"


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """An HTTP server that records each POST and answers from a script (default 200)."""

    answer: Callable[[int, Received], int] = lambda n, r: 200
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                got = Received(
                    time.monotonic(), dict(self.headers.items()), self.rfile.read(length)
                )
                outer.received.append(got)
                code = outer.answer(len(outer.received), got)
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def verified(self, now: float) -> list[dict[str, Any]]:
        """Every body received, each with its signature checked."""
        for r in self.received:
            verify(SECRET.encode(), r.headers, r.body, now=now)
        return [r.json for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_SECRET", SECRET)


def connect(cx: Candor, connectors: list[dict[str, Any]], **sync: Any) -> None:
    """Declare connectors (and sync settings) through `config apply`."""
    text = yaml.safe_dump({"connectors": connectors, "sync": {"name": "here", **sync}})
    with cx.engine.begin() as conn:
        apply_config(conn, parse_config(text, "candor.yaml"), actor="test", at=cx.clock.now())


def hook(ident: str, url: str = "http://127.0.0.1:9/hook", **extra: Any) -> dict[str, Any]:
    return {"id": ident, "url": url, "secret_env": "SYNC_SECRET", **extra}


def events(cx: Candor) -> list[dict[str, Any]]:
    with reading(cx.engine) as conn:
        rows = conn.execute(select(sync_events).order_by(sync_events.c.id)).mappings()
        return [dict(r) for r in rows]


def deliveries(cx: Candor) -> list[dict[str, Any]]:
    with reading(cx.engine) as conn:
        rows = conn.execute(select(sync_deliveries).order_by(sync_deliveries.c.id)).mappings()
        return [dict(r) for r in rows]
