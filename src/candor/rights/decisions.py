"""Automated decisions (Art. 22): recorded with their factors, only under agreed profiling.

Each decision keeps the model and the factors (sealed with the contact's key) so the access
copy can explain it; the person can contest it, which asks a human to review.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from candor.core.errors import Conflict, InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.contacts import contact_row
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.rights.scoring import ScoringModel, explain, parse_model, score
from candor.store.rights_tables import automated_decision_history, automated_decisions
from candor.store.tables import purposes
from candor.store.vault import Vault

FACTORS_FIELD = "decision"
OUTCOMES = ("above", "below")


def require_profiling_consent(
    conn: Connection, contact_id: int, purpose_id: str, at: datetime
) -> None:
    """InvalidInput unless a profiling purpose; Conflict unless the person agreed to it now."""
    facts = purpose_facts(conn, purpose_id)
    dpv = conn.execute(select(purposes.c.dpv).where(purposes.c.id == purpose_id)).scalar_one()
    if "profiling" not in (dpv or "").lower():
        raise InvalidInput(
            "purpose", "automated decisions need a profiling purpose (dpv:Profiling)"
        )
    decision = decide_for(conn, contact_id, facts, None, None, None, at)
    if not decision.allowed or decision.basis != "consent":
        raise Conflict(f"purpose: the person has not agreed to this profiling ({decision.reason})")


def record_automated_decision(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    journey: str | None,
    model: ScoringModel | Any,
    factors: list[dict[str, Any]],
    outcome: str,
    *,
    purpose: str,
    actor: str,
    at: datetime,
) -> int:
    """Store one decision with its model and factors after checking the profiling consent."""
    model = model if isinstance(model, ScoringModel) else parse_model(model)
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome", f"must be one of {', '.join(OUTCOMES)}")
    row = contact_row(conn, contact_id)
    require_profiling_consent(conn, contact_id, purpose, at)
    sealed = vault.encrypt(row["key_id"], FACTORS_FIELD, json.dumps(factors, default=str).encode())
    decision_id = int(
        conn.execute(
            insert(automated_decisions)
            .values(
                contact_id=contact_id,
                journey_id=journey,
                purpose_id=purpose,
                model=model.model_dump(mode="json"),
                factors=sealed,
                score=float(sum(f["contribution"] for f in factors)),
                threshold=model.threshold,
                outcome=outcome,
                status="decided",
                decided_at=at,
            )
            .returning(automated_decisions.c.id)
        ).scalar_one()
    )
    _history(conn, decision_id, "decided", actor, at, outcome)
    audit.record(
        conn,
        actor=actor,
        action="decision.record",
        object_type="automated_decision",
        object_id=decision_id,
        at=at,
        contact=contact_id,
        outcome=outcome,
    )
    return decision_id


def score_contact(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    model: Any,
    *,
    purpose: str,
    journey: str | None = None,
    fields: dict[str, Any] | None = None,
    actor: str,
    at: datetime,
) -> int:
    """Score the contact on its profile attributes (or given fields) and record the decision."""
    parsed = parse_model(model)
    row = contact_row(conn, contact_id)
    outcome, factors = score(parsed, fields if fields is not None else dict(row["attributes"]))
    return record_automated_decision(
        conn,
        vault,
        contact_id,
        journey,
        parsed,
        factors,
        outcome,
        purpose=purpose,
        actor=actor,
        at=at,
    )


def contest_decision(
    conn: Connection, decision_id: int, *, reason: str, actor: str, at: datetime
) -> dict[str, Any]:
    """The person contests a decision: it is marked for human review."""
    row = _row(conn, decision_id)
    if row["status"] == "contested":
        raise Conflict("decision: already contested and waiting for review")
    conn.execute(
        update(automated_decisions)
        .where(automated_decisions.c.id == decision_id)
        .values(status="contested")
    )
    _history(conn, decision_id, "contested", actor, at, reason or "contested")
    audit.record(
        conn,
        actor=actor,
        action="decision.contest",
        object_type="automated_decision",
        object_id=decision_id,
        at=at,
        contact=row["contact_id"],
    )
    return {"id": decision_id, "status": "contested"}


def review_decision(
    conn: Connection, decision_id: int, *, outcome: str, note: str, actor: str, at: datetime
) -> dict[str, Any]:
    """A human reviews a contested decision and confirms or changes its outcome."""
    row = _row(conn, decision_id)
    if row["status"] != "contested":
        raise Conflict("decision: only a contested decision is reviewed")
    if outcome not in OUTCOMES:
        raise InvalidInput("outcome", f"must be one of {', '.join(OUTCOMES)}")
    conn.execute(
        update(automated_decisions)
        .where(automated_decisions.c.id == decision_id)
        .values(status="reviewed", outcome=outcome)
    )
    _history(conn, decision_id, "reviewed", actor, at, f"{outcome}: {note}" if note else outcome)
    audit.record(
        conn,
        actor=actor,
        action="decision.review",
        object_type="automated_decision",
        object_id=decision_id,
        at=at,
        outcome=outcome,
    )
    return {"id": decision_id, "status": "reviewed", "outcome": outcome}


def decision_views(
    conn: Connection, vault: Vault, contact_id: int, key_id: str
) -> list[dict[str, Any]]:
    """The contact's decisions with model, factors, explanation and status history."""
    rows = (
        conn.execute(
            select(automated_decisions)
            .where(automated_decisions.c.contact_id == contact_id)
            .order_by(automated_decisions.c.id)
        )
        .mappings()
        .all()
    )
    history: dict[int, list[dict[str, Any]]] = {}
    if rows:
        h = automated_decision_history
        for r in conn.execute(
            select(h).where(h.c.decision_id.in_([r["id"] for r in rows])).order_by(h.c.id)
        ).mappings():
            history.setdefault(r["decision_id"], []).append(
                {
                    "status": r["status"],
                    "at": r["at"].isoformat(),
                    "actor": r["actor"],
                    "note": r["note"],
                }
            )
    return [decision_view(vault, key_id, r, history.get(r["id"], [])) for r in rows]


def decision_view(
    vault: Vault, key_id: str, row: Any, history: list[dict[str, Any]]
) -> dict[str, Any]:
    raw = vault.decrypt(key_id, FACTORS_FIELD, row["factors"])
    factors = json.loads(raw) if raw is not None else []
    return {
        "id": row["id"],
        "journey": row["journey_id"],
        "purpose": row["purpose_id"],
        "model": row["model"],
        "factors": factors,
        "score": row["score"],
        "threshold": row["threshold"],
        "outcome": row["outcome"],
        "status": row["status"],
        "decided_at": row["decided_at"].isoformat(),
        "explanation": explain(factors, row["threshold"], row["outcome"]) if factors else "",
        "history": history,
    }


def read_decision(conn: Connection, vault: Vault, decision_id: int) -> dict[str, Any]:
    row = _row(conn, decision_id)
    contact = contact_row(conn, row["contact_id"])
    return next(
        d
        for d in decision_views(conn, vault, row["contact_id"], contact["key_id"])
        if d["id"] == decision_id
    )


def _row(conn: Connection, decision_id: int) -> Any:
    row = (
        conn.execute(select(automated_decisions).where(automated_decisions.c.id == decision_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("decision", decision_id)
    return row


def _history(
    conn: Connection, decision_id: int, status: str, actor: str, at: datetime, note: str
) -> None:
    conn.execute(
        insert(automated_decision_history).values(
            decision_id=decision_id, status=status, at=at, actor=actor, note=note
        )
    )
