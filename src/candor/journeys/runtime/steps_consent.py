"""Permission steps: `consent` (ask, hold), `opt_in` (double opt-in), `opt_out`, `inform`.

Ledger events are written in bulk through ledger.bulk with source `journey` and evidence
naming the journey, step and purpose version; the messages that ask go to the outbox as
`consent_request` (obeys blocks, needs no consent yet) or `confirmation` (no advertising).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.sql.elements import ColumnElement

from candor.core import tokens
from candor.core.durations import add
from candor.journeys.runtime.batch_moves import (
    SEEN,
    Member,
    Move,
    Moves,
    StepContext,
    go,
    hold,
    leave,
    sort_into,
)
from candor.journeys.runtime.handlers import Handler, register_handler
from candor.journeys.runtime.model import duration
from candor.journeys.runtime.step_support import (
    GONE,
    REFUSALS,
    consent_news,
    decide_batch,
    enqueue,
    forget_decisions,
    journey_data,
)
from candor.journeys.step_types import parse_duration
from candor.ledger import audit
from candor.ledger.bulk import NewEvent, append_events
from candor.ledger.consents import DOI_TOKEN_PURPOSE
from candor.policy.decide import Decision
from candor.store.sql import in_batch
from candor.store.tables import consent_events, doi_tokens


def _evidence(ctx: StepContext) -> dict[str, object]:
    return {
        "journey": ctx.journey.id,
        "step": ctx.step.id,
        "purpose_version": ctx.journey.purpose.current_version,
    }


def _events(
    ctx: StepContext, ids: list[int], status: str, channel: str | None, theme: str | None
) -> list[int]:
    """Append one event per contact (bulk) and audit the batch once; returns event ids."""
    purpose = ctx.journey.purpose
    events = [
        NewEvent(
            cid,
            purpose.id,
            purpose.current_version,
            status,
            "journey",
            ctx.now,
            theme=theme,
            channel=channel,
            evidence=_evidence(ctx),
        )
        for cid in ids
    ]
    event_ids = append_events(ctx.conn, ctx.cx.vault, events, ctx.now)
    if event_ids:
        audit.record(
            ctx.conn,
            actor=f"journey:{ctx.journey.id}",
            action=f"consent.{status}",
            object_type="journey",
            object_id=ctx.journey.id,
            at=ctx.now,
            step=ctx.step.id,
            purpose=purpose.id,
            contacts=len(event_ids),
        )
    return event_ids


def _timeout(ctx: StepContext, m: Member) -> datetime:
    return add(m.step_entered_at, duration(ctx.settings.timeout))


def _held(
    ctx: StepContext, m: Member, d: Decision, refused_exit: str, agreed: bool | None = None
) -> Move:
    """A waiting contact after a consent event (or at its timeout); `agreed` overrides
    d.allowed where allowed is not enough (a renewal needs a fresh consent)."""
    if d.allowed if agreed is None else agreed:
        return go(ctx.next(), "confirmed" if ctx.step.type == "opt_in" else "granted")
    if d.reason in GONE:
        return leave(d.reason)
    if d.reason in REFUSALS:
        return go(ctx.exit(refused_exit), d.reason)
    if d.reason == "doi_pending" and ctx.step.type == "consent":
        return go(ctx.next(), "doi_pending")
    if m.due_at <= ctx.now:
        return go(ctx.exit("on_timeout"), "timeout")
    return SEEN


def _wake_consent(ctx: StepContext) -> ColumnElement[bool]:
    return consent_news(ctx, ctx.journey.purpose.id)


# --- consent -----------------------------------------------------------------------------


def run_consent(ctx: StepContext, members: list[Member]) -> Moves:
    """Pass the allowed, route refusals, ask the rest (requested event + request message)."""
    s = ctx.settings
    decided = decide_batch(ctx, members, s.channel, ctx.journey.theme(s.theme))
    moves: Moves = {}
    ask: list[Member] = []
    passed = go(ctx.next(), "passed")
    for m in members:
        d = decided[m.contact_id]
        if m.status == "waiting":
            sort_into(moves, _held(ctx, m, d, "on_refused"), m)
        elif d.allowed:
            sort_into(moves, passed, m)
        elif d.reason in GONE:
            sort_into(moves, leave(d.reason), m)
        elif d.reason == "doi_pending":
            sort_into(moves, go(ctx.next(), "doi_pending"), m)
        elif (
            d.reason in REFUSALS
            or d.reason.startswith("blocked:")
            or d.reason in ("objected", "undeliverable")
        ):
            sort_into(moves, go(ctx.exit("on_refused"), d.reason), m)
        else:
            ask.append(m)
            sort_into(moves, hold(_timeout(ctx, m), "requested"), m)
    if ask:
        ids = sorted(m.contact_id for m in ask)
        _events(ctx, ids, "requested", s.channel, s.theme)
        forget_decisions(ctx, ids)
        enqueue(
            ctx,
            ask,
            decided,
            kind="consent_request",
            channel=s.channel,
            template=s.template,
            theme=s.theme,
            contexts=journey_data(ctx, ask),
        )
    return moves


# --- opt_in ------------------------------------------------------------------------------


def run_opt_in(ctx: StepContext, members: list[Member]) -> Moves:
    """Double opt-in: pending event, signed token, confirmation message; hold until confirmed.

    With `renew`, people who agreed are asked too (a `requested` event, no pending one: their
    consent stays in force meanwhile); confirming records a fresh `confirmed` event.
    """
    s = ctx.settings
    service = replace(ctx.journey.purpose, kind="service")  # a confirmation is no advertising
    decided = decide_batch(ctx, members, s.channel, None, purpose=service)
    moves: Moves = {}
    confirm: list[Member] = []
    waiting = [m for m in members if m.status == "waiting"]
    renewed = _renewed(ctx, waiting, decided) if s.renew else None
    for m in members:
        d = decided[m.contact_id]
        if m.status == "waiting":
            agreed = None if renewed is None else m.contact_id in renewed
            sort_into(moves, _held(ctx, m, d, "on_timeout", agreed), m)
        elif d.allowed and not (s.renew and d.event_id is not None):
            sort_into(moves, go(ctx.next(), "passed"), m)
        elif d.reason in GONE:
            sort_into(moves, leave(d.reason), m)
        elif d.reason == "undeliverable":
            sort_into(moves, go(ctx.exit("on_timeout"), d.reason), m)
        else:
            confirm.append(m)
            sort_into(moves, hold(_timeout(ctx, m), "pending"), m)
    if confirm:
        _send_confirmations(ctx, confirm, decided)
    return moves


def _send_confirmations(
    ctx: StepContext, members: list[Member], decided: dict[int, Decision]
) -> None:
    """A pending event where there is none yet, one token each, one confirmation message each."""
    s = ctx.settings
    pending = {
        m.contact_id: decided[m.contact_id].event_id
        for m in members
        if decided[m.contact_id].reason == "doi_pending" or decided[m.contact_id].allowed
    }
    renewing = sorted(cid for cid in pending if decided[cid].allowed)
    if renewing:  # the ask itself is evidence; the consent in force stays decisive
        _events(ctx, renewing, "requested", s.channel, None)
    fresh = sorted(m.contact_id for m in members if m.contact_id not in pending)
    pending |= dict(zip(fresh, _events(ctx, fresh, "pending", s.channel, None), strict=True))
    expires = add(ctx.now, parse_duration(s.timeout))
    rows, signed = [], {}
    for cid, event_id in pending.items():
        token_id = secrets.token_hex(16)
        rows.append(
            {"id": token_id, "event_id": event_id, "contact_id": cid, "expires_at": expires}
        )
        signed[cid] = tokens.sign(
            ctx.cx.vault.signing_key, DOI_TOKEN_PURPOSE, {"t": token_id}, expires
        )
    ctx.conn.execute(insert(doi_tokens), rows)
    data = journey_data(ctx, members)
    contexts = {cid: {**data.get(cid, {}), "doi_token": signed[cid]} for cid in pending}
    enqueue(
        ctx,
        members,
        decided,
        kind="confirmation",
        channel=s.channel,
        template=s.template,
        theme=None,
        contexts=contexts,
    )


def _renewed(ctx: StepContext, members: list[Member], decided: dict[int, Decision]) -> set[int]:
    """Who was asked to renew and has since agreed afresh (a consent after the ask)."""
    events = {m.contact_id: decided[m.contact_id].event_id for m in members}
    known = [e for e in events.values() if e is not None]
    if not known:
        return set()
    ce = consent_events
    when = dict(
        ctx.conn.execute(select(ce.c.id, ce.c.occurred_at).where(in_batch(ce.c.id, known))).all()
    )
    return {
        m.contact_id
        for m in members
        if decided[m.contact_id].allowed
        and events[m.contact_id] in when
        and when[events[m.contact_id]] > m.step_entered_at
    }


# --- opt_out and inform ------------------------------------------------------------------


def run_opt_out(ctx: StepContext, members: list[Member]) -> Moves:
    """Record a withdrawal for the journey's purpose (narrowed by channel/theme); go on."""
    s = ctx.settings
    decided = decide_batch(ctx, members, None, None)
    moves: Moves = {}
    present = sorted(m.contact_id for m in members if decided[m.contact_id].reason != "erased")
    _events(ctx, present, "withdrawn", s.channel, s.theme)
    for m in members:
        gone = decided[m.contact_id].reason == "erased"
        sort_into(moves, leave("erased") if gone else go(ctx.next(), "withdrawn"), m)
    return moves


