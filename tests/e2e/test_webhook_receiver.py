"""Against plain HTTP receivers: signatures verified there, retries after 500s, and a dead
letter after max attempts, shown by `candor sync status` and the API. That the delays grow
is proved on a manual clock (tests/sync/test_delivery.py), not timed here."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.sync_support import Instance, wait_for

SECRETS = {"flaky": "flaky-secret", "broken": "broken-secret"}


class Receiver:
    """Records (time, verified?, event) per POST; answers 500 for the first `fail` attempts."""

    def __init__(self, secret: str, fail: int) -> None:
        self.secret = secret.encode()
        self.fail = fail
        self.seen: list[tuple[float, bool, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                parts = dict(p.split("=", 1) for p in self.headers["Candor-Signature"].split(","))
                mac = hmac.new(outer.secret, f"{parts['t']}.".encode() + body, hashlib.sha256)
                ok = hmac.compare_digest(mac.hexdigest(), parts["v1"])
                outer.seen.append((time.monotonic(), ok, json.loads(body)))
                code = 500 if len(outer.seen) <= outer.fail else (200 if ok else 401)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {"flaky": Receiver(SECRETS["flaky"], 2), "broken": Receiver(SECRETS["broken"], 10**6)}
    yield made
    for r in made.values():
        r.close()


def test_retries_with_backoff_and_dead_letters(
    tmp_path: Path, receivers: dict[str, Receiver]
) -> None:
    env = {"FLAKY_SECRET": SECRETS["flaky"], "BROKEN_SECRET": SECRETS["broken"]}
    shop = Instance("shop", tmp_path / "shop", env)
    connectors = [
        {
            "id": name,
            "url": r.url,
            "secret_env": f"{name.upper()}_SECRET",
            "events": ["consent.changed"],
        }
        for name, r in receivers.items()
    ]
    shop.setup(
        {
            "connectors": connectors,
            "sync": {"name": "candor", "retry_base_seconds": 0.4, "max_attempts": 4},
        }
    )
    shop.start()
    shop.start_delivery(interval=0.05)
    try:
        cid = shop.create_contact("k-1", "kim@example.com")
        answer = shop.call(
            "POST",
            f"/api/v1/contacts/{cid}/consents",
            json={"purpose": "events", "status": "withdrawn", "source": "form"},
        )
        assert answer.status_code == 201, answer.text

        flaky = receivers["flaky"]
        wait_for(lambda: len(flaky.seen) >= 3)
        assert all(ok for _, ok, _ in flaky.seen)
        event = flaky.seen[0][2]
        assert event["type"] == "consent.changed" and event["subject"] == {
            "identifier_type": "external_id",
            "identifier": "k-1",
        }
        assert {e["id"] for _, _, e in flaky.seen} == {event["id"]}  # the same event each time

        def dead() -> list[dict[str, Any]]:
            letters: list[dict[str, Any]] = shop.call("GET", "/api/v1/sync/status").json()[
                "dead_letters"
            ]
            return letters

        (letter,) = wait_for(dead, timeout=20)
        assert (
            letter["connector"] == "broken"
            and letter["attempts"] == 4
            and letter["last_status"] == 500
        )
        assert len(receivers["broken"].seen) == 4
        status = shop.call("GET", "/api/v1/sync/status").json()["connectors"]
        assert {c["connector"]: (c["delivered"], c["dead"]) for c in status} == {
            "broken": (0, 1),
            "flaky": (1, 0),
        }
        printed = shop.cli("sync", "status")
        assert (
            "broken: pending 0, delivered 0, dead 1" in printed
            and f"dead letter {event['id']}" in printed
        )
        figures = shop.call("GET", "/api/v1/mission-control").json()
        assert figures["sync"]["connectors"][0]["dead_letters"][0]["event_id"] == event["id"]

        receivers["broken"].fail = 0  # repaired: the replay goes through
        assert "requeued 1" in shop.cli("sync", "replay", event["id"])
        wait_for(lambda: not dead() and len(receivers["broken"].seen) == 5)
    finally:
        shop.shutdown()
