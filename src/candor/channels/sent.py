"""Recording a sent batch: its communications and its outbox rows, a few statements a batch.

On PostgreSQL ids are drawn from the sequence and the rows written with COPY, and one UPDATE
joined to unnested arrays marks the outbox: two trips, where a multi-row INSERT ... RETURNING
is parsed as one long statement and an executemany UPDATE runs once per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, String, bindparam, func, insert, update
from sqlalchemy.dialects.postgresql import ARRAY

from candor.channels.base import SendResult
from candor.policy.decide import Decision
from candor.store.journey_tables import outbox
from candor.store.sql import insert_returning_ids
from candor.store.tables import communications

_SENT = {"status": "sent", "error": None}
# Kinds whose gate is the purpose itself; their fresh decision is the one recorded.
PURPOSE_GATED = ("marketing", "service")


def communication_row(
    row: Mapping[Any, Any],
    decision: Decision | None,
    address_id: int | None,
    result: SendResult | None,
    message: Any,
    now: datetime,
) -> dict[str, Any]:
    """The communications row of a sent message: the decision that allowed it, where it went,
    the state its provider accepted it in, and (SMS) its encoding and segments."""
    fresh = decision if row["kind"] in PURPOSE_GATED else None
    shape = getattr(message, "shape", None)
    return {
        "contact_id": row["contact_id"],
        "channel": row["channel"],
        "address_id": address_id,
        "direction": "out",
        "theme": row["theme"],
        "purpose_id": row["purpose_id"],
        "occurred_at": now,
        "content_ref": f"outbox:{row['id']};template:{row['template_id']};kind:{row['kind']}",
        "decision_reason": fresh.reason if fresh else row["decision_reason"],
        "decision_basis": fresh.basis if fresh else row["decision_basis"],
        "decision_event_id": fresh.event_id if fresh else row["decision_event_id"],
        "delivery_status": result.state if result else "sent",
        "delivery_detail": None,
        "delivery_at": now,
        "provider_ref": result.provider_ref if result else None,
        "encoding": shape.encoding if shape else None,
        "segments": shape.segments if shape else None,
    }


def insert_communications(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert communications rows; their ids in input order.

    Elsewhere than PostgreSQL the ids come back unordered (an ordered RETURNING made SQLite
    insert row by row) and are matched by content_ref, unique per outbox row.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        return insert_returning_ids(conn, communications, [dict(r) for r in rows])
    inserted = conn.execute(
        insert(communications).returning(communications.c.id, communications.c.content_ref),
        [dict(r) for r in rows],
    )
    id_of = {ref: int(comm) for comm, ref in inserted}
    return [id_of[r["content_ref"]] for r in rows]


def mark_sent(conn: Connection, now: datetime, sent: Sequence[tuple[int, str | None, int]]) -> None:
    """Mark outbox rows sent: (outbox id, Message-ID, communication id) each."""
    if not sent:
        return
    if conn.dialect.name == "postgresql":
        _mark_sent_unnest(conn, now, sent)
        return
    conn.execute(
        update(outbox)
        .where(outbox.c.id == bindparam("b_id"))
        .values(
            sent_at=now,
            message_id=bindparam("b_message_id"),
            communication_id=bindparam("b_comm"),
            **_SENT,
        ),
        [{"b_id": i, "b_message_id": m, "b_comm": c} for i, m, c in sent],
    )


def _mark_sent_unnest(
    conn: Connection, now: datetime, sent: Sequence[tuple[int, str | None, int]]
) -> None:
    """One UPDATE joined to the batch as unnested arrays (PostgreSQL)."""
    ids, message_ids, comms = (list(column) for column in zip(*sent, strict=True))
    batch = (
        func.unnest(
            bindparam("b_ids", ids, type_=ARRAY(BigInteger)),
            bindparam("b_message_ids", message_ids, type_=ARRAY(String)),
            bindparam("b_comms", comms, type_=ARRAY(BigInteger)),
        )
        .table_valued("id", "message_id", "comm")
        .render_derived(name="b", with_types=False)
    )
    conn.execute(
        update(outbox)
        .where(outbox.c.id == batch.c.id)
        .values(
            sent_at=now,
            message_id=batch.c.message_id,
            communication_id=batch.c.comm,
            **_SENT,
        )
    )
