"""Queries over data subject requests: one request, a contact's requests, the open and overdue."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from candor.core.errors import NotFound
from candor.store.rights_tables import dsr_requests, dsr_status_history
from candor.store.tables import contacts
from candor.store.vault import Vault

TYPES = ("access", "portability", "rectification", "erasure", "restriction", "objection")
OPEN = ("received", "verifying", "in_progress")
RESULT_FIELD = "dsr_result"
DETAILS_FIELD = "dsr_details"


def request_row(conn: Connection, request_id: int) -> Any:
    row = (
        conn.execute(select(dsr_requests).where(dsr_requests.c.id == request_id)).mappings().first()
    )
    if row is None:
        raise NotFound("request", request_id)
    return row


def _histories(conn: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if not ids:
        return out
    h = dsr_status_history
    for r in conn.execute(select(h).where(h.c.request_id.in_(ids)).order_by(h.c.id)).mappings():
        out.setdefault(r["request_id"], []).append(
            {
                "status": r["status"],
                "at": r["at"].isoformat(),
                "actor": r["actor"],
                "note": r["note"],
            }
        )
    return out


def request_view(
    row: Any, history: list[dict[str, Any]], at: datetime | None = None
) -> dict[str, Any]:
    """A request without personal data: type, dates, status, history and the result summary."""
    open_ = row["status"] in OPEN
    return {
        "id": row["id"],
        "type": row["type"],
        "contact": row["contact_id"]
        if row["opened_by"] != "subject" or row["verified_at"]
        else None,
        "channel": row["channel"],
        "opened_by": row["opened_by"],
        "status": row["status"],
        "received_at": row["received_at"].isoformat(),
        "due_at": row["due_at"].isoformat(),
        "extended_months": row["extended_months"],
        "overdue": bool(open_ and at is not None and row["due_at"] < at),
        "awaiting_approval": bool(row["needs_approval"]) and open_,
        "approved_by": row["approved_by"],
        "verified_at": row["verified_at"].isoformat() if row["verified_at"] else None,
        "closed_at": row["closed_at"].isoformat() if row["closed_at"] else None,
        "summary": row["summary"] or {},
        "history": history,
    }


def read_request(conn: Connection, request_id: int, at: datetime | None = None) -> dict[str, Any]:
    row = request_row(conn, request_id)
    return request_view(row, _histories(conn, [request_id]).get(request_id, []), at)


def requests_of(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """The contact's own requests (for the access copy), oldest first."""
    rows = (
        conn.execute(
            select(dsr_requests)
            .where(dsr_requests.c.contact_id == contact_id)
            .order_by(dsr_requests.c.id)
        )
        .mappings()
        .all()
    )
    history = _histories(conn, [r["id"] for r in rows])
    return [request_view(r, history.get(r["id"], [])) for r in rows]


def list_requests(
    conn: Connection,
    at: datetime,
    *,
    overdue: bool = False,
    status: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Requests, newest first; overdue: open ones past their due date, oldest due first."""
    query = select(dsr_requests)
    if overdue:
        query = query.where(dsr_requests.c.status.in_(OPEN), dsr_requests.c.due_at < at).order_by(
            dsr_requests.c.due_at
        )
    else:
        query = query.order_by(dsr_requests.c.id.desc())
    if status is not None:
        query = query.where(dsr_requests.c.status == status)
    rows = conn.execute(query.limit(limit)).mappings().all()
    history = _histories(conn, [r["id"] for r in rows])
    return [request_view(r, history.get(r["id"], []), at) for r in rows]


def open_requests(conn: Connection, at: datetime, *, limit: int = 200) -> list[dict[str, Any]]:
    """Open requests, the earliest deadline first (index status, due_at), however old."""
    rows = (
        conn.execute(
            select(dsr_requests)
            .where(dsr_requests.c.status.in_(OPEN))
            .order_by(dsr_requests.c.due_at, dsr_requests.c.id)
            .limit(limit)
        )
        .mappings()
        .all()
    )
    history = _histories(conn, [r["id"] for r in rows])
    return [request_view(r, history.get(r["id"], []), at) for r in rows]


def request_result(conn: Connection, vault: Vault, request_id: int) -> dict[str, Any]:
    """The fulfilled request's result: the decrypted copy, or the summary (certificate, changes)."""
    row = request_row(conn, request_id)
    if row["status"] != "fulfilled":
        raise NotFound("result", request_id)
    body: Any = None
    if row["result"] is not None and row["contact_id"] is not None:
        key_id = conn.execute(
            select(contacts.c.key_id).where(contacts.c.id == row["contact_id"])
        ).scalar()
        raw = vault.decrypt(key_id, RESULT_FIELD, row["result"]) if key_id else None
        body = json.loads(raw) if raw is not None else None
    return {
        "request": request_id,
        "type": row["type"],
        "summary": row["summary"] or {},
        "data": body,
    }
