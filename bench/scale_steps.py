"""The figures of the growth curves, in the order they run on one seeded database (bench.scale).

Population work (k <= 1.05): gate, audience, launch, journey run, batch erasure of 10,000,
the sweep of the period's erasures, ledger verify, archive. Per-person work (k <= 0.1):
Mission Control refresh, access copy, erasure, decide over HTTP (medians).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select, text

from bench import api
from bench.common import Timer
from bench.scale_seed import seed
from candor.core.context import Candor
from candor.figures import change_counts, consent_tallies, step_counts
from candor.figures import mission_control as figures
from candor.journeys import load_journey
from candor.journeys.runtime import archive_journey, launch, run_until_idle
from candor.journeys.runtime.enroll import entry_decisions
from candor.journeys.runtime.processes import run_in_processes
from candor.ledger.chain import verify_ledger
from candor.ledger.communications import record_communication
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.twin import count_by_reason, decisions
from candor.rights.access import compile_access_copy
from candor.rights.erasure import erase_contact, erase_contacts
from candor.store.engine import reading
from candor.store.journey_tables import journey_transitions
from candor.sync.status import sync_figures

TYPICAL = 7  # typical contacts created through the product: access and erasure medians
BATCH_ERASURE = 10_000
UNSUB = "{{ unsubscribe_url }}"
JOURNEY = {
    "id": "scale",
    "name": "Growth curve journey",
    "purpose": "newsletter",
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "fields": ["country"],
    "ends_at": "2030-01-01T00:00:00Z",
    "templates": {"news": {"email": {"subject": "News", "text": f"Hello. {UNSUB}"}}},
    "steps": [
        {
            "id": "first",
            "type": "send",
            "channel": "email",
            "template": "news",
            "theme": "weekly",
            "on_denied": "done",
        },
        {"id": "done", "type": "end"},
    ],
}


@dataclass
class Context:
    """The database under measurement and what earlier figures left for later ones."""

    cx: Candor
    n: int
    backend: str
    typical: list[int] = field(default_factory=list)

    def database_mb(self) -> float:
        """The data database's size (PostgreSQL: this schema's tables with indexes)."""
        with reading(self.cx.engine) as conn:
            if self.backend == "sqlite":
                path = Path(self.cx.url.removeprefix("sqlite:///"))
                return round(path.stat().st_size / 2**20, 1)
            size = conn.execute(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace s ON s.oid = c.relnamespace "
                    "WHERE s.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar_one()
        return round(int(size) / 2**20, 1)

    def server_peak_mb(self) -> float:
        """Peak RSS of the server process behind this process's connection (local PostgreSQL)."""
        if self.backend == "sqlite":
            return 0.0
        with self.cx.engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            pass
        return 0.0


def prepare(ctx: Context) -> None:
    """Seed n contacts, rebuild the counted figures, add the typical contacts."""
    cx = ctx.cx
    seed(cx, ctx.n)
    with cx.engine.begin() as conn:
        consent_tallies.rebuild(conn)
        change_counts.rebuild(conn)
        step_counts.rebuild(conn)
    ctx.typical = [_typical(cx, i) for i in range(TYPICAL * 2)]
    cx.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]


def _typical(cx: Candor, i: int) -> int:
    """A contact as the product makes one: identity, two addresses, consents, messages."""
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        contact = create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id=f"typical-{i}",
                first_name=f"Typical{i}",
                last_name="Person",
                addresses=[
                    NewAddress("email", f"typical{i}@example.com"),
                    NewAddress("sms", f"+4915122{i:06d}"),
                ],
                attributes={"country": "AT", "customer_value": 120},
            ),
            actor="bench",
            at=at,
        )
        for purpose in ("newsletter", "events"):
            granted = ConsentInput(purpose=purpose, status="granted", source="form")
            record_consent(conn, cx.vault, contact, granted, actor="bench", at=at)
        for k in range(5):
            record_communication(
                conn,
                cx.vault,
                contact,
                channel="email",
                direction="out",
                purpose="newsletter",
                content_ref=f"newsletter-{k}",
                actor="bench",
                at=at,
            )
    return contact


def gate(ctx: Context) -> dict[str, Any]:
    with reading(ctx.cx.engine) as conn:
        purpose, theme = purpose_facts(conn, "newsletter"), theme_ref(conn, "weekly")
        query = decisions(purpose, "email", theme, ctx.cx.clock.now(), dialect=conn.dialect.name)
        with Timer() as timer:
            counted = count_by_reason(conn, query)
    return {"seconds": timer.seconds, "decisions": sum(counted.values())}


