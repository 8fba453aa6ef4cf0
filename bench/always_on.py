"""Always-on benchmark: sign-up form to double opt-in mail, custom events into a journey.

forms: uvicorn serves the app, `candor worker` runs as a process of its own, the SMTP sink
as another; submissions are posted at a steady 50/s and each one's latency is the time from
its POST to the sink storing its confirmation mail. Then known, new and erased addresses
are posted in turn and their response times compared (no enumeration).
events: a triggered journey listens to `order.placed`; batches of 1,000 events go to
`POST /api/v1/events/batch` while the worker enters them (events/s to the last send queued),
then single events at a steady 200/s (each event's time to its send being queued).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import func, select
from tests.e2e.browser_support import serve

from bench.common import ROOT, backends, fresh_candor
from bench.delivery import _Sink
from bench.journeys import seed
from candor.accounts.api_keys import create_api_key
from candor.core.clock import SystemClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch
from candor.ledger.config import apply_config, parse_config
from candor.ledger.contacts import find_by_address
from candor.rights.erasure import erase_contacts
from candor.store.engine import reading
from candor.store.journey_tables import outbox
from candor.web.app import create_app

CANDOR = str(Path(sys.executable).parent / "candor")
THANKS = {
    "id": "thanks",
    "name": "Thank you for your order",
    "purpose": "service",
    "trigger": {"on": "event", "name": "order.placed"},
    "reentry": "after P1D",
    "fields": ["total"],
    "ends_at": "2030-01-01T00:00:00Z",
    "templates": {"t": {"email": {"subject": "Thanks", "text": "Your order: {{ total }}"}}},
    "steps": [
        {"id": "thank", "type": "send", "channel": "email", "template": "t"},
        {"id": "done", "type": "end"},
    ],
}


def _cuts(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50_ms": round(cuts[49], 1),
        "p99_ms": round(cuts[98], 1),
        "max_ms": round(max(values), 1),
    }


@contextmanager
def _worker(cx: Candor, *options: str) -> Iterator[None]:
    """`candor worker` in a process of its own, on the same databases."""
    keystore = str(cx.vault.keystore.url)
    args = [CANDOR, "--database", cx.url, "--keystore", keystore, "worker", *options]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def _paced(rate: float, count: int, job: Callable[[int], None]) -> float:
    """Start job(i) at a steady `rate` per second (a few threads); returns the seconds taken."""
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for i in range(count):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(job, i)
    return time.perf_counter() - begin


def _wait(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


# ------------------------------------------------------------------------------- forms


def _configure_forms(cx: Candor, smtp_port: int) -> None:
    config = yaml.safe_load((ROOT / "examples" / "candor.yaml").read_text())
    config["channels"] = {
        "email": {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": "news@candor.example"}
    }
    with cx.engine.begin() as conn:
        apply_config(
            conn, parse_config(yaml.safe_dump(config), "bench"), actor="b", at=cx.clock.now()
        )


def _post(client: httpx.Client, base: str, email: str) -> float:
    """One submission as a browser sends it; returns its response time in ms."""
    data = {"email": email, "consent": "newsletter:weekly:email", "lang": "en"}
    start = time.perf_counter()
    answer = client.post(f"{base}/f/newsletter", data=data, follow_redirects=False)
    assert answer.status_code == 200, answer.status_code
    return (time.perf_counter() - start) * 1000


def forms(backend: str, count: int, rate: float) -> dict[str, Any]:
    os.environ["CANDOR_FORM_RATE"] = os.environ["CANDOR_FORM_ADDRESS_RATE"] = "1000000/1000000"
    with fresh_candor(backend) as cx, tempfile.TemporaryDirectory() as tmp:
        cx.clock = SystemClock()
        sink = _Sink(Path(tmp) / "mail")
        try:
            _configure_forms(cx, sink.port)
            with serve(create_app(cx)) as base, _worker(cx, "--idle-sleep", "30"):
                with httpx.Client() as client:  # the worker is up once a first mail arrives
                    _post(client, base, "warm-up@example.org")
                    _wait(lambda: sink.store.count() >= 1, 120)
                sent_at: dict[str, int] = {}
                local = threading.local()

                def submit(i: int) -> None:
                    client = getattr(local, "client", None) or httpx.Client()
                    local.client = client
                    email = f"bench{i}@example.org"
                    sent_at[email] = time.time_ns()
                    _post(client, base, email)

                seconds = _paced(rate, count, submit)
                arrived = _wait(lambda: sink.store.count() >= count + 1, 120)
                latencies = [
                    (p.stat().st_mtime_ns - sent_at[m["To"]]) / 1e6
                    for p, m in zip(sink.store.paths(), sink.store.messages(), strict=True)
                    if m["To"] in sent_at
                ]
                same = _enumeration(cx, base, count)
        finally:
            sink.stop()
    return {
        "submissions": count,
        "rate_per_s": round(count / seconds, 1),
        "mails": len(latencies),
        "all_arrived": arrived,
        **_cuts(latencies),
        "response_ms_by_address": same,
    }


def _enumeration(cx: Candor, base: str, known: int) -> dict[str, float]:
    """Median and p90 response times of known, new and erased addresses, posted in turn."""
    rounds = min(150, known // 2)
    with reading(cx.engine) as conn:
        erasing = [
            find_by_address(conn, cx.vault, "email", f"bench{i}@example.org")
            for i in range(known - rounds, known)
        ]
    erase_contacts(cx, [c for c in erasing if c is not None], actor="bench", reason="bench")
    times: dict[str, list[float]] = {"known": [], "new": [], "erased": []}
    order = random.Random(19)
    with httpx.Client() as client:
        for i in range(rounds):
            addresses = {
                "known": f"bench{i}@example.org",
                "new": f"fresh{i}@example.org",
                "erased": f"bench{known - rounds + i}@example.org",
            }
            kinds = list(addresses)
            order.shuffle(kinds)  # in turn, in a random order: no kind always follows another
            for kind in kinds:
                times[kind].append(_post(client, base, addresses[kind]))
    out = {}
    for kind, values in times.items():
        out[f"{kind}_median"] = round(statistics.median(values), 2)
        out[f"{kind}_p90"] = round(statistics.quantiles(values, n=10)[8], 2)
    return out


# ------------------------------------------------------------------------------ events


def events(backend: str, batch_events: int, paced_events: int, rate: float) -> dict[str, Any]:
    with fresh_candor(backend) as cx:
        seed(cx, batch_events + paced_events)
        cx.clock = SystemClock()
        with cx.engine.begin() as conn:
            key = create_api_key(conn, "marketer", "bench", actor="b", at=cx.clock.now())
        launch(cx, load_journey(yaml.safe_dump(THANKS), "thanks.yaml"), actor="bench")
        headers = {"Authorization": f"Bearer {key}"}
        with (
            serve(create_app(cx)) as base,
            httpx.Client(headers=headers, timeout=120) as client,
            _worker(cx, "--no-dispatch", "--idle-sleep", "30"),
        ):
            ingest, entered = _batches(cx, client, base, batch_events)
            latencies = _single(cx, client, base, batch_events, paced_events, rate)
    return {
        "batch": {
            "events": batch_events,
            "ingest_per_s": ingest,
            "entered_and_queued_per_s": entered,
        },
        "paced": {"events": paced_events, "rate_per_s": rate, **_cuts(latencies)},
    }


def _queued(cx: Candor) -> int:
    with reading(cx.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)).scalar_one())


def _batches(cx: Candor, client: httpx.Client, base: str, n: int) -> tuple[int, int]:
    """Events for n people in batches of 1,000: ingest rate, and the rate to the last send."""
    begin = time.perf_counter()
    for start in range(1, n + 1, 1000):
        items = [
            {"contact": c, "name": "order.placed", "properties": {"total": 10 + c % 50}}
            for c in range(start, min(start + 1000, n + 1))
        ]
        answer = client.post(f"{base}/api/v1/events/batch", json={"events": items})
        assert answer.status_code == 202, answer.text
    ingested = time.perf_counter() - begin
    _wait(lambda: _queued(cx) >= n, 600)
    done = time.perf_counter() - begin
    return round(n / ingested), round(n / done)


def _single(
    cx: Candor, client: httpx.Client, base: str, first: int, n: int, rate: float
) -> list[float]:
    """n single events at `rate`/s; per event, ms from its POST to its send being queued."""
    sent: dict[int, float] = {}
    lock = threading.Lock()

    def post(i: int) -> None:
        contact = first + 1 + i
        with lock:
            sent[contact] = time.time()
        body = {"contact": contact, "name": "order.placed", "properties": {"total": 1}}
        client.post(f"{base}/api/v1/events", json=body)

    _paced(rate, n, post)
    _wait(lambda: _queued(cx) >= first + n, 300)
    with reading(cx.engine) as conn:
        rows = conn.execute(
            select(outbox.c.contact_id, outbox.c.created_at).where(outbox.c.contact_id > first)
        ).all()
    return [
        (row.created_at.astimezone(UTC).timestamp() - sent[row.contact_id]) * 1000 for row in rows
    ]


def run() -> dict[str, Any]:
    count = int(os.environ.get("CANDOR_BENCH_FORMS", "500"))
    batch = int(os.environ.get("CANDOR_BENCH_EVENTS", "20000"))
    paced = int(os.environ.get("CANDOR_BENCH_PACED_EVENTS", "2000"))
    out: dict[str, Any] = {
        "goal": "forms p50 <= 300 ms, p99 <= 2 s at 50/s; events >= 5,000/s (PostgreSQL, "
        "batch API), p99 event to send queued <= 1 s at 200/s",
        "started": datetime.now(UTC).isoformat(),
    }
    for backend in backends():
        out[backend] = {
            "forms": forms(backend, count, 50.0),
            "events": events(backend, batch, paced, 200.0),
        }
    return out
