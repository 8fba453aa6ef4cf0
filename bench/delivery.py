"""Delivery benchmark: e-mails/s rendered, gated and delivered vs. a plain smtplib loop.

Both deliver to the same local SMTP sink (aiosmtpd, a process of its own) in the same run,
interleaved: every dispatch run sits between two raw runs of its size, so the ratio says how
much of the server's raw intake the full dispatch path keeps (goal >= 70%) even while other
work on the machine comes and goes.
PostgreSQL is measured too when CANDOR_BENCH_POSTGRES_URL (or CANDOR_TEST_POSTGRES_URL) is
set. `run(n)` returns the figures as a dict (n from CANDOR_BENCH_DELIVERY, default 5000);
`python -m bench.delivery [n]` prints them as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench.common import backends, database_url
from candor.channels import links
from candor.channels.dispatch import dispatch_due
from candor.channels.email import OutgoingEmail, Unsubscribe, message_id_for
from candor.channels.mailsink import MailSink, free_port
from candor.channels.mime_bytes import wire_bytes
from candor.channels.settings import load_settings
from candor.channels.template_store import put_template
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.config import apply_config, parse_config
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.store.engine import make_engine, reading
from candor.store.journey_tables import outbox
from candor.store.keystore import init_keystore
from candor.store.migrate import upgrade
from candor.store.tables import settings
from candor.store.types import utcnow
from candor.store.vault import Vault, generate_master_key, parse_master_key

CONFIG = """
themes: [{id: events, name: Events}]
purposes:
  - {id: events, name: Events, kind: marketing, legal_basis: consent, wording: "Invite me."}
"""
TEMPLATE = {
    "email": {
        "subject": "{{ first_name }}, our events in {{ city }}",
        "text": "Hello {{ first_name }},\n\nthis month in {{ city }}: talks, walks and a party.\n"
        "See you there!\n\nUnsubscribe: {{ unsubscribe_url }}\n",
        "html": "<p>Hello {{ first_name }},</p><p>This month in {{ city }}: talks, walks and a "
        'party.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
    }
}
SENDER = "news@example.org"
RAW_KEY = b"k" * 32  # signs the raw run's links: tokens as long as dispatch's
RAW_ISSUED = datetime(2026, 1, 1, tzinfo=UTC)
GOAL = 0.7  # of the raw intake
CONNECTIONS = (1, 2)  # SMTP connections per worker (channels.email.connections)


class _Sink:
    """The SMTP sink in a process of its own, as a real server would be (no shared GIL)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        code = (
            "import sys; from pathlib import Path; from candor.channels import mailsink; "
            "mailsink.run_forever(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]))"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(directory), str(self.port)]
        )
        self.store = MailSink(directory, port=self.port)  # not started: reads the stored files
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=1) as probe:
                    probe.noop()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mail sink did not start")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


@contextmanager
def _open(workdir: Path, backend: str) -> Iterator[Candor]:
    """A fresh product: SQLite files in `workdir`, or a throwaway PostgreSQL schema."""
    with database_url(backend, workdir) as url:
        engine = make_engine(url)
        upgrade(engine)
        keys = make_engine(f"sqlite:///{workdir / 'keys.db'}")
        init_keystore(keys)
        vault = Vault(parse_master_key(generate_master_key()), keys)
        cx = Candor(engine, vault, ManualClock(utcnow()), url)
        try:
            yield cx
        finally:
            cx.dispose()


def _seed(cx: Candor, n: int, smtp_port: int) -> list[int]:
    """n contacts with consent (not timed); returns their ids."""
    at = cx.clock.now()
    ids = []
    with cx.engine.begin() as conn:
        apply_config(conn, parse_config(CONFIG, "bench.yaml"), actor="bench", at=at)
        channels = {"email": {"smtp_url": f"smtp://127.0.0.1:{smtp_port}", "from": SENDER}}
        conn.execute(
            insert(settings),
            [
                {"key": "channels", "value": channels},
                {"key": "public_url", "value": "https://candor.example.org"},
            ],
        )
        put_template(conn, "events", TEMPLATE, actor="bench", at=at)
        for i in range(n):
            new = NewContact(
                first_name=f"Person{i}", addresses=[NewAddress("email", f"p{i}@example.com")]
            )
            contact = create_contact(conn, cx.vault, new, actor="bench", at=at)
            granted = ConsentInput(purpose="events", status="granted", source="bench")
            record_consent(conn, cx.vault, contact, granted, actor="bench", at=at)
            ids.append(contact)
    if cx.engine.dialect.name == "postgresql":  # statistics, as autovacuum would keep them
        with cx.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return ids


def _enqueue(cx: Candor, contact_ids: list[int], tag: str) -> None:
    """One queued marketing e-mail per contact, as the journey runtime writes them."""
    at = cx.clock.now()
    common = {
        "journey_id": None,
        "step_id": tag,
        "channel": "email",
        "address_id": None,
        "template_id": "events",
        "purpose_id": "events",
        "theme": "events",
        "kind": "marketing",
        "context": {"city": "Berlin"},
        "decision_reason": "allowed",
        "decision_basis": "consent",
        "decision_event_id": None,
        "status": "queued",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }
    rows = [{**common, "idempotency_key": f"bench:{c}:{tag}", "contact_id": c} for c in contact_ids]
    with cx.engine.begin() as conn:
        conn.execute(insert(outbox), rows)


