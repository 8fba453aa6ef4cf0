"""Rights steps: `reference` (the access copy), `transfer` (its delivery), `forget`, `score`.

`reference` stores each copy once, as the sealed result of a fulfilled access request opened
by the journey, and puts its id into the journey data (`dsr_id`). `transfer` queues a service
message with an expiring, signed download link (never the data) and holds the contact until
the message went out, then records the delivery with its communication on the request.
`forget` erases the batch everywhere (its journey rows vanish with it). `score` decides only
under a profiling purpose the person agreed to and stores every decision with its factors.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import String, bindparam, cast, insert, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from candor.channels.links import download_token
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
from candor.journeys.runtime.step_support import (
    GONE,
    contact_ids,
    decide_batch,
    journey_data,
    message_key,
    stay,
    upsert_insert,
)
from candor.journeys.runtime.steps_send import OUTBOX_COLUMNS
from candor.ledger import audit
from candor.ledger.registry import purpose_facts
from candor.policy.facts import PurposeFacts
from candor.rights import messages
from candor.rights.access import compile_access_copy
from candor.rights.decisions import FACTORS_FIELD
from candor.rights.erasure import erase_in
from candor.rights.requests import due_date
from candor.rights.requests_view import RESULT_FIELD
from candor.rights.scoring import parse_model, score
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.rights_tables import (
    automated_decision_history,
    automated_decisions,
    dsr_requests,
    dsr_status_history,
)
from candor.store.sql import in_batch
from candor.store.tables import contacts, purposes

DOWNLOAD_VALID_FOR = timedelta(days=14)  # the built-in data-copy message says 14 days
FINISHED = ("sent", "failed", "cancelled")
ERASED = Move(None, None, "exited")  # no transition row: the person's rows are gone


def _actor(ctx: StepContext) -> str:
    return f"journey:{ctx.journey.id}"[:64]


def _people(ctx: StepContext, ids: list[int]) -> dict[int, Any]:
    """The batch's contacts that still exist: key id and language."""
    c = contacts
    rows = ctx.conn.execute(
        select(c.c.id, c.c.key_id, c.c.language).where(
            in_batch(c.c.id, ids), c.c.erased_at.is_(None)
        )
    )
    return {r.id: r for r in rows}


def _set_data(ctx: StepContext, members: list[Member], values: dict[int, dict[str, Any]]) -> None:
    """Merge values into each member's journey data (one executemany)."""
    current = journey_data(ctx, members)
    rows = [
        {"cid": m.contact_id, "data": {**current.get(m.contact_id, {}), **values[m.contact_id]}}
        for m in members
        if m.contact_id in values
    ]
    if rows:
        jc = journey_contacts
        mine = (jc.c.journey_id == ctx.journey.id, jc.c.contact_id == bindparam("cid"))
        ctx.conn.execute(update(jc).where(*mine), rows)


def _audit(ctx: StepContext, action: str, **details: Any) -> None:
    """One audit entry for the batch (ids and counts only)."""
    audit.record(
        ctx.conn, actor=_actor(ctx), action=action, object_type="journey",
        object_id=ctx.journey.id, at=ctx.now, step=ctx.step.id, **details,
    )  # fmt: skip


def _history(ctx: StepContext, entries: list[tuple[int, str, str]]) -> None:
    """(request, status, note) entries for the requests' status histories (one executemany)."""
    if entries:
        rows = [
            {"request_id": r, "status": s, "at": ctx.now, "actor": _actor(ctx), "note": n}
            for r, s, n in entries
        ]
        ctx.conn.execute(insert(dsr_status_history), rows)


# --- reference ---------------------------------------------------------------------------


