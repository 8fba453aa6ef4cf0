"""Candor instances as real subprocesses for the connector end-to-end tests.

Each instance has its own directory (SQLite data file, key store, master key), its own
candor.yaml applied with `candor config apply`, a `candor serve` and a `candor sync deliver`
process; everything talks over 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

FIXTURE = Path(__file__).parent.parent / "fixtures" / "candor.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    """Poll until `check` returns something truthy; its last value (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting ({timeout}s)")
        time.sleep(every)


@dataclass
class Instance:
    """One Candor: its directory, environment, processes and API keys."""

    name: str
    root: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    keys: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen[bytes] | None = None
    deliverer: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOR_")}
        env["CANDOR_DATABASE_URL"] = f"sqlite:///{self.root / 'candor.db'}"
        return {**env, **self.env_extra}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "candor", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def setup(self, extra: dict[str, Any]) -> None:
        """init, config apply (the test registry plus `extra`), one API key per role."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.cli("init")
        config = {**yaml.safe_load(FIXTURE.read_text()), **extra}
        (self.root / "candor.yaml").write_text(yaml.safe_dump(config))
        self.cli("config", "apply", "candor.yaml")
        for role in ("admin", "dpo"):
            self.keys[role] = self.cli("api-key", "create", "--role", role).strip()

    def start(self) -> None:
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 (closed with the process)
        self.server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "candor",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        wait_for(self._healthy, timeout=30)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=15)
            self.server = None

    def start_delivery(self, interval: float = 0.1) -> None:
        log = open(self.root / "deliver.log", "ab")  # noqa: SIM115
        self.deliverer = subprocess.Popen(
            [sys.executable, "-m", "candor", "sync", "deliver", "--interval", str(interval)],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=log,
        )

    def shutdown(self) -> None:
        self.stop()
        if self.deliverer is not None:
            self.deliverer.terminate()
            self.deliverer.wait(timeout=15)
            self.deliverer = None

    def call(self, method: str, path: str, role: str = "admin", **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kw)

    def create_contact(self, external_id: str, email: str) -> int:
        body = {
            "external_id": external_id,
            "first_name": "Pat",
            "addresses": [{"channel": "email", "value": email}],
            "attributes": {"country": "DE"},
        }
        answer = self.call("POST", "/api/v1/contacts", json=body)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])
