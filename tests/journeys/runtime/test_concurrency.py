"""Several workers share a journey on PostgreSQL (FOR UPDATE SKIP LOCKED): no double work."""

from __future__ import annotations

import csv
import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from candor.core.context import Candor
from candor.journeys.runtime import advance
from candor.ledger.imports.importer import import_csv
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_transitions, outbox

from .helpers import start, stats

STEPS = [
    {
        "id": "invite",
        "type": "send",
        "channel": "email",
        "template": "promo_mail",
        "theme": "events",
    },
    {"id": "pause", "type": "wait", "duration": "P7D"},
    {"id": "done", "type": "end"},
]


def bulk_contacts(cx: Candor, n: int, folder: Path) -> None:
    """n contacts with an e-mail address and a grant for `events`, through the bulk importer."""
    path = folder / "people.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "email", "country", "consent:events"])
        writer.writerows([f"p{i}", f"p{i}@example.org", "DE", "granted"] for i in range(n))
    report = import_csv(cx.engine, cx.vault, path, actor="test", at=cx.clock.now(), batch_size=1000)
    assert report.imported == n


def test_two_workers_never_process_a_contact_twice(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    if is_sqlite(cx.engine):
        pytest.skip("SQLite has one writer at a time; SKIP LOCKED is a PostgreSQL feature")
    n = 3000
    bulk_contacts(cx, n, tmp_path)
    start(cx, STEPS)
    barrier = threading.Barrier(2)
    done: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            done.append(advance(cx, batch_size=100))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(done) == n and all(d > 0 for d in done), done  # both workers took a share
    with reading(cx.engine) as conn:
        per_contact = Counter(conn.execute(select(outbox.c.contact_id)).scalars())
        moves = conn.execute(
            select(func.count()).where(journey_transitions.c.from_step == "invite")
        ).scalar_one()
    assert len(per_contact) == n and set(per_contact.values()) == {1}
    assert moves == n
    assert stats(cx)[("invite", "passed")] == n