def open_copies(ctx: StepContext, ids: list[int]) -> dict[int, int]:
    """Compile each contact's copy and store it as a fulfilled access request; contact -> id."""
    people = _people(ctx, ids)
    if not people:
        return {}
    vault, at = ctx.cx.vault, ctx.now
    vault.load(p.key_id for p in people.values())
    rows = []
    for cid in sorted(people):
        copy = compile_access_copy(ctx.conn, vault, cid, kind="access", at=at)
        sealed = vault.encrypt(
            people[cid].key_id, RESULT_FIELD, json.dumps(copy, default=str).encode()
        )
        sections = {k: len(v) for k, v in copy.items() if isinstance(v, list)}
        rows.append(
            {
                "type": "access",
                "contact_id": cid,
                "channel": "journey",
                "opened_by": "journey",
                "actor": _actor(ctx),
                "status": "fulfilled",
                "received_at": at,
                "due_at": due_date(at, 0),
                "extended_months": 0,
                "needs_approval": 0,
                "closed_at": at,
                "result": sealed,
                "summary": {"kind": "access_copy", "sections": sections, "step": ctx.step.id},
            }
        )
    stmt = insert(dsr_requests).returning(dsr_requests.c.id, sort_by_parameter_order=True)
    new = [int(i) for i in ctx.conn.execute(stmt, rows).scalars()]
    opened = dict(zip(sorted(people), new, strict=True))
    where = f"channel:journey ({ctx.journey.id}, step {ctx.step.id})"
    _history(ctx, [e for r in new for e in ((r, "received", where), (r, "fulfilled", "copy"))])
    _audit(ctx, "dsr.journey_copy", requests=len(new), first_request=new[0])
    return opened


def run_reference(ctx: StepContext, members: list[Member]) -> Moves:
    """Compile the batch's copies (one request each); the id goes into `data.dsr_id`."""
    opened = open_copies(ctx, contact_ids(members))
    _set_data(ctx, members, {cid: {"dsr_id": rid} for cid, rid in opened.items()})
    moves: Moves = {}
    for m in members:
        sort_into(moves, go(ctx.next(), "compiled") if m.contact_id in opened else ERASED, m)
    return moves


# --- transfer ----------------------------------------------------------------------------


def _service_purpose(ctx: StepContext) -> PurposeFacts:
    """The journey's purpose when it is a service purpose, else the registry's service one."""
    if ctx.journey.purpose.kind == "service":
        return ctx.journey.purpose
    return purpose_facts(ctx.conn, messages.require_service_purpose(ctx.conn))


def _templates(ctx: StepContext, people: dict[int, Any]) -> dict[int, str]:
    """Per contact: the journey's template, or a built-in (data-copy) in the person's language.

    A built-in id names a family (`data-copy`, `data-copy-de`); stored versions, customised
    with `template put`, are kept, the missing ones are stored on first use.
    """
    name = ctx.settings.template
    if name in ctx.journey.defn.templates or not messages.is_builtin(name):
        return dict.fromkeys(people, name)
    langs = {cid: messages.language_of(p.language) for cid, p in people.items()}
    ids = {lang: messages.ensure_template(ctx.conn, name, lang, ctx.now) for lang in langs.values()}
    return {cid: ids[lang] for cid, lang in langs.items()}


def _start_transfers(ctx: StepContext, members: list[Member], moves: Moves) -> None:
    """Gate, sign a link and queue one service message per contact; hold until it went out."""
    s, now = ctx.settings, ctx.now
    data = journey_data(ctx, members)
    missing = [m.contact_id for m in members if not data.get(m.contact_id, {}).get("dsr_id")]
    if missing:  # no `reference` step before: compile the copies now
        made = open_copies(ctx, missing)
        _set_data(ctx, members, {cid: {"dsr_id": rid} for cid, rid in made.items()})
        for cid, rid in made.items():
            data.setdefault(cid, {})["dsr_id"] = rid
    purpose = _service_purpose(ctx)
    decided = decide_batch(ctx, members, s.channel, None, purpose=purpose)
    people = _people(ctx, contact_ids(members))
    send = {
        m.contact_id
        for m in members
        if decided[m.contact_id].allowed
        and m.contact_id in people
        and data.get(m.contact_id, {}).get("dsr_id")
    }
    templates = _templates(ctx, {cid: people[cid] for cid in send})
    expires = now + DOWNLOAD_VALID_FOR
    key = ctx.cx.vault.signing_key
    rows, skipped = [], []
    for m in members:
        cid, d = m.contact_id, decided[m.contact_id]
        request = data.get(cid, {}).get("dsr_id")
        if d.reason in GONE or cid not in people:
            sort_into(moves, leave(d.reason if cid in people else "erased"), m)
            continue
        if cid not in send:
            if request:
                skipped.append((int(request), "undelivered", f"not sent: {d.reason}"))
            sort_into(moves, go(ctx.next(), d.reason if not d.allowed else "no_copy"), m)
            continue
        token = download_token(key, contact_id=cid, ref=f"dsr:{request}", expires_at=expires)
        context = {**data[cid], "download_token": token}
        rows.append(_outbox_row(ctx, m, templates[cid], purpose.id, d, context))
        sort_into(moves, hold(expires, "queued"), m)
    if rows:
        stmt = upsert_insert(ctx.conn, outbox).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
        ctx.conn.execute(stmt, rows)
        _audit(ctx, "dsr.transfer_queue", messages=len(rows))
    _history(ctx, skipped)


