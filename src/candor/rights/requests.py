"""The DSR lifecycle: open, verify, approve, carry out, deny, extend; every step in the history.

A request opened by a DPO or admin for a known contact is carried out at once (the opener
is the reviewer). One opened by the person waits for the signed, expiring code sent to a
known address; an unknown identity gets exactly the same answer and leaves no request.
Erasure asked for by the person then waits for a DPO's approval where configured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import isodate
from sqlalchemy import Connection, insert, update

from candor.core import tokens
from candor.core.errors import Conflict, InvalidInput
from candor.ledger import audit
from candor.ledger.contacts import contact_row, find_by_address
from candor.ledger.registry import setting
from candor.rights.fulfil import carry_out, history
from candor.rights.messages import (
    queue_extension_notice,
    queue_verification,
    require_service_purpose,
)
from candor.rights.notices import record_notice
from candor.rights.requests_view import DETAILS_FIELD, OPEN, TYPES, read_request, request_row
from candor.store.rights_tables import dsr_requests
from candor.store.vault import Vault

TOKEN_PURPOSE = "dsr-verify"  # shared with the subject pages (web.pages.subject_rights)
TOKEN_VALID_FOR = timedelta(days=7)
CHANNELS = ("api", "web", "email", "letter", "phone", "journey")
STAFF = ("dpo", "admin")
SUBJECT_ANSWER = {
    "status": "received",
    "message": "If we hold data about this identity, a confirmation link has been sent to it. "
    "Your request is carried out once you confirm it.",
}


@dataclass
class NewRequest:
    type: str
    contact: int | None = None
    email: str | None = None
    phone: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    channel: str = "api"


def due_date(received: datetime, extended_months: int) -> datetime:
    """Received + one calendar month, plus the extension (Art. 12(3))."""
    result: datetime = received + isodate.Duration(months=1 + extended_months)
    return result


def _resolve(conn: Connection, vault: Vault, new: NewRequest) -> int | None:
    given = [k for k in ("contact", "email", "phone") if getattr(new, k) is not None]
    if not given:
        raise InvalidInput("contact", "give contact, email or phone")
    if len(given) > 1:
        raise InvalidInput(given[1], "give only one of contact, email, phone")
    if new.contact is not None:
        return new.contact
    channel, value = ("email", new.email) if new.email is not None else ("sms", new.phone)
    assert value is not None
    return find_by_address(conn, vault, channel, value)


def _check(new: NewRequest) -> None:
    if new.type not in TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(TYPES)}")
    if new.channel not in CHANNELS:
        raise InvalidInput("channel", f"must be one of {', '.join(CHANNELS)}")
    if new.type == "rectification" and not isinstance(new.details.get("changes"), dict):
        raise InvalidInput("details.changes", "a rectification needs the changes to apply")


def _insert(
    conn: Connection,
    vault: Vault,
    new: NewRequest,
    contact_id: int,
    key_id: str,
    opened_by: str,
    status: str,
    actor: str,
    at: datetime,
) -> int:
    details = (
        vault.encrypt(key_id, DETAILS_FIELD, json.dumps(new.details).encode())
        if new.details
        else None
    )
    request_id = int(
        conn.execute(
            insert(dsr_requests)
            .values(
                type=new.type,
                contact_id=contact_id,
                channel=new.channel,
                opened_by=opened_by,
                actor=actor,
                status=status,
                received_at=at,
                due_at=due_date(at, 0),
                extended_months=0,
                needs_approval=0,
                details=details,
                summary={},
            )
            .returning(dsr_requests.c.id)
        ).scalar_one()
    )
    history(conn, request_id, "received", actor, at, f"channel:{new.channel}")
    audit.record(
        conn,
        actor=actor,
        action="dsr.open",
        object_type="dsr",
        object_id=request_id,
        at=at,
        type=new.type,
        contact=contact_id,
        opened_by=opened_by,
    )
    return request_id


def open_request(
    conn: Connection, vault: Vault, new: NewRequest, *, role: str, actor: str, at: datetime
) -> dict[str, Any]:
    """A DPO or admin opens a request for a known contact: it is carried out at once."""
    if role not in STAFF:
        raise Conflict("role: only a dpo or admin opens requests for a person")
    _check(new)
    contact_id = _resolve(conn, vault, new)
    if contact_id is None:
        raise InvalidInput(
            "email" if new.email is not None else "phone", "no contact holds this address"
        )
    row = contact_row(conn, contact_id)
    request_id = _insert(conn, vault, new, contact_id, row["key_id"], role, "received", actor, at)
    carry_out(conn, vault, request_row(conn, request_id), actor=actor, at=at)
    return read_request(conn, request_id, at)


def open_subject_request(
    conn: Connection, vault: Vault, new: NewRequest, *, at: datetime
) -> dict[str, Any]:
    """The person asks (no login): a known identity gets a code; the answer never differs."""
    _check(new)
    if new.contact is not None:
        raise InvalidInput("contact", "a person identifies by email or phone")
    require_service_purpose(conn)  # checked for every identity: the answer never differs
    try:
        contact_id = _resolve(conn, vault, new)
    except InvalidInput:
        contact_id = None  # a malformed address is answered like an unknown one
    if contact_id is None:
        audit.record(
            conn,
            actor="subject",
            action="dsr.unmatched",
            object_type="dsr",
            object_id="-",
            at=at,
            type=new.type,
        )
        return dict(SUBJECT_ANSWER)
    row = contact_row(conn, contact_id)
    request_id = _insert(
        conn, vault, new, contact_id, row["key_id"], "subject", "verifying", "subject", at
    )
    token = tokens.sign(
        vault.signing_key, TOKEN_PURPOSE, {"r": request_id, "c": contact_id}, at + TOKEN_VALID_FOR
    )
    conn.execute(
        update(dsr_requests).where(dsr_requests.c.id == request_id).values(verification_token=token)
    )
    channel = "email" if new.email is not None else "sms"
    queue_verification(conn, request_id, contact_id, token, channel, at=at)
    history(conn, request_id, "verifying", "subject", at, "code sent to a known address")
    return dict(SUBJECT_ANSWER)


def verify_request(
    conn: Connection, vault: Vault, request_id: int, token: str, *, at: datetime
) -> dict[str, Any]:
    """The person confirms with the code: the request proceeds (erasure may await approval)."""
    try:
        claims = tokens.verify(vault.signing_key, token, TOKEN_PURPOSE, at)
    except tokens.TokenError as exc:
        raise InvalidInput("token", str(exc)) from None
    if claims.get("r") != request_id:
        raise InvalidInput("token", "token is not valid for this request")
    row = request_row(conn, request_id)
    if claims.get("c") != row["contact_id"]:
        raise InvalidInput("token", "token is not valid for this request")
    if row["status"] != "verifying":
        raise Conflict("request: not waiting for verification")
    conn.execute(
        update(dsr_requests)
        .where(dsr_requests.c.id == request_id)
        .values(verified_at=at, verification_token=None, status="in_progress")
    )
    history(conn, request_id, "in_progress", "subject", at, "identity verified")
    audit.record(
        conn, actor="subject", action="dsr.verify", object_type="dsr", object_id=request_id, at=at
    )
    review = setting(conn, "rights", {}) or {}
    if row["type"] == "erasure" and isinstance(review, dict) and review.get("erasure_review"):
        conn.execute(
            update(dsr_requests).where(dsr_requests.c.id == request_id).values(needs_approval=1)
        )
        history(conn, request_id, "in_progress", "system", at, "awaiting dpo approval")
    else:
        carry_out(conn, vault, request_row(conn, request_id), actor="subject", at=at)
    return _public(read_request(conn, request_id, at))


def _public(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": view["id"],
        "type": view["type"],
        "status": view["status"],
        "awaiting_approval": view["awaiting_approval"],
        "due_at": view["due_at"],
    }


def approve_request(
    conn: Connection, vault: Vault, request_id: int, *, actor: str, at: datetime
) -> dict[str, Any]:
    """A DPO approves a verified request waiting for review; it is carried out at once."""
    row = request_row(conn, request_id)
    if row["status"] != "in_progress" or not row["needs_approval"]:
        raise Conflict("request: not waiting for approval")
    conn.execute(
        update(dsr_requests).where(dsr_requests.c.id == request_id).values(approved_by=actor)
    )
    history(conn, request_id, "in_progress", actor, at, "approved")
    carry_out(conn, vault, request_row(conn, request_id), actor=actor, at=at)
    return read_request(conn, request_id, at)


def deny_request(
    conn: Connection, request_id: int, *, reason: str, actor: str, at: datetime
) -> dict[str, Any]:
    """Refuse an open request with a recorded reason (Art. 12(4))."""
    if not reason.strip():
        raise InvalidInput("reason", "is required")
    row = request_row(conn, request_id)
    if row["status"] not in OPEN:
        raise Conflict("request: already closed")
    conn.execute(
        update(dsr_requests)
        .where(dsr_requests.c.id == request_id)
        .values(status="denied", closed_at=at, verification_token=None)
    )
    history(conn, request_id, "denied", actor, at, reason)
    audit.record(
        conn, actor=actor, action="dsr.deny", object_type="dsr", object_id=request_id, at=at
    )
    return read_request(conn, request_id, at)


def extend_request(
    conn: Connection, request_id: int, *, months: int, reason: str, actor: str, at: datetime
) -> dict[str, Any]:
    """Extend the deadline by up to two months in all, with a reason the person is told."""
    if months not in (1, 2):
        raise InvalidInput("months", "must be 1 or 2")
    if not reason.strip():
        raise InvalidInput("reason", "is required (it is sent to the person)")
    row = request_row(conn, request_id)
    if row["status"] not in OPEN:
        raise Conflict("request: already closed")
    total = row["extended_months"] + months
    if total > 2:
        raise Conflict("months: a request can be extended by two months at most")
    due = due_date(row["received_at"], total)
    conn.execute(
        update(dsr_requests)
        .where(dsr_requests.c.id == request_id)
        .values(extended_months=total, due_at=due)
    )
    notice = (
        record_notice(conn, row["contact_id"], f"dsr_extended:{request_id}", actor=actor, at=at)
        if row["contact_id"] is not None
        else None
    )
    note = (
        f"{reason} (notice: {'communication ' + str(notice) if notice else 'no address on file'})"
    )
    history(conn, request_id, "extended", actor, at, note)
    if row["contact_id"] is not None:  # the reason goes to the person (Art. 12(3))
        queue_extension_notice(conn, request_id, row["contact_id"], reason, due, total, at=at)
    audit.record(
        conn,
        actor=actor,
        action="dsr.extend",
        object_type="dsr",
        object_id=request_id,
        at=at,
        months=months,
        notice=notice,
    )
    return read_request(conn, request_id, at)