def run_inform(ctx: StepContext, members: list[Member]) -> Moves:
    """Announce a changed purpose to those whose consent is to an older version; ask again."""
    s = ctx.settings
    decided = decide_batch(ctx, members, s.channel, None)
    moves: Moves = {}
    tell: list[Member] = []
    for m in members:
        d = decided[m.contact_id]
        if m.status == "waiting":
            sort_into(moves, _held(ctx, m, d, "on_refused"), m)
        elif d.reason in GONE:
            sort_into(moves, leave(d.reason), m)
        elif d.reason == "reconsent_required":
            tell.append(m)
            sort_into(moves, hold(_timeout(ctx, m), "informed"), m)
        else:
            sort_into(moves, go(ctx.next(), "passed"), m)
    enqueue(
        ctx,
        tell,
        decided,
        kind="consent_request",
        channel=s.channel,
        template=s.template,
        theme=None,
        contexts=journey_data(ctx, tell) if tell else {},
    )
    return moves


# A consent step writes events only for the people it asks, and forgets their decisions.
register_handler("consent", Handler(run=run_consent, wake=_wake_consent, keeps_decisions=True))
register_handler("opt_in", Handler(run=run_opt_in, wake=_wake_consent))
register_handler("opt_out", Handler(run=run_opt_out))
register_handler("inform", Handler(run=run_inform, wake=_wake_consent))