def _outbox_row(
    ctx: StepContext, m: Member, template: str, purpose: str, d: Any, context: dict[str, Any]
) -> dict[str, Any]:
    """A service message in the outbox's columns (the address is resolved at dispatch)."""
    cid, now = m.contact_id, ctx.now
    key = message_key(ctx.journey.id, cid, ctx.step.id, stay(ctx, m))
    values = (key, ctx.journey.id, ctx.step.id, cid, ctx.settings.channel, None, template)
    gate = ("service", context, d.reason, d.basis, d.event_id, "queued", 0, now, now)
    return dict(zip(OUTBOX_COLUMNS, (*values, purpose, None, *gate), strict=True))


def _finish_transfers(ctx: StepContext, members: list[Member], moves: Moves) -> None:
    """Record the delivery (with its communication) of every message that went out."""
    keys = {
        message_key(ctx.journey.id, m.contact_id, ctx.step.id, stay(ctx, m)): m for m in members
    }
    o = outbox
    rows = ctx.conn.execute(
        select(o.c.idempotency_key, o.c.status, o.c.communication_id, o.c.error).where(
            in_batch(o.c.idempotency_key, list(keys))
        )
    )
    found = {r.idempotency_key: r for r in rows}
    data = journey_data(ctx, members)
    entries: list[tuple[int, str, str]] = []
    counts: Counter[str] = Counter()
    held: set[str] = set()
    for k, m in keys.items():
        row, request = found.get(k), data.get(m.contact_id, {}).get("dsr_id")
        if row is not None and row.status not in FINISHED and m.due_at > ctx.now:
            held.add(k)
            sort_into(moves, SEEN, m)
            continue
        if row is not None and row.status == "sent":
            outcome, note = "delivered", f"delivered: communication {row.communication_id}"
        else:
            why = (row.error or row.status) if row is not None else "not queued"
            outcome, note = "undelivered", f"not delivered: {why}"
        counts[outcome] += 1
        if request:
            entries.append((int(request), outcome, note))
        sort_into(moves, go(ctx.next(), outcome), m)
    stale = [k for k in keys if k in found and found[k].status not in FINISHED and k not in held]
    if stale:  # the link expired before the message went out: never send it now
        stmt = update(o).where(in_batch(o.c.idempotency_key, stale), o.c.status == "queued")
        ctx.conn.execute(stmt.values(status="cancelled", error="link_expired"))
    _history(ctx, entries)
    if counts:
        _audit(ctx, "dsr.transfer", **counts)


def wake_transfer(ctx: StepContext) -> ColumnElement[bool]:
    """A held contact is due once its message was sent, failed or cancelled."""
    jc = journey_contacts
    key = literal(f"{ctx.journey.id}:") + cast(jc.c.contact_id, String) + literal(f":{ctx.step.id}")
    return (
        select(outbox.c.id)
        .where(outbox.c.idempotency_key == key, outbox.c.status.in_(FINISHED))
        .exists()
    )


def run_transfer(ctx: StepContext, members: list[Member]) -> Moves:
    """Entering: queue the link; held: record the delivery once the message went out."""
    moves: Moves = {}
    held = [m for m in members if m.status == "waiting"]
    entering = [m for m in members if m.status != "waiting"]
    if held:
        _finish_transfers(ctx, held, moves)
    if entering:
        _start_transfers(ctx, entering, moves)
    return moves


