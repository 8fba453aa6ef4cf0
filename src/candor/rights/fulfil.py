"""Carrying out a data subject request by type, inside the caller's transaction.

Access and portability store the copy sealed with the contact's key; erasure stores its
certificate (no personal data) as the summary; rectification, restriction and objection
store what changed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, update

from candor.ledger.contacts import contact_row
from candor.ledger.rectification import rectify_contact
from candor.rights.access import compile_access_copy
from candor.rights.erasure import erase_in
from candor.rights.requests_view import DETAILS_FIELD, RESULT_FIELD
from candor.rights.restriction import object_contact, restrict_contact
from candor.store.rights_tables import dsr_requests, dsr_status_history
from candor.store.vault import Vault


def _details(vault: Vault, key_id: str, blob: bytes | None) -> dict[str, Any]:
    raw = vault.decrypt(key_id, DETAILS_FIELD, blob)
    return json.loads(raw) if raw else {}


def carry_out(
    conn: Connection, vault: Vault, row: Any, *, actor: str, at: datetime
) -> dict[str, Any]:
    """Fulfil the request now; its status goes in_progress -> fulfilled with the result."""
    request_id, kind, contact_id = row["id"], row["type"], row["contact_id"]
    if row["status"] != "in_progress":
        history(conn, request_id, "in_progress", actor, at, "carrying out")
    contact = contact_row(conn, contact_id)
    key_id = contact["key_id"]
    result: bytes | None = None
    if kind in ("access", "portability"):
        copy = compile_access_copy(conn, vault, contact_id, kind=kind, at=at)
        result = vault.encrypt(key_id, RESULT_FIELD, json.dumps(copy, default=str).encode())
        counts = {k: len(v) for k, v in copy.items() if isinstance(v, list)}
        summary: dict[str, Any] = {"kind": f"{kind}_copy", "sections": counts}
    elif kind == "rectification":
        changes = _details(vault, key_id, row["details"]).get("changes", {})
        changed = rectify_contact(conn, vault, contact_id, changes, actor=actor, at=at)
        summary = {"kind": "rectification", "changed": changed}
    elif kind == "erasure":
        (certificate,) = erase_in(
            conn,
            vault,
            [contact_id],
            actor=actor,
            reason=f"dsr:{request_id}",
            at=at,
            request_id=request_id,
        )
        summary = {"kind": "erasure_certificate", "certificate": certificate}
    elif kind == "restriction":
        summary = {
            "kind": "restriction",
            **restrict_contact(conn, contact_id, actor=actor, at=at, request_id=request_id),
        }
    else:
        summary = {
            "kind": "objection",
            **object_contact(conn, contact_id, actor=actor, at=at, request_id=request_id),
        }
    conn.execute(
        update(dsr_requests)
        .where(dsr_requests.c.id == request_id)
        .values(
            status="fulfilled",
            closed_at=at,
            result=result,
            summary=summary,
            verification_token=None,
        )
    )
    history(conn, request_id, "fulfilled", actor, at, summary["kind"])
    return summary


def history(
    conn: Connection, request_id: int, status: str, actor: str, at: datetime, note: str = ""
) -> None:
    """Append one entry to the request's status history."""
    conn.execute(
        insert(dsr_status_history).values(
            request_id=request_id, status=status, at=at, actor=actor, note=note
        )
    )
