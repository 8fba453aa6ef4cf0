"""Erasure certificates: stored with the erasure, read back with the substring sweep's result
and each connector's acknowledgement.

A certificate holds ids, counts, rules and digests only, never personal data, so it outlives
the person as the proof of what was done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from candor.core.errors import NotFound
from candor.ledger.events import erasure_acknowledgements
from candor.rights.sweep import with_sweep
from candor.store.rights_tables import erasure_certificates


def store_certificates(
    conn: Connection,
    certificates: list[dict[str, Any]],
    *,
    request_id: int | None,
    actor: str,
    at: datetime,
) -> None:
    """Insert the certificates and give each its id."""
    rows = [
        {
            "contact_id": c["contact"],
            "request_id": request_id,
            "issued_at": at,
            "actor": actor,
            "reason": c["reason"],
            "ledger_digest": c["ledger"]["final_digest"],
            "body": c,
        }
        for c in certificates
    ]
    returning = insert(erasure_certificates).returning(
        erasure_certificates.c.id, sort_by_parameter_order=True
    )
    for cert, cert_id in zip(certificates, conn.execute(returning, rows).scalars(), strict=True):
        cert["id"] = int(cert_id)


def certificate_of(conn: Connection, contact_id: int) -> dict[str, Any]:
    """The newest erasure certificate of a contact (NotFound when it was never erased)."""
    ec = erasure_certificates
    row = conn.execute(
        select(ec.c.id, ec.c.body, ec.c.sweep)
        .where(erasure_certificates.c.contact_id == contact_id)
        .order_by(erasure_certificates.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound("certificate", contact_id)
    body = {**row.body, "id": int(row.id)}
    if "scan" in body:  # the substring sweep's result, appended once it ran
        body["scan"] = with_sweep(body["scan"], row.sweep)
    return {**body, "connectors": erasure_acknowledgements(conn, contact_id)}
