"""`candor demo`: a synthetic population with mixed consent states, and the gate's verdicts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from candor.channels.settings import section_problems
from candor.core.context import Candor
from candor.demo.journey_run import run_demo_journey
from candor.ledger.blocks import insert_block
from candor.ledger.config import apply_config, load_config_file
from candor.ledger.imports.importer import import_rows, plan_header
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.twin import count_by_reason, decisions
from candor.store.engine import reading
from candor.store.tables import contacts

FIRST = [
    "Ada",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hans",
    "Ida",
    "Jonas",
    "Lena",
    "Mia",
]
LAST = [
    "Becker",
    "Fischer",
    "Hoffmann",
    "Klein",
    "Meyer",
    "Müller",
    "Schmidt",
    "Schulz",
    "Wagner",
    "Weber",
]
COUNTRIES = ["DE", "DE", "DE", "AT", "CH", "FR", "NL"]


def synthetic_rows(count: int, seed: int = 42) -> Iterator[tuple[int, dict[str, str]]]:
    """Deterministic synthetic contacts: some granted, some refused, some never asked."""
    rng = random.Random(seed)
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        newsletter = rng.choices(["granted", "refused", "withdrawn", ""], [55, 10, 10, 25])[0]
        events = rng.choices(["granted", "refused", ""], [40, 10, 50])[0]
        row = {
            "external_id": f"demo-{n:07d}",
            "first_name": first,
            "last_name": last,
            "email": f"{first}.{last}.{n}@example.org".lower().replace("ü", "ue"),
            "phone": f"+49151{n:08d}" if rng.random() < 0.6 else "",
            "country": rng.choice(COUNTRIES),
            "customer_value": f"{rng.uniform(0, 2000):.2f}",
            "consent:newsletter:email": newsletter,
            "consent:events": events,
            "consent_source": "web-form",
            "consent_ip": f"203.0.113.{n % 250}",
            "consent_confirmed_at": "2026-01-05T10:00:00+00:00" if rng.random() < 0.8 else "",
            "consent_at": "2026-01-05T09:58:00+00:00",
        }
        yield n + 2, row


def run_demo(
    cx: Candor, config_path: Path, count: int, console: Console, journey: Path | None = None
) -> None:
    """Apply the config, seed contacts with blocks, show the gate, then run a journey."""
    config = load_config_file(config_path, checks=[section_problems])
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        apply_config(conn, config, actor="demo", at=now)
    header = list(next(synthetic_rows(1))[1].keys())
    with cx.engine.connect() as conn:
        plan = plan_header(conn, header)
    report = import_rows(cx.engine, cx.vault, plan, synthetic_rows(count), actor="demo", at=now)
    console.print(
        f"seeded {report.imported} contacts ({report.existing} already there), "
        f"{report.consent_events} consent events"
    )
    blocked = _seed_blocks(cx, count)
    console.print(f"recorded {blocked} advertising blocks (complete, per channel and per theme)")
    _show_gate(cx, console, now + timedelta(seconds=1))
    if journey is not None:
        run_demo_journey(cx, journey, console)


def _seed_blocks(cx: Candor, count: int) -> int:
    rng = random.Random(7)
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        ids = list(
            conn.execute(select(contacts.c.id).order_by(contacts.c.id).limit(count)).scalars()
        )
        picks = rng.sample(ids, k=min(len(ids), max(count // 20, 1)))
        for n, contact_id in enumerate(picks):
            channel, theme = [(None, None), ("email", None), (None, "weekly")][n % 3]
            insert_block(
                conn,
                contact_id,
                channel,
                None,
                theme,
                "asked in a reply",
                "demo",
                None,
                "demo",
                now,
            )
    return len(picks)


def _show_gate(cx: Candor, console: Console, at: object) -> None:
    table = Table(title="The gate: who may be contacted, and why not")
    table.add_column("purpose / channel / theme")
    table.add_column("decisions by reason")
    with reading(cx.engine) as conn:
        for purpose_id, channel, theme in (
            ("newsletter", "email", "weekly"),
            ("events", "sms", "events"),
            ("service", "email", None),
        ):
            purpose = purpose_facts(conn, purpose_id)
            ref = theme_ref(conn, theme)
            counts = count_by_reason(
                conn, decisions(purpose, channel, ref, cx.clock.now(), dialect=conn.dialect.name)
            )
            summary = ", ".join(
                f"{reason} {n}" for reason, n in sorted(counts.items(), key=lambda kv: -kv[1])
            )
            table.add_row(f"{purpose_id} / {channel} / {theme or '-'}", summary)
    console.print(table)
