"""The audit trail: every state-changing operation writes one entry, without personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from candor.store.tables import audit_log


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object,
    at: datetime,
    **details: Any,
) -> None:
    """Append an audit entry in the caller's transaction (ids and codes only, no PII)."""
    conn.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=details,
        )
    )