# --- forget ------------------------------------------------------------------------------


def run_forget(ctx: StepContext, members: list[Member]) -> Moves:
    """Erase the batch everywhere (set-based); their journey rows vanish with the erasure."""
    ids = contact_ids(members)
    erase_in(
        ctx.conn,
        ctx.cx.vault,
        ids,
        actor=_actor(ctx),
        reason=f"journey:{ctx.journey.id}:{ctx.step.id}"[:200],
        at=ctx.now,
        journey_counted=ctx.journey.id,  # apply() counts the members leaving this step
    )
    ctx.stats[(ctx.step.id, "erased")] += len(members)  # aggregates only, no transition rows
    return {ERASED: list(members)}


# --- score -------------------------------------------------------------------------------


def run_score(ctx: StepContext, members: list[Member]) -> Moves:
    """Score those who agreed to the profiling purpose; store each decision and its factors."""
    model = parse_model(ctx.settings.model)
    purpose = ctx.journey.purpose
    dpv = ctx.conn.execute(select(purposes.c.dpv).where(purposes.c.id == purpose.id)).scalar()
    profiling = "profiling" in (dpv or "").lower()
    decided = decide_batch(ctx, members, None, None)
    data = journey_data(ctx, members)
    people = _people(ctx, contact_ids(members))
    vault = ctx.cx.vault
    vault.load(p.key_id for p in people.values())
    moves: Moves = {}
    values: dict[int, dict[str, Any]] = {}
    rows, scored = [], []
    for m in members:
        cid, d = m.contact_id, decided[m.contact_id]
        if d.reason in GONE or cid not in people:
            sort_into(moves, leave(d.reason if cid in people else "erased"), m)
            continue
        if not profiling or not d.allowed or d.basis != "consent":
            why = (
                "not_profiling" if not profiling else (d.reason if not d.allowed else "no_consent")
            )
            values[cid] = {"score": None, "outcome": why}
            sort_into(moves, go(ctx.exit("on_below"), why), m)
            continue
        outcome, factors = score(model, data.get(cid, {}))
        total = float(sum(f["contribution"] for f in factors))
        sealed = vault.encrypt(people[cid].key_id, FACTORS_FIELD, json.dumps(factors).encode())
        rows.append(_decision_row(ctx, cid, model, sealed, total, outcome))
        scored.append(m)
        values[cid] = {"score": total, "outcome": outcome}
        to = ctx.next() if outcome == "above" else ctx.exit("on_below")
        sort_into(moves, go(to, outcome), m)
    if rows:
        stmt = insert(automated_decisions).returning(
            automated_decisions.c.id, sort_by_parameter_order=True
        )
        new = [int(i) for i in ctx.conn.execute(stmt, rows).scalars()]
        history = [
            {
                "decision_id": i,
                "status": "decided",
                "at": ctx.now,
                "actor": _actor(ctx),
                "note": r["outcome"],
            }
            for i, r in zip(new, rows, strict=True)
        ]
        ctx.conn.execute(insert(automated_decision_history), history)
        for m, i in zip(scored, new, strict=True):
            values[m.contact_id]["decision_id"] = i
        _audit(ctx, "decision.record", decisions=len(new), first_decision=new[0])
    _set_data(ctx, members, values)
    return moves


def _decision_row(
    ctx: StepContext, cid: int, model: Any, sealed: bytes, total: float, outcome: str
) -> dict[str, Any]:
    return {
        "contact_id": cid,
        "journey_id": ctx.journey.id,
        "purpose_id": ctx.journey.purpose.id,
        "model": model.model_dump(mode="json"),
        "factors": sealed,
        "score": total,
        "threshold": model.threshold,
        "outcome": outcome,
        "status": "decided",
        "decided_at": ctx.now,
    }


register_handler("reference", Handler(run=run_reference))
register_handler("transfer", Handler(run=run_transfer, wake=wake_transfer))
register_handler("forget", Handler(run=run_forget))
register_handler("score", Handler(run=run_score))
