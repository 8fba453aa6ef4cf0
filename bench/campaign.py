"""A campaign from launch to the last mail: `python -m bench campaign`.

n contacts (CANDOR_BENCH_CAMPAIGN, default 1,000,000; nine in ten with a confirmed newsletter
consent, each with a key of its own and a sealed address, written by COPY) and a journey whose
one e-mail goes through the consent gate (the send step decides). `candor worker --processes P`
(CANDOR_BENCH_PROCESSES, default 2) runs from before the launch; the launch enrols in batches
while the workers advance and send to a local SMTP sink (aiosmtpd in its own process, the
delivery benchmark's) with N connections in all (CANDOR_BENCH_CONNECTIONS, default 2: N / P per
worker). Reported: time from launch to the first and to the last mail, mails/s, and the ratio
to the same sink's raw intake over N connections (pre-rendered messages, measured before and
after in the same run).
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, insert, select, text

from bench.common import ROOT, Timer, database_url
from bench.delivery import SENDER, _prerendered, _Sink
from bench.scale_seed import CHUNK, write_rows
from bench.scale_steps import JOURNEY as SCALE_JOURNEY
from candor.channels.mime_bytes import wire_bytes
from candor.core.clock import SystemClock
from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.runtime import launch
from candor.ledger.config import apply_config, load_config_file
from candor.store.engine import make_engine, reading
from candor.store.journey_tables import journey_contacts, journeys, outbox
from candor.store.keystore import init_keystore
from candor.store.migrate import upgrade
from candor.store.tables import settings
from candor.store.vault import generate_master_key

CONFIG = ROOT / "examples" / "candor.yaml"
PUBLIC_URL = "https://candor.example.org"
JOURNEY = {**SCALE_JOURNEY, "id": "campaign", "name": "Campaign"}


def _rows(cx: Candor, n: int, at: datetime) -> Iterator[tuple[str, dict[str, Any]]]:
    """Contacts with a stored key, a sealed e-mail address and (nine in ten) consent."""
    for start in range(1, n + 1, CHUNK):
        count = min(CHUNK, n - start + 1)
        keys = cx.vault.new_keys(count)
        cx.vault.store_keys(keys)
        for g, key in zip(range(start, start + count), keys, strict=True):
            email = f"person{g}@example.com"
            yield (
                "contacts",
                {
                    "id": g,
                    "key_id": key.key_id,
                    "attributes": {"country": "DE"},
                    "language": "en",
                    "timezone": "UTC",
                    "source": "bench",
                    "created_at": at,
                    "updated_at": at,
                },
            )
            yield (
                "addresses",
                {
                    "id": g,
                    "contact_id": g,
                    "channel": "email",
                    "blind_index": cx.vault.blind_index("email", email),
                    "value": key.encrypt("address:email", email.encode()),
                    "deliverable": True,
                    "created_at": at,
                },
            )
            if g % 10:
                yield (
                    "consent_state",
                    {
                        "contact_id": g,
                        "purpose_id": "newsletter",
                        "scope_theme": "",
                        "scope_channel": "email",
                        "scope_address": 0,
                        "event_id": g,
                        "status": "confirmed",
                        "occurred_at": at,
                        "purpose_version": 1,
                    },
                )


def seed(cx: Candor, n: int, smtp_port: int, connections: int) -> None:
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        apply_config(conn, load_config_file(CONFIG), actor="bench", at=at)
        email = {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": SENDER}
        email["connections"] = connections  # type: ignore[assignment]
        for key, value in (("channels", {"email": email}), ("public_url", PUBLIC_URL)):
            conn.execute(delete(settings).where(settings.c.key == key))
            conn.execute(insert(settings).values(key=key, value=value))
    write_rows(cx, _rows(cx, n, at))


def raw_intake(port: int, messages: int, connections: int) -> float:
    """Messages/s the sink takes from `connections` plain smtplib clients (pre-rendered)."""
    blobs = [(f"p{i}@example.com", wire_bytes(_prerendered(i))) for i in range(messages)]
    slices = [blobs[i::connections] for i in range(connections)]

    def send(part: list[tuple[str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for to, blob in part:
                smtp.sendmail(SENDER, [to], blob)

    threads = [threading.Thread(target=send, args=(part,)) for part in slices]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return messages / (time.perf_counter() - started)


def _arrivals(directory: Path, after: int) -> tuple[int, float | None, float | None]:
    """Messages stored after the first `after`: count, first and last arrival (epoch s)."""
    names = sorted(p.name for p in os.scandir(directory) if p.name.endswith(".eml"))
    mine = [name for name in names if int(name.split("-", 1)[0]) > after]
    if not mine:
        return 0, None, None
    return (
        len(mine),
        (directory / mine[0]).stat().st_mtime,
        (directory / mine[-1]).stat().st_mtime,
    )


def _queued(cx: Candor) -> int:
    with reading(cx.engine) as conn:
        open_rows = select(func.count()).where(outbox.c.status.in_(("queued", "sending")))
        enrolling = select(func.count()).where(journeys.c.enrol_until.is_not(None))
        moving = select(func.count()).where(journey_contacts.c.status.in_(("active", "waiting")))
        return sum(int(conn.execute(q).scalar_one()) for q in (open_rows, enrolling, moving))


def measure(backend: str, n: int, processes: int, connections: int) -> dict[str, Any]:
    os.environ.setdefault("CANDOR_MASTER_KEY", generate_master_key())
    with tempfile.TemporaryDirectory(prefix="candor-campaign-") as tmp:
        work = Path(tmp)
        sink = _Sink(work / "mail")
        try:
            with database_url(backend, work) as url:
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
                keys = f"sqlite:///{work}/keys.db"
                cx = Candor.open(url, keystore=keys, clock=SystemClock())
                init_keystore(cx.vault.keystore)
                with Timer() as seeding:
                    seed(cx, n, sink.port, max(1, connections // processes))
                probe = max(2000, min(20_000, n // 20))
                before = raw_intake(sink.port, probe, connections)
                result = _campaign(cx, url, keys, work / "mail", processes, probe)
                after = raw_intake(sink.port, probe, connections)
                cx.dispose()
        finally:
            sink.stop()
    raw = (before + after) / 2
    result.update(
        backend=backend,
        contacts=n,
        processes=processes,
        smtp_connections=connections,
        seed_seconds=round(seeding.seconds, 1),
        raw_per_second=round(raw, 1),
        raw_before_after=[round(before, 1), round(after, 1)],
        ratio=round(result["mails_per_second"] / raw, 3),
    )
    return result


def _until_connected(cx: Candor, tag: str, processes: int) -> None:
    """Wait until every worker process has its connection (they are past start-up)."""
    query = text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :tag")
    deadline = time.monotonic() + 120
    while processes and time.monotonic() < deadline:
        with cx.engine.connect() as conn:
            if conn.execute(query, {"tag": tag}).scalar_one() >= processes:
                break
        time.sleep(0.2)
    time.sleep(1)  # a first idle round each


def _campaign(
    cx: Candor, url: str, keys: str, mail: Path, processes: int, earlier: int
) -> dict[str, Any]:
    """Workers up, launch, wait for the last mail; times from the launch's start."""
    candor = str(Path(sys.executable).parent / "candor")
    tag = f"candor-campaign-{os.getpid()}"
    named = f"{url}&application_name={tag}" if "?" in url else url
    command = [candor, "--database", named, "--keystore", keys]
    command += ["worker", "--processes", str(processes), "--idle-sleep", "0.05"]
    workers = subprocess.Popen(command, cwd=ROOT)
    try:
        _until_connected(cx, tag, processes if "?" in url else 0)
        started = time.time()
        report = launch(cx, load_journey(yaml.safe_dump(JOURNEY), "campaign.yaml"), actor="bench")
        launched = time.time() - started
        while _queued(cx):
            time.sleep(0.5)
    finally:
        workers.terminate()
        workers.wait(timeout=60)
    count, first, last = _arrivals(mail, earlier)
    if first is None or last is None:
        with reading(cx.engine) as conn:
            statuses = dict(
                conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status)).all()
            )
        raise RuntimeError(f"no mail arrived: entered {report.entered}, outbox {statuses}")
    with reading(cx.engine) as conn:
        queued, sent = conn.execute(
            select(func.min(outbox.c.created_at), func.min(outbox.c.sent_at))
        ).one()
    return {
        "first_queued_seconds": round(queued.timestamp() - started, 2),
        "first_sent_at_seconds": round(sent.timestamp() - started, 2),
        "entered": report.entered,
        "mails": count,
        "launch_seconds": round(launched, 2),
        "first_mail_seconds": round(first - started, 2),
        "last_mail_seconds": round(last - started, 2),
        "mails_per_second": round(count / (last - started), 1),
    }


def run() -> dict[str, Any]:
    n = int(os.environ.get("CANDOR_BENCH_CAMPAIGN", "1000000"))
    processes = int(os.environ.get("CANDOR_BENCH_PROCESSES", "2"))
    connections = int(os.environ.get("CANDOR_BENCH_CONNECTIONS", "2"))
    backend = (
        "postgres"
        if os.environ.get("CANDOR_BENCH_POSTGRES_URL") or os.environ.get("CANDOR_TEST_POSTGRES_URL")
        else "sqlite"
    )
    if backend == "sqlite":
        processes = 1
    return {
        "goal": "first mail within 2 s of launch; mails/s >= 0.8 of the sink's raw intake",
        **measure(backend, n, processes, connections),
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(), indent=2) + "\n")
