"""The app served by a real uvicorn on 127.0.0.1, called over the network with httpx."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from candor.core.context import Candor
from candor.web import create_app

from .conftest import ALICE, Api


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(configured: Candor) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(configured), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_real_server_round_trip(served: str, api: Api) -> None:
    auth = {"Authorization": f"Bearer {api.keys['admin']}"}
    with httpx.Client(base_url=served, timeout=10) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
        assert client.get("/api/v1/purposes").status_code == 401
        created = client.post("/api/v1/contacts", json=ALICE, headers=auth)
        assert created.status_code == 201, created.text
        contact_id = created.json()["id"]
        granted = client.post(
            f"/api/v1/contacts/{contact_id}/consents",
            json={"purpose": "events", "status": "granted", "source": "api"},
            headers=auth,
        )
        assert granted.status_code == 201
        decision = client.get(
            "/api/v1/decide",
            params={"contact": contact_id, "purpose": "events", "channel": "email"},
            headers=auth,
        )
        assert decision.json()["allowed"] is True
        bad = client.post(
            "/api/v1/contacts", content=b"{", headers={**auth, "Content-Type": "application/json"}
        )
        assert bad.status_code == 422
        assert bad.json() == {"errors": [{"field": "body", "problem": "is not valid JSON"}]}
