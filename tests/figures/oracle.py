"""Mission Control's figures as it computed them before the tallies and counts: full scans.

The test oracles of figures.mission_control (tests/figures/test_consent_tallies.py,
test_change_counts.py, test_step_counts.py) and the "before" column of
bench/mission_control.py. Not used by the
product: at a million contacts each refresh read all of consent_state and contacts, every
block, every sync delivery and every contact of every running journey.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, distinct, func, select

from candor.core.durations import parse_duration, subtract
from candor.figures.mission_control import EXPIRY_WARNING, journey_entries, running_journeys
from candor.ledger.connector_settings import load_settings
from candor.store.journey_tables import journey_contacts, journey_step_stats
from candor.store.sync_tables import sync_deliveries
from candor.store.tables import block_lifts, blocks, consent_state, contacts, purposes


def purpose_figures_by_scan(conn: Connection, at: datetime) -> list[dict[str, Any]]:
    """Per consent purpose: not yet asked, pending double opt-in, re-consent due, expiring."""
    total = int(
        conn.execute(
            select(func.count()).select_from(contacts).where(contacts.c.erased_at.is_(None))
        ).scalar_one()
    )
    rows = conn.execute(select(purposes).order_by(purposes.c.id)).mappings().all()
    cs = consent_state
    answered: dict[str, int] = dict(
        conn.execute(  # type: ignore[arg-type]
            select(cs.c.purpose_id, func.count(distinct(cs.c.contact_id))).group_by(cs.c.purpose_id)
        ).all()
    )
    pending: dict[str, int] = dict(
        conn.execute(  # type: ignore[arg-type]
            select(cs.c.purpose_id, func.count(distinct(cs.c.contact_id)))
            .where(cs.c.status == "pending")
            .group_by(cs.c.purpose_id)
        ).all()
    )
    agreed = cs.c.status.in_(("granted", "confirmed"))
    out = []
    for p in rows:
        if p["legal_basis"] != "consent":
            continue
        reconsent = 0
        if p["reconsent_floor"]:
            reconsent = _distinct(
                conn,
                cs.c.purpose_id == p["id"],
                agreed,
                cs.c.purpose_version < p["reconsent_floor"],
            )
        expiring = 0
        if p["consent_valid_for"]:
            lapse = subtract(at + EXPIRY_WARNING, parse_duration(p["consent_valid_for"]))
            expiring = _distinct(conn, cs.c.purpose_id == p["id"], agreed, cs.c.occurred_at < lapse)
        out.append(
            {
                "id": p["id"],
                "name": p["name"],
                "not_asked": max(total - int(answered.get(p["id"], 0)), 0),
                "pending_doi": int(pending.get(p["id"], 0)),
                "reconsent": reconsent,
                "expiring": expiring,
            }
        )
    return out


def _distinct(conn: Connection, *where: Any) -> int:
    cs = consent_state
    return int(
        conn.execute(select(func.count(distinct(cs.c.contact_id))).where(and_(*where))).scalar_one()
    )


def block_figures_by_scan(conn: Connection) -> dict[str, int]:
    """Active (not lifted) blocks by kind: every block joined with its lift."""
    counts = {"all": 0, "channel": 0, "address": 0, "theme": 0}
    for kind, n in conn.execute(
        select(blocks.c.kind, func.count())
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(block_lifts.c.block_id.is_(None))
        .group_by(blocks.c.kind)
    ):
        counts[kind] = int(n)
    return counts


def sync_counts_by_scan(conn: Connection) -> list[dict[str, Any]]:
    """sync.status's connectors (pending, delivered, dead): a GROUP BY over every delivery."""
    d = sync_deliveries
    counts: dict[str, dict[str, int]] = {
        c.id: {"pending": 0, "delivered": 0, "dead": 0} for c in load_settings(conn).webhooks
    }
    for connector, status, n in conn.execute(
        select(d.c.connector, d.c.status, func.count()).group_by(d.c.connector, d.c.status)
    ):
        counts.setdefault(connector, {"pending": 0, "delivered": 0, "dead": 0})[status] = int(n)
    return [{"connector": k, **v} for k, v in sorted(counts.items())]


def journey_figures_by_scan(conn: Connection) -> list[dict[str, Any]]:
    """Per running journey and step: journey_contacts there now (a GROUP BY) and outcomes."""
    running = running_journeys(conn)
    ids = [j.id for j in running]
    if not ids:
        return []
    jc, st = journey_contacts, journey_step_stats
    here: dict[tuple[str, str], int] = {}
    for journey_id, step_id, n in conn.execute(
        select(jc.c.journey_id, jc.c.step_id, func.count())
        .where(jc.c.journey_id.in_(ids), jc.c.status.in_(("active", "waiting")))
        .group_by(jc.c.journey_id, jc.c.step_id)
    ):
        here[(journey_id, step_id)] = int(n)
    stats: dict[tuple[str, str], dict[str, int]] = {}
    for r in conn.execute(
        select(st.c.journey_id, st.c.step_id, st.c.outcome, st.c.count).where(
            st.c.journey_id.in_(ids),
            st.c.outcome != "(here)",  # what the runtime kept before
        )
    ):
        stats.setdefault((r.journey_id, r.step_id), {})[r.outcome] = int(r[3])
    return journey_entries(running, here, stats)