def audience(ctx: Context) -> dict[str, Any]:
    defn = load_journey(yaml.safe_dump(JOURNEY), "scale.yaml")
    with reading(ctx.cx.engine) as conn, Timer() as timer:
        counted = count_by_reason(conn, entry_decisions(conn, defn, ctx.cx.clock.now()))
    return {"seconds": timer.seconds, "audience": sum(counted.values())}


def launching(ctx: Context) -> dict[str, Any]:
    report = launch(ctx.cx, load_journey(yaml.safe_dump(JOURNEY), "scale.yaml"), actor="bench")
    return {"entered": report.entered}


def journey_run(ctx: Context) -> dict[str, Any]:
    processes = 1 if ctx.backend == "sqlite" else int(os.environ.get("CANDOR_BENCH_PROCESSES", "2"))
    with Timer() as timer:
        if processes == 1:
            run_until_idle(ctx.cx)
        else:
            run_in_processes(ctx.cx, processes, dispatch=False, once=True)
    with reading(ctx.cx.engine) as conn:
        moved = conn.execute(select(func.count()).select_from(journey_transitions)).scalar_one()
    return {"seconds": timer.seconds, "processes": processes, "transitions": int(moved)}


def mission_control(ctx: Context) -> dict[str, Any]:
    tally = figures.SendTally()
    at = ctx.cx.clock.now()
    with reading(ctx.cx.engine) as conn:
        figures.compute(conn, at, tally, sync_figures)  # the send tally's first read
        return {"seconds": _median(lambda: figures.compute(conn, at, tally, sync_figures), 5)}


def access_copy(ctx: Context) -> dict[str, Any]:
    people = iter(ctx.typical[:TYPICAL])

    def one() -> None:
        with reading(ctx.cx.engine) as conn:
            compile_access_copy(conn, ctx.cx.vault, next(people), at=ctx.cx.clock.now())

    return {"seconds": _median(one, TYPICAL), "runs": TYPICAL}


def erasure(ctx: Context) -> dict[str, Any]:
    people = iter(ctx.typical[TYPICAL:])
    clean = []

    def one() -> None:
        cert = erase_contact(ctx.cx, next(people), actor="bench", reason="bench")
        clean.append(cert["scan"]["clean"])

    seconds = _median(one, TYPICAL)
    return {"seconds": seconds, "runs": TYPICAL, "index_checks_clean": all(clean)}


def decide_http(ctx: Context) -> dict[str, Any]:
    result = api.measure(ctx.cx, 300)
    return {"seconds": result["p50_ms"] / 1000, "p99_ms": result["p99_ms"]}


def batch_erasure(ctx: Context) -> dict[str, Any]:
    ids = list(range(ctx.n - BATCH_ERASURE + 1, ctx.n + 1))
    with Timer() as timer:
        certificates = erase_contacts(ctx.cx, ids, actor="bench", reason="bench batch")
    return {"seconds": timer.seconds, "erased": len(certificates)}


def sweep(ctx: Context) -> dict[str, Any]:
    from candor.rights.sweep import sweep_pending  # here: bench.erasure_check runs older code

    report = sweep_pending(ctx.cx, actor="bench")
    return {"erasures": report.erasures, "rows": report.rows, "not_clean": report.not_clean}


def ledger_verify(ctx: Context) -> dict[str, Any]:
    with reading(ctx.cx.engine) as conn:
        problems = sum(1 for _ in verify_ledger(conn))
    return {"problems": problems}


def archive(ctx: Context) -> dict[str, Any]:
    result = archive_journey(ctx.cx, "scale", actor="bench", reason="stopped")
    return {"purged": result.get("purged", 0)}


def _median(work: Callable[[], Any], runs: int) -> float:
    seconds = []
    for _ in range(runs):
        with Timer() as timer:
            work()
        seconds.append(timer.seconds)
    return statistics.median(seconds)


Step = Callable[[Context], dict[str, Any]]
STEPS: list[tuple[str, str, Step]] = [
    ("gate", "population", gate),
    ("audience", "population", audience),
    ("launch", "population", launching),
    ("journey_run", "population", journey_run),
    ("mission_control", "person", mission_control),
    ("access_copy", "person", access_copy),
    ("erasure", "person", erasure),
    ("decide_http", "person", decide_http),
    ("batch_erasure", "population", batch_erasure),
    ("sweep", "population", sweep),
    ("ledger_verify", "population", ledger_verify),
    ("archive", "population", archive),
]
