"""What the pages need from the rights side: GPC objections, and DSRs through candor.rights.

The request lifecycle is the rights package's (candor.rights.requests); the functions here
adapt it to the pages (a request from the preference center, the verification link, the
DPO's queue). Only the DPO verifying an identity by other means has no rights verb yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select, update

from candor.core import tokens
from candor.core.errors import Conflict, InvalidInput, NotFound
from candor.ledger import audit
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import contact_row, read_contact
from candor.ledger.registry import facts_from_row
from candor.policy.load import decide_for
from candor.rights import requests as dsr
from candor.rights.fulfil import carry_out, history
from candor.rights.requests_view import request_row
from candor.store.rights_tables import dsr_requests
from candor.store.tables import consent_events, purposes
from candor.store.vault import Vault

GPC_SOURCE: Final = "gpc"
GPC_TERMS: Final = ("Profiling", "Sharing", "SellData", "PersonalisedAdvertising")
SUBJECT_TYPES: Final = ("access", "rectification", "erasure", "objection")


# ---------------------------------------------------------------- Global Privacy Control


def gpc_on_record(conn: Connection, contact_id: int) -> bool:
    """Whether the person's GPC objection is already in the ledger."""
    found = conn.execute(
        select(consent_events.c.id)
        .where(consent_events.c.contact_id == contact_id, consent_events.c.source == GPC_SOURCE)
        .limit(1)
    ).first()
    return found is not None


def record_gpc_objection(
    conn: Connection, vault: Vault, contact_id: int, evidence: dict[str, Any], *, at: datetime
) -> list[int]:
    """Record once: a refusal (or withdrawal) of every profiling or sharing purpose.

    Scoped on purpose: GPC objects to profiling and sharing, not to the newsletter the
    person asked for, so this is not the rights package's Art. 21 objection (which stops
    all direct marketing).
    """
    contact_row(conn, contact_id)
    if gpc_on_record(conn, contact_id):
        return []
    recorded = []
    for row in conn.execute(select(purposes).order_by(purposes.c.id)).mappings():
        if not any(term in (row["dpv"] or "") for term in GPC_TERMS):
            continue
        facts = facts_from_row(row)
        current = decide_for(conn, contact_id, facts, None, None, None, at)
        event = record_consent(
            conn,
            vault,
            contact_id,
            ConsentInput(
                purpose=facts.id,
                status="withdrawn" if current.allowed else "refused",
                source=GPC_SOURCE,
                evidence={**evidence, "signal": "Sec-GPC: 1"},
            ),
            actor="subject",
            at=at,
        )
        recorded.append(int(event.event["id"]))
    if recorded:
        audit.record(
            conn,
            actor="subject",
            action="gpc.objection",
            object_type="contact",
            object_id=contact_id,
            at=at,
            events=recorded,
        )
    return recorded


# ---------------------------------------------------------------- the subject's own requests


def _details(kind: str, text: str) -> dict[str, Any]:
    details: dict[str, Any] = {"note": text[:2000]} if text.strip() else {}
    if kind == "rectification":
        details["changes"] = {}  # what to correct is in the note; the DPO applies it
    return details


def open_by_email(
    conn: Connection, vault: Vault, kind: str, email: str, text: str, *, at: datetime
) -> None:
    """The public form: the same answer whether or not the address is known."""
    if kind not in SUBJECT_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(SUBJECT_TYPES)}")
    new = dsr.NewRequest(type=kind, email=email, details=_details(kind, text), channel="web")
    dsr.open_subject_request(conn, vault, new, at=at)


def open_for_contact(
    conn: Connection, vault: Vault, contact_id: int, kind: str, text: str, *, at: datetime
) -> None:
    """From the preference center: verification still goes to the person's own address."""
    if kind not in SUBJECT_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(SUBJECT_TYPES)}")
    held = read_contact(conn, vault, contact_id)["addresses"]
    email = next((a["value"] for a in held if a["channel"] == "email" and a["value"]), None)
    phone = next(
        (a["value"] for a in held if a["channel"] in ("sms", "whatsapp") and a["value"]), None
    )
    if email is None and phone is None:
        raise InvalidInput("address", "no address to verify the request with")
    new = dsr.NewRequest(
        type=kind,
        email=email,
        phone=None if email else phone,
        details=_details(kind, text),
        channel="web",
    )
    dsr.open_subject_request(conn, vault, new, at=at)


def request_for_token(conn: Connection, vault: Vault, token: str, at: datetime) -> Any:
    """The request a verification token names (it must still carry that very token)."""
    try:
        claims = tokens.verify(vault.signing_key, token, dsr.TOKEN_PURPOSE, at)
    except tokens.TokenError as exc:
        raise InvalidInput("token", str(exc)) from None
    request_id = claims.get("r")
    if not isinstance(request_id, int):
        raise InvalidInput("token", "token is malformed")
    row = request_row(conn, request_id)
    if row["contact_id"] != claims.get("c"):
        raise NotFound("request", request_id)
    return row


def verify_by_link(conn: Connection, vault: Vault, token: str, *, at: datetime) -> dict[str, Any]:
    """The person confirmed from their own address: the rights package carries it out."""
    row = request_for_token(conn, vault, token, at)
    return dsr.verify_request(conn, vault, int(row["id"]), token, at=at)


# ---------------------------------------------------------------- the DPO's queue


def staff_verify(
    conn: Connection, vault: Vault, request_id: int, note: str, *, actor: str, at: datetime
) -> None:
    """The DPO verified the identity another way (noted), and the request is carried out."""
    row = request_row(conn, request_id)
    if row["status"] != "verifying":
        raise Conflict("request: not waiting for verification")
    if not note.strip():
        raise InvalidInput("note", "say how the identity was verified")
    conn.execute(
        update(dsr_requests)
        .where(dsr_requests.c.id == request_id)
        .values(verified_at=at, verification_token=None, status="in_progress")
    )
    history(conn, request_id, "in_progress", actor, at, f"identity verified: {note.strip()[:300]}")
    audit.record(
        conn,
        actor=actor,
        action="dsr.verify",
        object_type="dsr",
        object_id=request_id,
        at=at,
        by="staff",
    )
    carry_out(conn, vault, request_row(conn, request_id), actor=actor, at=at)


def fulfil(conn: Connection, vault: Vault, request_id: int, *, actor: str, at: datetime) -> None:
    """Approve a request awaiting review, or carry out a verified one still in progress."""
    row = request_row(conn, request_id)
    if row["status"] != "in_progress":
        raise Conflict("request: only a verified request in progress can be fulfilled")
    if row["needs_approval"] and not row["approved_by"]:
        dsr.approve_request(conn, vault, request_id, actor=actor, at=at)
        return
    carry_out(conn, vault, row, actor=actor, at=at)
    audit.record(
        conn, actor=actor, action="dsr.fulfil", object_type="dsr", object_id=request_id, at=at
    )
