"""Single decisions over HTTP: p50/p99 latency and requests/s against a real uvicorn server."""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any

import httpx
import uvicorn

from bench.common import backends, fresh_candor
from candor.accounts.api_keys import create_api_key
from candor.channels.mailsink import free_port
from candor.core.context import Candor
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.web.app import create_app


def _prepare(cx: Candor) -> tuple[str, int]:
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        key = create_api_key(conn, "marketer", "bench", actor="bench", at=now)
        contact = create_contact(
            conn,
            cx.vault,
            NewContact(external_id="b1", addresses=[NewAddress("email", "b@example.org")]),
            actor="bench",
            at=now,
        )
        record_consent(
            conn,
            cx.vault,
            contact,
            ConsentInput(purpose="events", status="granted", source="bench"),
            actor="bench",
            at=now,
        )
    return key, contact


def measure(cx: Candor, requests: int) -> dict[str, Any]:
    key, contact = _prepare(cx)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(cx), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/api/v1/decide"
    params = {"contact": contact, "purpose": "events", "channel": "email", "theme": "events"}
    latencies = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(50):
            client.get(url, params=params)
        begin = time.perf_counter()
        for _ in range(requests):
            start = time.perf_counter()
            response = client.get(url, params=params)
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and response.json()["allowed"]
        elapsed = time.perf_counter() - begin
    server.should_exit = True
    thread.join(timeout=10)
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": requests,
        "p50_ms": round(cuts[49], 2),
        "p99_ms": round(cuts[98], 2),
        "requests_per_s": round(requests / elapsed),
    }


def run(requests: int | None = None) -> dict[str, Any]:
    requests = requests or int(os.environ.get("CANDOR_BENCH_REQUESTS", "2000"))
    out: dict[str, Any] = {
        "goal": "p99 <= 10 ms",
        "client": "one keep-alive connection, sequential",
    }
    for backend in backends():
        with fresh_candor(backend) as cx:
            out[backend] = measure(cx, requests)
    return out