def _dispatch(
    cx: Candor, sink: _Sink, contact_ids: list[int], connections: int, tag: str
) -> dict[str, Any]:
    """Time dispatch_due over one queued message per contact, with `connections` SMTP links."""
    _enqueue(cx, contact_ids, f"{tag}-{connections}")
    with reading(cx.engine) as conn:
        conf = load_settings(conn)
    assert conf.email is not None
    conf.email.connections = connections
    sink.store.clear()
    started = time.perf_counter()
    sent = dispatch_due(cx, settings=conf)
    elapsed = time.perf_counter() - started
    delivered = sink.store.count()
    sink.store.clear()
    return {"sent": sent, "delivered": delivered, "seconds": elapsed}


def _prerendered(i: int) -> OutgoingEmail:
    """Message i as dispatch renders it: same template text, headers and link lengths."""
    token = links.unsubscribe_token(
        RAW_KEY,
        contact_id=i + 1,
        purpose_id="events",
        theme="events",
        channel="email",
        address_id=i + 1,
        outbox_id=i + 1,
        issued_at=RAW_ISSUED,
    )
    url = links.unsubscribe_url("https://candor.example.org", token)
    context = {"first_name": f"Person{i}", "city": "Berlin", "unsubscribe_url": url}
    parts = {
        name: source.replace("{{ ", "{").replace(" }}", "}")
        for name, source in TEMPLATE["email"].items()
    }
    return OutgoingEmail(
        to=f"p{i}@example.com",
        from_=SENDER,
        subject=parts["subject"].format(**context),
        text=parts["text"].format(**context),
        html=parts["html"].format(**context),
        message_id=message_id_for(f"raw:{i}", "example.org"),
        unsubscribe=Unsubscribe(url, links.unsubscribe_mailto("example.org", token)),
    )


def _raw_intake(port: int, n: int) -> float:
    """Messages/s a plain smtplib loop delivers over one connection (pre-rendered)."""
    blobs = [(f"p{i}@example.com", wire_bytes(_prerendered(i))) for i in range(n)]
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, blob in blobs:
            smtp.sendmail(SENDER, [to], blob)
    return n / (time.perf_counter() - started)


def _interleaved(
    cx: Candor, sink: _Sink, slices: list[list[int]]
) -> dict[int, list[dict[str, Any]]]:
    """Per slice and connection count, a dispatch run between two raw runs of the same size.

    Other work on the machine comes and goes: each dispatch run is compared with the raw
    intake measured right before and right after it, not with a distant average.
    """
    runs: dict[int, list[dict[str, Any]]] = {c: [] for c in CONNECTIONS}
    raw_before = _raw_intake(sink.port, len(slices[0]))
    sink.store.clear()
    for index, contact_ids in enumerate(slices):
        for connections in CONNECTIONS:
            run = _dispatch(cx, sink, contact_ids, connections, f"send-{index}")
            raw_after = _raw_intake(sink.port, len(contact_ids))
            sink.store.clear()
            run["raw_per_second"] = (raw_before + raw_after) / 2
            run["ratio"] = run["sent"] / run["seconds"] / run["raw_per_second"]
            runs[connections].append(run)
            raw_before = raw_after
    return runs


def _summary(connections: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One connection count's figures: totals, and the median of the paired ratios."""
    sent = sum(r["sent"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {
        "smtp_connections": connections,
        "sent": sent,
        "delivered_to_sink": sum(r["delivered"] for r in runs),
        "seconds": round(seconds, 3),
        "per_second": round(sent / seconds, 1),
        "raw_per_second": round(statistics.median(r["raw_per_second"] for r in runs), 1),
        "ratio": round(statistics.median(r["ratio"] for r in runs), 3),
        "ratio_runs": [round(r["ratio"], 3) for r in runs],
    }


@contextmanager
def seeded(backend: str, n: int) -> Iterator[tuple[Candor, _Sink, list[int], Path]]:
    """A fresh product with n consenting contacts and a running sink (its work directory)."""
    with tempfile.TemporaryDirectory(prefix="candor-bench-") as tmp:
        workdir = Path(tmp)
        sink = _Sink(workdir / "mail")
        try:
            with _open(workdir, backend) as cx:
                yield cx, sink, _seed(cx, n, sink.port), workdir
        finally:
            sink.stop()


def slices_of(contact_ids: list[int], rounds: int) -> list[list[int]]:
    """The contacts in `rounds` slices of (nearly) equal size."""
    size = -(-len(contact_ids) // rounds) or 1
    return [contact_ids[i : i + size] for i in range(0, len(contact_ids), size)]


def measure(backend: str, n: int, rounds: int) -> dict[str, Any]:
    """One backend: the full dispatch path (1 and 2 SMTP connections) beside the raw intake.

    The n contacts are sent to in `rounds` slices; every dispatch run sits between two raw
    runs of its size, and a connection count's ratio is the median of its paired ratios.
    """
    with seeded(backend, n) as (cx, sink, contact_ids, _):
        slices = slices_of(contact_ids, rounds)
        runs = _interleaved(cx, sink, slices)
    summaries = [_summary(c, runs[c]) for c in CONNECTIONS]
    best = max(summaries, key=lambda s: s["ratio"])
    return {
        "rounds": len(slices),
        "raw_smtplib_per_second": best["raw_per_second"],
        "dispatch": summaries,
        "dispatch_per_second": best["per_second"],
        "ratio": best["ratio"],
        "meets_goal": best["ratio"] >= GOAL
        and all(s["delivered_to_sink"] == s["sent"] == n for s in summaries),
    }


def run(n: int | None = None, rounds: int = 5) -> dict[str, Any]:
    """The delivery figures on SQLite and, when configured, PostgreSQL."""
    n = n or int(os.environ.get("CANDOR_BENCH_DELIVERY", "5000"))
    out: dict[str, Any] = {"benchmark": "delivery", "messages": n, "goal_ratio": GOAL}
    for backend in backends():
        out[backend] = measure(backend, n, rounds)
    return out


def main() -> None:
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
