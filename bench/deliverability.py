"""Deliverability benchmark: DKIM-signed delivery against the sink's raw intake, and bounce
and complaint reports parsed and applied per second.

- dkim: the full dispatch path with DKIM signing (and VERP return paths, List-Id,
  Feedback-ID) to a local SMTP sink in a process of its own, each run between two runs of
  a plain smtplib loop of unsigned, pre-rendered messages (bench.delivery's method); goal:
  at least 0.7 of the raw intake.
- reports: real DSN and ARF mails about messages that were sent (70% hard bounces, 20% soft,
  10% complaints), parsed and applied in the batches `candor bounces poll` uses; goal:
  at least 1,000 reports/s.

`run(n)` returns the figures (n from CANDOR_BENCH_DELIVERABILITY, default 2000);
`python -m bench.deliverability [n]` prints them as JSON.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import select, update

from bench.common import backends
from bench.delivery import GOAL, _interleaved, _summary, seeded, slices_of
from candor.channels.bounces import ReceivedMail, take_reports
from candor.channels.email_settings import BounceSettings
from candor.channels.verp import return_path
from candor.core.context import Candor
from candor.store.journey_tables import outbox
from candor.store.tables import settings

REPORTS_GOAL = 1000.0
BOUNCE_DOMAIN = "bounces.example.org"
BATCH = 200  # as candor.channels.bounce_mailbox reads them


def _key(workdir: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = workdir / "dkim.pem"
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def _deliverable(cx: Candor, workdir: Path) -> None:
    """Turn DKIM and VERP on in the stored channel settings."""
    with cx.engine.begin() as conn:
        channels = conn.execute(select(settings.c.value).where(settings.c.key == "channels"))
        value = dict(channels.scalar_one())
        value["email"] = {
            **value["email"],
            "dkim": {"selector": "s1", "domain": "example.org", "key_file": str(_key(workdir))},
            "bounces": {"domain": BOUNCE_DOMAIN},
        }
        conn.execute(update(settings).where(settings.c.key == "channels").values(value=value))


def _report_mails(cx: Candor) -> list[ReceivedMail]:
    """A DSN or ARF mail about each sent message, quoting it as servers do."""
    from tests.channels.receiving_mta import arf, dsn  # the same writers the tests use

    with cx.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.id).where(outbox.c.status == "sent")).scalars()
        ids = sorted(rows)
    original = b"From: news@example.org\r\nTo: p@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
    mails = []
    for index, outbox_id in enumerate(ids):
        verp = return_path(cx.vault.signing_key, outbox_id, BOUNCE_DOMAIN)
        rcpt = f"p{index}@example.com"
        if index % 10 == 9:
            raw = arf(original, verp, rcpt, f"fbl@{BOUNCE_DOMAIN}")
            mails.append(ReceivedMail(raw, (f"fbl@{BOUNCE_DOMAIN}",)))
        else:
            status = "4.2.2" if index % 10 in (7, 8) else "5.1.1"
            mails.append(ReceivedMail(dsn(original, verp, rcpt, status), (verp,)))
    return mails


def _reports(cx: Candor) -> dict[str, Any]:
    """Parse and apply a report about every sent message, timed."""
    mails = _report_mails(cx)
    bounces = BounceSettings(domain=BOUNCE_DOMAIN)
    started, cpu = time.perf_counter(), time.process_time()
    totals = {"applied": 0, "undeliverable": 0, "blocks": 0, "review": 0}
    for start in range(0, len(mails), BATCH):
        done = take_reports(cx, bounces, mails[start : start + BATCH])
        for name in totals:
            totals[name] += getattr(done, name)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    rate = len(mails) / seconds
    return {
        "reports": len(mails),
        "seconds": round(seconds, 3),
        "per_second": round(rate, 1),
        # Reports per second of this process's CPU: what the work costs when the machine is
        # shared (SQLite works in-process; PostgreSQL's own CPU is not in it).
        "per_cpu_second": round(len(mails) / cpu, 1) if cpu else None,
        **totals,
        "meets_goal": rate >= REPORTS_GOAL and totals["applied"] == len(mails),
    }


def measure(backend: str, n: int, rounds: int) -> dict[str, Any]:
    """One backend: DKIM delivery beside the raw intake, then the reports about those sends."""
    with seeded(backend, n) as (cx, sink, contact_ids, workdir):
        _deliverable(cx, workdir)
        runs = _interleaved(cx, sink, slices_of(contact_ids, rounds))
        reports = _reports(cx)
    summaries = [_summary(c, runs[c]) for c in sorted(runs)]
    best = max(summaries, key=lambda s: s["ratio"])
    dkim = {
        "dispatch": summaries,
        "raw_smtplib_per_second": best["raw_per_second"],
        "dispatch_per_second": best["per_second"],
        "ratio": best["ratio"],
        "ratio_median_all": round(
            statistics.median(r for s in summaries for r in s["ratio_runs"]), 3
        ),
        "meets_goal": best["ratio"] >= GOAL,
    }
    return {"dkim": dkim, "reports": reports}


def run(n: int | None = None, rounds: int = 5) -> dict[str, Any]:
    """The deliverability figures on SQLite and, when configured, PostgreSQL."""
    n = n or int(os.environ.get("CANDOR_BENCH_DELIVERABILITY", "2000"))
    out: dict[str, Any] = {
        "benchmark": "deliverability",
        "messages": n,
        "goal_dkim_ratio": GOAL,
        "goal_reports_per_second": REPORTS_GOAL,
    }
    for backend in backends():
        out[backend] = measure(backend, n, rounds)
    return out


def main() -> None:
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
