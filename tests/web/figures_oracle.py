"""The consent figures as Mission Control computed them before the tallies: a full scan.

The test oracle of web.figures.purpose_figures (tests/web/test_figure_tallies.py) and the
"before" column of bench/mission_control.py. Not used by the product: at a million
contacts each refresh read all of consent_state and contacts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, distinct, func, select

from candor.durations import parse_duration, subtract
from candor.store.tables import consent_state, contacts, purposes
from candor.web.figures import EXPIRY_WARNING


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
