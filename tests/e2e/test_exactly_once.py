"""Exactly once, as far as SMTP allows: SIGKILL the dispatching worker at random moments.

A worker process drains the outbox to a real SMTP sink; it is killed over and over and
restarted fresh (lease 0, so a killed worker's claimed rows are taken over at once) until
nothing is left. Then, against what the sink received: every allowed contact got its
message, no idempotency key ever produced two different Message-IDs, no denied contact got
anything, and the same-Message-ID re-deliveries are counted and reported.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from candor.channels.dispatch import pending
from candor.channels.email import message_id_for
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.blocks import set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.store.journey_tables import outbox
from candor.store.tables import communications
from tests.channels.test_dispatch_support import add_contact, configure_channels, enqueue

CONTACTS = int(os.environ.get("CANDOR_EXACTLY_ONCE_CONTACTS", "200"))
TRIALS = 15
# Seconds after the worker is ready (imports done, ~0.3 s after its start) when it is killed:
# short enough that 15 kills land before 200 messages drain.
KILL_AFTER = (0.01, 0.12)
WORKER = (
    "import sys; import candor.channels.dispatch as d; "
    "sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.exit(d.main())"
)


def _seed(cx: Candor) -> tuple[dict[str, str], set[str]]:
    """Contacts with e-mail consent; some withdraw, are blocked or were never asked after enqueue.

    Returns idempotency key -> address for the allowed, and the addresses of the denied.
    """
    allowed: dict[str, str] = {}
    denied: set[str] = set()
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        for n in range(CONTACTS):
            email = f"person{n}@example.com"
            contact = add_contact(conn, cx, email=email, consent=None if n % 13 == 5 else "granted")
            key = f"exactly-once:{contact}:send"
            enqueue(conn, contact, at=at, key=key)
            if n % 7 == 3:
                record_consent(
                    conn,
                    cx.vault,
                    contact,
                    ConsentInput(purpose="events", status="withdrawn", source="api"),
                    actor="test",
                    at=at,
                )
            elif n % 11 == 4:
                set_block(
                    conn,
                    cx.vault,
                    contact,
                    reason="asked",
                    source="api",
                    channel="email",
                    actor="test",
                    at=at,
                )
            if n % 7 == 3 or n % 11 == 4 or n % 13 == 5:
                denied.add(email)
            else:
                allowed[key] = email
    return allowed, denied


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )


def test_sigkilled_workers_never_send_two_different_messages(
    configured: Candor, clock: ManualClock, tmp_path: Path, db_url: str
) -> None:
    cx = configured
    clock.set(datetime.now(UTC))  # the worker runs on the system clock
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port, dispatch={"batch_size": 5})
        allowed, denied = _seed(cx)
        env = {
            **os.environ,
            "CANDOR_DATABASE_URL": db_url,
            "CANDOR_KEYSTORE_URL": str(cx.vault.keystore.url),
            "CANDOR_OUTBOX_LEASE_SECONDS": "0",
        }
        rng = random.Random(8058)
        kills, killed_mid_batch = 0, 0
        for _ in range(TRIALS):
            if not pending(cx):
                break
            worker = _worker(env)
            assert worker.stdout is not None and worker.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(*KILL_AFTER))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            with cx.engine.connect() as conn:
                in_flight = conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.status == "sending")
                ).scalar_one()
            killed_mid_batch += int(in_flight > 0)
        final = _worker(env)
        assert final.wait(timeout=120) == 0
        assert pending(cx) == 0
        received = sink.messages()

    ids_by_address: dict[str, set[str]] = defaultdict(set)
    for message in received:
        ids_by_address[str(message["To"])].add(str(message["Message-ID"]))
    # Every allowed contact got its message, with the Message-ID of its idempotency key only.
    for key, address in allowed.items():
        assert ids_by_address.get(address) == {message_id_for(key, "example.org")}, address
    # No denied contact got anything.
    assert not denied & set(ids_by_address)
    # Each sent message is recorded exactly once, with its decision.
    with cx.engine.connect() as conn:
        sent = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.status == "sent")
        ).scalar_one()
        comms = conn.execute(
            select(func.count(), func.count(func.distinct(communications.c.contact_id))).where(
                communications.c.direction == "out", communications.c.decision_reason == "allowed"
            )
        ).one()
    assert sent == len(allowed) and tuple(comms) == (len(allowed), len(allowed))

    report: dict[str, Any] = {
        "backend": cx.engine.dialect.name,
        "contacts": CONTACTS,
        "allowed": len(allowed),
        "denied": len(denied),
        "trials_killed": kills,
        "kills_with_rows_in_flight": killed_mid_batch,
        "messages_received": len(received),
        "same_message_id_repeats": len(received) - len(allowed),
        "different_message_ids_for_one_key": 0,
    }
    out = (
        Path(os.environ.get("CANDOR_REPORT_DIR", tmp_path))
        / f"exactly_once_{cx.engine.dialect.name}.json"
    )
    out.write_text(json.dumps(report, indent=2))
    sys.stdout.write(json.dumps(report) + "\n")
