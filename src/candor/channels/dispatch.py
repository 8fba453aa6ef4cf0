"""Outbox dispatch: claim due messages, re-check the gate, render, send, record: exactly once.

Claiming commits `sending` (attempts+1, a lease in next_attempt_at) before any server is
contacted; the gate is checked again for the whole batch; sending happens outside any
transaction; one transaction per batch then records what was sent. A crash leaves rows in
`sending`; once their lease expires they are sent again with the same Message-ID, so the only
possible repeat is the same message re-delivered, which receivers drop.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.engine import RowMapping

from candor.channels import meta, twilio
from candor.channels.base import SendResult, Transport
from candor.channels.compose import Composer, ComposeStream
from candor.channels.delivery import apply_reports, settle_waiting
from candor.channels.recheck import default_addresses, recheck
from candor.channels.reports import Report
from candor.channels.sent import communication_row, insert_communications, mark_sent
from candor.channels.settings import (
    ChannelSettings,
    DispatchSettings,
    load_settings,
    transports_for,
)
from candor.core.context import Candor
from candor.ledger import audit
from candor.policy.decide import Decision
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import outbox
from candor.store.sql import in_batch
from candor.store.vault import Vault

logger = logging.getLogger(__name__)

# Failure codes that say "this address will never accept mail": the address is marked
# undeliverable, so decide() answers `undeliverable` from then on, the failure kept as a
# delivery report (its evidence).
RECIPIENT_FAILURES = frozenset(
    {"smtp_550", "smtp_551", "smtp_553", "invalid_number", "http_404", "http_410"}
    | {f"twilio_{code}" for code in twilio.NUMBER_FAILURES}
    | {f"meta_{code}" for code in meta.NUMBER_FAILURES}
)


@dataclass(eq=False)
class Outcome:
    """What became of one claimed row."""

    row: RowMapping
    decision: Decision | None = None
    message_id: str | None = None
    message: Any = None  # what was handed to the transport (OutgoingEmail or OutgoingSms)
    result: SendResult | None = None
    error: str | None = None  # set when the row failed before sending
    address_id: int | None = None  # where it went (the row's, or the one the gate resolved)


@dataclass
class BatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0


def dispatch_due(
    cx: Candor,
    transports: Mapping[str, Transport[Any]] | None = None,
    *,
    batch_size: int | None = None,
    settings: ChannelSettings | None = None,
) -> int:
    """Send every due outbox message of the configured channels; returns how many were sent."""
    if settings is None:
        with reading(cx.engine) as conn:
            settings = load_settings(conn)
    owned = transports is None
    active: Mapping[str, Transport[Any]] = (
        transports_for(settings) if transports is None else transports
    )
    if not active:
        return 0
    if settings.public_url is None and _due(cx, sorted(active)):
        settings.require_public_url()  # links need it: fail before a row is claimed
    conf = settings.dispatch
    size = batch_size or conf.batch_size
    sent = 0
    try:
        while True:
            rows = claim(cx, sorted(active), size, conf)
            if not rows:
                return sent
            sent += process_batch(cx, settings, active, rows).sent
    finally:
        if owned:
            for transport in active.values():
                transport.close()


def _due(cx: Candor, channels: Sequence[str]) -> bool:
    """Whether any row of these channels is due now."""
    with reading(cx.engine) as conn:
        query = select(outbox.c.id).where(
            outbox.c.status.in_(("queued", "sending")),
            outbox.c.next_attempt_at <= cx.clock.now(),
            outbox.c.channel.in_(channels),
        )
        return conn.execute(query.limit(1)).first() is not None


def claim(
    cx: Candor, channels: Sequence[str], limit: int, conf: DispatchSettings
) -> list[RowMapping]:
    """Mark up to `limit` due rows `sending` and commit (SKIP LOCKED on PostgreSQL).

    Due: queued with next_attempt_at reached, or sending whose lease ran out (a crashed
    worker). Rows out of attempts become `failed` instead.
    """
    if not channels:
        return []
    now = cx.clock.now()
    due = (outbox.c.status.in_(("queued", "sending")), outbox.c.next_attempt_at <= now)
    with cx.engine.begin() as conn:
        conn.execute(
            update(outbox)
            .where(*due, outbox.c.attempts >= conf.max_attempts)
            .values(status="failed", error=func.coalesce(outbox.c.error, "max_attempts"))
        )
        pick = (
            select(outbox.c.id)
            .where(*due, outbox.c.channel.in_(channels))
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        if not is_sqlite(cx.engine):
            pick = pick.with_for_update(skip_locked=True)
        claimed = conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(pick.scalar_subquery()))
            .values(
                status="sending",
                attempts=outbox.c.attempts + 1,
                next_attempt_at=now + timedelta(seconds=conf.lease_seconds),
            )
            .returning(*outbox.c)
        )
        rows = sorted(claimed.mappings().all(), key=lambda r: r["id"])
    return rows


def process_batch(
    cx: Candor,
    settings: ChannelSettings,
    transports: Mapping[str, Transport[Any]],
    rows: list[RowMapping],
) -> BatchReport:
    """Gate, render, send and record one claimed batch."""
    now = cx.clock.now()
    outcomes = [Outcome(row) for row in rows]
    with cx.engine.begin() as conn:
        targets = default_addresses(conn, rows)
        verdicts = recheck(conn, rows, targets, now)
        for outcome in outcomes:
            outcome.decision = verdicts[outcome.row["id"]]
        denied = [o for o in outcomes if not o.decision or not o.decision.allowed]
        cancel(conn, denied)
        live = [o for o in outcomes if o.decision and o.decision.allowed]
        composer = Composer.load(
            conn, cx.vault, settings, live_rows=[o.row for o in live], targets=targets, at=now
        )
    failure = _send(composer, transports, live)
    with cx.engine.begin() as conn:
        report = record(conn, settings.dispatch, live, now, cx.vault)
    report.cancelled = len(denied)
    if failure is not None:
        raise failure
    return report


def _send(
    composer: Composer, transports: Mapping[str, Transport[Any]], live: Sequence[Outcome]
) -> Exception | None:
    """Compose and send the allowed rows per channel; an unexpected error stops the rest."""
    by_channel: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in live:
        outcome.address_id = composer.address_of(outcome.row)
        by_channel[outcome.row["channel"]].append(outcome)
    for channel, members in by_channel.items():
        stream = ComposeStream(composer, [o.row for o in members])
        results = transports[channel].send(stream)
        for index, error in stream.errors.items():
            members[index].error = error
        for (index, composed), result in zip(stream.handed, results, strict=True):
            members[index].message_id = composed.message.message_id
            members[index].message = composed.message
            members[index].result = result
        if stream.failure is not None:
            return stream.failure
    return None


def cancel(conn: Connection, denied: Sequence[Outcome]) -> None:
    """Cancel rows the gate now denies, keeping the denying reason (one statement)."""
    if not denied:
        return
    params = [
        {
            "b_id": o.row["id"],
            "b_attempts": o.row["attempts"],
            "b_reason": o.decision.reason if o.decision else "erased",
            "b_event": o.decision.event_id if o.decision else None,
        }
        for o in denied
    ]
    conn.execute(
        update(outbox)
        .where(
            outbox.c.id == bindparam("b_id"),
            outbox.c.status == "sending",
            outbox.c.attempts == bindparam("b_attempts"),
        )
        .values(
            status="cancelled",
            decision_reason=bindparam("b_reason"),
            decision_basis=None,
            decision_event_id=bindparam("b_event"),
            error="denied_at_dispatch",
        ),
        params,
    )


def _still_ours(conn: Connection, outcomes: Sequence[Outcome]) -> set[int]:
    """Rows still `sending` with our attempt number (a stale worker must not record twice)."""
    ids = [o.row["id"] for o in outcomes]
    if not ids:
        return set()
    query = select(outbox.c.id, outbox.c.attempts).where(
        in_batch(outbox.c.id, ids), outbox.c.status == "sending"
    )
    if not is_sqlite(conn.engine):
        query = query.with_for_update()
    current = {r.id: r.attempts for r in conn.execute(query)}
    return {o.row["id"] for o in outcomes if current.get(o.row["id"]) == o.row["attempts"]}


def backoff(conf: DispatchSettings, attempts: int) -> timedelta:
    """Exponential back-off after `attempts` tries, capped."""
    seconds = conf.backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, conf.backoff_max_seconds))


def record(
    conn: Connection,
    conf: DispatchSettings,
    live: Sequence[Outcome],
    now: datetime,
    vault: Vault,
) -> BatchReport:
    """One transaction: sent rows with their communications, retries, failures, bounces."""
    ours = _still_ours(conn, live)
    mine = [o for o in live if o.row["id"] in ours]
    sent = [o for o in mine if o.result is not None and o.result.ok]
    report = BatchReport(sent=len(sent))
    _record_sent(conn, vault, sent, now)
    retry, failed, bounced = [], [], []  # bounced: (outbox row, channel, error code)
    done = {o.row["id"] for o in sent}
    for o in mine:
        if o.row["id"] in done:
            continue
        code = o.error or (o.result.error if o.result else None) or "unknown"
        permanent = o.error is not None or (o.result is not None and o.result.permanent)
        if permanent or o.row["attempts"] >= conf.max_attempts:
            failed.append({"b_id": o.row["id"], "b_error": code})
            if code in RECIPIENT_FAILURES and o.address_id is not None:
                bounced.append((o.row["id"], o.row["channel"], code))
        else:
            retry.append(
                {
                    "b_id": o.row["id"],
                    "b_error": code,
                    "b_next": now + backoff(conf, o.row["attempts"]),
                }
            )
    if retry:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("b_id"))
            .values(
                status="queued", error=bindparam("b_error"), next_attempt_at=bindparam("b_next")
            ),
            retry,
        )
    if failed:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("b_id"))
            .values(status="failed", error=bindparam("b_error")),
            failed,
        )
        settle_waiting(conn, vault, [f["b_id"] for f in failed], now)
    if bounced:
        refusals = [
            Report(channel, "status", "failed", "undeliverable", code, outbox_id=row_id,
                   evidence={"refused_at_send": code})
            for row_id, channel, code in bounced
        ]  # fmt: skip
        apply_reports(conn, vault, refusals, at=now, actor="dispatch")
    report.retried, report.failed = len(retry), len(failed)
    if live:
        audit.record(
            conn,
            actor="dispatch",
            action="outbox.dispatch",
            object_type="outbox",
            object_id=live[0].row["id"],
            at=now,
            sent=report.sent,
            retried=report.retried,
            failed=report.failed,
            bounced=len(bounced),
        )
    return report


def _record_sent(conn: Connection, vault: Vault, sent: Sequence[Outcome], now: datetime) -> None:
    """Communications for the sent rows, then the rows marked sent (batched statements)."""
    rows = [
        communication_row(o.row, o.decision, o.address_id, o.result, o.message, now) for o in sent
    ]
    comm_ids = insert_communications(conn, rows)
    mark_sent(
        conn,
        now,
        [(o.row["id"], o.message_id, comm) for o, comm in zip(sent, comm_ids, strict=True)],
    )
    settle_waiting(conn, vault, [o.row["id"] for o in sent], now)  # reports that beat it


def pending(cx: Candor) -> int:
    """Rows not yet finished (queued or sending), due or not."""
    with reading(cx.engine) as conn:
        query = (
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.status.in_(("queued", "sending")))
        )
        return int(conn.execute(query).scalar_one())


def run_until_drained(cx: Candor, *, idle_sleep: float = 0.05, timeout: float | None = None) -> int:
    """Dispatch until no row is queued or sending (waiting out back-offs); returns sent."""
    with reading(cx.engine) as conn:
        settings = load_settings(conn)
    transports = transports_for(settings)
    started, sent = time.monotonic(), 0
    try:
        while pending(cx):
            done = dispatch_due(cx, transports, settings=settings)
            sent += done
            if timeout is not None and time.monotonic() - started > timeout:
                break
            if not done:
                time.sleep(idle_sleep)
    finally:
        for transport in transports.values():
            transport.close()
    return sent


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m candor.channels.dispatch [--once]`: dispatch with settings from the env."""
    args = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING)
    cx = Candor.open()
    try:
        if "--once" in args:
            dispatch_due(cx)
        else:
            run_until_drained(cx)
    finally:
        cx.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
