"""Delivery benchmark: e-mails/s rendered, gated and delivered vs. a plain smtplib loop.

Both runs deliver to the same local SMTP sink (aiosmtpd) in the same process run, so the
ratio says how much of the server's raw intake the full dispatch path keeps (goal >= 70%).
`run(n)` returns the figures as a dict; `python -m bench.delivery [n]` prints them as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from candor.channels.dispatch import dispatch_due
from candor.channels.email import OutgoingEmail, as_bytes, build_message, message_id_for
from candor.channels.mailsink import MailSink, free_port
from candor.channels.settings import load_settings
from candor.channels.template_store import put_template
from candor.clock import ManualClock
from candor.ledger.config import apply_config, parse_config
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.vault import Vault, generate_master_key, parse_master_key
from candor.runtime import Candor
from candor.store.engine import make_engine, reading
from candor.store.journey_tables import outbox
from candor.store.keystore import init_keystore
from candor.store.migrate import upgrade
from candor.store.tables import settings
from candor.store.types import utcnow

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


def _open(workdir: Path) -> Candor:
    """A fresh product on SQLite files in `workdir` (or CANDOR_BENCH_DATABASE_URL)."""
    url = os.environ.get("CANDOR_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'candor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    keys = make_engine(f"sqlite:///{workdir / 'keys.db'}")
    init_keystore(keys)
    return Candor(
        engine, Vault(parse_master_key(generate_master_key()), keys), ManualClock(utcnow()), url
    )


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


def _dispatch(cx: Candor, sink: _Sink, contact_ids: list[int], connections: int) -> dict[str, Any]:
    """Time dispatch_due over one queued message per contact, with `connections` SMTP links."""
    _enqueue(cx, contact_ids, f"send-{connections}")
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
    return {"connections": connections, "sent": sent, "delivered": delivered, "seconds": elapsed}


def _raw_intake(port: int, n: int) -> float:
    """Messages/s a plain smtplib loop delivers over one connection (pre-rendered)."""
    blobs = []
    for i in range(n):
        email = OutgoingEmail(
            to=f"p{i}@example.com",
            from_=SENDER,
            subject=f"Person{i}, our events in Berlin",
            text=f"Hello Person{i},\n\nthis month in Berlin: talks, walks and a party.\n"
            f"See you there!\n\nUnsubscribe: https://candor.example.org/u/{'x' * 120}\n",
            html=f"<p>Hello Person{i},</p><p>This month in Berlin: talks, walks and a party.</p>",
            message_id=message_id_for(f"raw:{i}", "example.org"),
        )
        blobs.append((email.to, as_bytes(build_message(email))))
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, blob in blobs:
            smtp.sendmail(SENDER, [to], blob)
    return n / (time.perf_counter() - started)


def run(n: int = 5000) -> dict[str, Any]:
    """Measure the full dispatch path (1 and 2 SMTP connections) and the raw intake."""
    with tempfile.TemporaryDirectory(prefix="candor-bench-") as tmp:
        workdir = Path(tmp)
        sink = _Sink(workdir / "mail")
        cx = _open(workdir)
        try:
            contact_ids = _seed(cx, n, sink.port)
            raw_before = _raw_intake(sink.port, n)
            sink.store.clear()
            runs = [_dispatch(cx, sink, contact_ids, connections) for connections in (1, 2)]
            raw_after = _raw_intake(sink.port, n)
            sink.store.clear()
        finally:
            cx.dispose()
            sink.stop()
    raw = (raw_before + raw_after) / 2
    best = max(runs, key=lambda r: r["sent"] / r["seconds"])
    rate = best["sent"] / best["seconds"]
    return {
        "benchmark": "delivery",
        "backend": cx.engine.dialect.name,
        "messages": n,
        "raw_smtplib_per_second": round(raw, 1),
        "raw_runs_per_second": [round(raw_before, 1), round(raw_after, 1)],
        "dispatch": [
            {
                "smtp_connections": r["connections"],
                "sent": r["sent"],
                "delivered_to_sink": r["delivered"],
                "seconds": round(r["seconds"], 3),
                "per_second": round(r["sent"] / r["seconds"], 1),
                "ratio": round(r["sent"] / r["seconds"] / raw, 3),
            }
            for r in runs
        ],
        "dispatch_per_second": round(rate, 1),
        "ratio": round(rate / raw, 3),
        "goal_ratio": 0.7,
        "meets_goal": rate / raw >= 0.7 and all(r["delivered"] == n for r in runs),
    }


def main() -> None:
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
