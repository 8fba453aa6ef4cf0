"""Delivering the sync outbox: signed webhook POSTs with retries, ordering and dead letters.

Per connector and per contact, an event goes out only when none of that contact's earlier
events to that connector is still pending (a dead letter steps out of the line, so one
refused event cannot hold back a later erasure). 2xx (and 409, "already have it") is an
acknowledgement; other 4xx except 408/429 are permanent and dead-letter at once; 5xx,
408/429, timeouts and connection errors retry with exponential backoff until max_attempts.
No database transaction is held during an HTTP request.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, and_, exists, select, update
from sqlalchemy.orm import aliased

from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.figures import change_counts as counts
from candor.ledger import audit
from candor.ledger.connector_settings import Settings, WebhookConnector, load_settings
from candor.ledger.event_data import encode, identifiers, payload
from candor.ledger.events import SEALED_FIELD
from candor.store.engine import is_sqlite, reading
from candor.store.sync_tables import sync_deliveries, sync_events
from candor.sync.signing import sign_headers

log = logging.getLogger("candor.sync")
MAX_ROUNDS = 100
LEASE = timedelta(seconds=60)


def deliver_due(cx: Candor, *, client: httpx.Client | None = None) -> int:
    """Attempt every delivery that is due now (in order per contact); returns attempts made."""
    with reading(cx.engine) as conn:
        settings = load_settings(conn)
    if not settings.webhooks:
        return 0
    own = client is None
    http = client or httpx.Client()
    attempts = 0
    try:
        for _ in range(MAX_ROUNDS):
            made = 0
            for row in _due(cx, settings):
                connector = settings.webhook(row.connector)
                if connector is not None and _claim(cx, row):
                    _attempt(cx, http, settings, connector, row)
                    made += 1
            attempts += made
            if made == 0:
                break
    finally:
        if own:
            http.close()
    return attempts


def _due(cx: Candor, settings: Settings) -> list[Any]:
    """The next batch of due deliveries whose contact has nothing earlier pending there."""
    d, e = sync_deliveries, aliased(sync_deliveries)
    earlier = exists().where(
        e.c.connector == d.c.connector,
        e.c.contact_id == d.c.contact_id,
        e.c.status == "pending",
        e.c.id < d.c.id,
    )
    query = (
        select(
            d.c.id,
            d.c.connector,
            d.c.attempts,
            d.c.next_attempt_at,
            d.c.contact_id,
            d.c.event_row,
            sync_events.c.event_id,
            sync_events.c.type,
            sync_events.c.occurred_at,
            sync_events.c.data,
            sync_events.c.key_id,
            sync_events.c.sealed,
        )
        .join(sync_events, sync_events.c.id == d.c.event_row)
        .where(
            d.c.status == "pending",
            d.c.next_attempt_at <= cx.clock.now(),
            d.c.connector.in_([c.id for c in settings.webhooks]),
            ~earlier,
        )
        .order_by(d.c.id)
        .limit(settings.sync.batch)
    )
    with reading(cx.engine) as conn:
        return list(conn.execute(query))


def _claim(cx: Candor, row: Any) -> bool:
    """Take the delivery for this worker (a lease): another worker sees it as not due."""
    with cx.engine.begin() as conn:
        claimed = conn.execute(
            update(sync_deliveries)
            .where(
                sync_deliveries.c.id == row.id,
                sync_deliveries.c.status == "pending",
                sync_deliveries.c.next_attempt_at == row.next_attempt_at,
            )
            .values(next_attempt_at=cx.clock.now() + LEASE)
        )
    return claimed.rowcount == 1


def _body(cx: Candor, row: Any, connector: WebhookConnector, source: str) -> bytes | None:
    """The signed bytes for this connector, or None when no identifier is left to name."""
    data = dict(row.data or {})
    sealed: dict[str, Any] = {}
    if row.key_id is not None:
        raw = cx.vault.decrypt(row.key_id, SEALED_FIELD, row.sealed)
        if raw is None:
            return None
        sealed = json.loads(raw)
    if row.type == "contact.erased":
        identifier = sealed.get(connector.identifier)
    else:
        with reading(cx.engine) as conn:
            found = identifiers(conn, cx.vault, [row.contact_id], {connector.identifier})
        identifier = found.get(row.contact_id, {}).get(connector.identifier)
        if sealed and connector.identifier == "email":
            data["changes"] = {**data.get("changes", {}), **sealed}
    if not identifier:
        return None
    return encode(payload(row, data, identifier, connector, source))


def _attempt(
    cx: Candor, http: httpx.Client, settings: Settings, connector: WebhookConnector, row: Any
) -> None:
    """One signed POST and its outcome written back."""
    now = cx.clock.now()
    body = _body(cx, row, connector, settings.sync.name)
    if body is None:
        _finish(cx, row, connector, "dead", now, error="no_identifier")
        return
    secret = connector.secret()
    if secret is None:
        _retry(cx, settings, connector, row, now, None, "secret_unset")
        return
    headers = sign_headers(
        secret,
        body,
        timestamp=int(now.timestamp()),
        event_id=row.event_id,
        sender=settings.sync.name,
    )
    timeout = connector.timeout_seconds or settings.sync.timeout_seconds
    try:
        response = http.post(connector.url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        _retry(cx, settings, connector, row, now, None, "timeout")
        return
    except httpx.HTTPError as exc:
        _retry(cx, settings, connector, row, now, None, type(exc).__name__[:64])
        return
    code = response.status_code
    if 200 <= code < 300 or code == 409:
        _finish(cx, row, connector, "delivered", now, status=code)
    elif 400 <= code < 500 and code not in (408, 429):
        _finish(cx, row, connector, "dead", now, status=code, error="refused")
    else:
        _retry(cx, settings, connector, row, now, code, "server_error")


def backoff(attempts: int, base: float, ceiling: float) -> timedelta:
    """base * 2^(attempts-1) seconds, at most `ceiling`."""
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def _retry(
    cx: Candor,
    settings: Settings,
    connector: WebhookConnector,
    row: Any,
    now: datetime,
    status: int | None,
    error: str,
) -> None:
    attempts = row.attempts + 1
    limit = connector.max_attempts or settings.sync.max_attempts
    if attempts >= limit:
        _finish(cx, row, connector, "dead", now, status=status, error=error)
        return
    base = connector.retry_base_seconds or settings.sync.retry_base_seconds
    with cx.engine.begin() as conn:
        conn.execute(
            update(sync_deliveries)
            .where(sync_deliveries.c.id == row.id)
            .values(
                attempts=attempts,
                last_attempt_at=now,
                last_status=status,
                last_error=error,
                next_attempt_at=now + backoff(attempts, base, settings.sync.retry_max_seconds),
            )
        )


def _finish(
    cx: Candor,
    row: Any,
    connector: WebhookConnector,
    outcome: str,
    now: datetime,
    *,
    status: int | None = None,
    error: str | None = None,
) -> None:
    """Delivered (acknowledged) or dead-lettered; an erasure fully acknowledged is shredded."""
    shred: str | None = None
    with cx.engine.begin() as conn:
        before = _status_of(conn, row.id)  # None: erased meanwhile (the row is gone)
        conn.execute(
            update(sync_deliveries)
            .where(sync_deliveries.c.id == row.id)
            .values(
                status=outcome,
                attempts=row.attempts + 1,
                last_attempt_at=now,
                last_status=status,
                last_error=error,
                acknowledged_at=now if outcome == "delivered" else None,
            )
        )
        if before is not None:
            counts.deliveries_moved(conn, {(row.connector, before, outcome): 1})
        if outcome == "dead":
            log.warning("sync delivery %s to %s dead-lettered (%s)", row.id, connector.id, error)
            audit.record(
                conn,
                actor="sync",
                action="sync.dead_letter",
                object_type="sync_delivery",
                object_id=row.id,
                at=now,
                connector=connector.id,
                event=row.event_id,
                status=status,
                error=error,
            )
        elif row.type == "contact.erased" and row.key_id and _all_acknowledged(conn, row.event_row):
            conn.execute(
                update(sync_events).where(sync_events.c.id == row.event_row).values(sealed=None)
            )
            shred = row.key_id
            audit.record(
                conn,
                actor="sync",
                action="sync.erasure_acknowledged",
                object_type="sync_event",
                object_id=row.event_id,
                at=now,
                contact=row.contact_id,
            )
    if shred is not None:
        cx.vault.destroy([shred])  # every connector has it: the identifier is gone for good


def _status_of(conn: Connection, delivery_id: int) -> str | None:
    """The delivery's status now, its row locked till commit (PostgreSQL): the count moves
    from exactly that status, even when a worker whose lease ran out finishes it again."""
    query = select(sync_deliveries.c.status).where(sync_deliveries.c.id == delivery_id)
    if not is_sqlite(conn.engine):
        query = query.with_for_update()
    status = conn.execute(query).scalar_one_or_none()
    return None if status is None else str(status)


def _all_acknowledged(conn: Connection, event_row: int) -> bool:
    open_ = conn.execute(
        select(sync_deliveries.c.id).where(
            and_(sync_deliveries.c.event_row == event_row, sync_deliveries.c.status != "delivered")
        )
    ).first()
    return open_ is None


def replay(cx: Candor, event_id: str, *, connector: str | None = None, actor: str) -> int:
    """Put an event's dead letters back in line (attempts reset); NotFound when there are none."""
    now = cx.clock.now()
    with cx.engine.begin() as conn:
        row = conn.execute(
            select(sync_events.c.id).where(sync_events.c.event_id == event_id)
        ).first()
        if row is None:
            raise NotFound("sync event", event_id)
        where = [sync_deliveries.c.event_row == row.id, sync_deliveries.c.status == "dead"]
        if connector is not None:
            where.append(sync_deliveries.c.connector == connector)
        connectors = conn.execute(
            update(sync_deliveries)
            .where(*where)
            .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
            .returning(sync_deliveries.c.connector)
        ).scalars()
        back: Counter[counts.Moved] = Counter((str(c), "dead", "pending") for c in connectors)
        count = sum(back.values())
        if not count:
            raise NotFound("dead letter of event", event_id)
        counts.deliveries_moved(conn, back)  # Mission Control: dead letters back in line
        audit.record(
            conn,
            actor=actor,
            action="sync.replay",
            object_type="sync_event",
            object_id=event_id,
            at=now,
            deliveries=count,
            connector=connector,
        )
    return int(count)
