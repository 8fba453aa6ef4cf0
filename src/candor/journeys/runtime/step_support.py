"""Helpers shared by step handlers: the gate for a batch, addresses, journey data, outbox.

All of them work on a whole batch with one statement each (never one per contact).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from candor.journeys.runtime.batch_moves import Decided, Member, StepContext
from candor.policy.decide import ALLOWED, Decision
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.twin import decisions, first_deliverable
from candor.store.engine import is_sqlite
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.sql import in_batch
from candor.store.tables import addresses, communications, consent_state

# Reasons that take a contact out of the journey wherever it stands.
GONE = frozenset({"erased", "restricted"})
REFUSALS = frozenset({"refused", "withdrawn"})


def contact_ids(members: Iterable[Member]) -> list[int]:
    return sorted({m.contact_id for m in members})


def decide_batch(
    ctx: StepContext,
    members: Sequence[Member],
    channel: str | None,
    theme: ThemeRef | None,
    purpose: PurposeFacts | None = None,
    addresses: dict[int, int | None] | None = None,
    *,
    reuse: bool = True,
) -> dict[int, Decision]:
    """The gate for every contact of the batch in one twin query (absent: erased).

    `addresses`, when given, receives the address each decision resolved (its message's).
    With `reuse`, decisions this transaction already took for the same question are taken
    from ctx.decisions (a send right after its consent step asks the twin once, not twice).
    """
    if not members:
        return {}
    facts = purpose or ctx.journey.purpose
    ids = contact_ids(members)
    known = ctx.decisions.setdefault((facts, channel, theme), {})
    if not reuse or any(cid not in known for cid in ids):
        known.update(_ask_twin(ctx, facts, channel, theme, ids))
    if addresses is not None:
        addresses.update((cid, known[cid][1]) for cid in ids)
    return {m.contact_id: known[m.contact_id][0] for m in members}


def _ask_twin(
    ctx: StepContext,
    facts: PurposeFacts,
    channel: str | None,
    theme: ThemeRef | None,
    ids: list[int],
) -> dict[int, Decided]:
    query = decisions(facts, channel, theme, ctx.now, dialect=ctx.conn.dialect.name, ids=ids)
    # Not twin.decide_many: its stream_results option would stick to the batch's connection.
    found: dict[int, Decided] = dict.fromkeys(ids, (Decision(False, "erased"), None))
    for contact_id, reason, basis, event_id, address_id in ctx.conn.execute(query).all():
        found[contact_id] = (Decision(reason == ALLOWED, reason, basis, event_id), address_id)
    return found


def forget_decisions(ctx: StepContext, contact_ids: Iterable[int]) -> None:
    """Drop this transaction's gate decisions for people a step just wrote ledger events for."""
    ids = set(contact_ids)
    for known in ctx.decisions.values():
        for cid in ids:
            known.pop(cid, None)


def resolved_addresses(conn: Connection, channel: str, ids: Sequence[int]) -> Select[Any]:
    """Per contact the address decide() resolves on `channel` (policy.twin's rule)."""
    return first_deliverable(channel, in_batch(addresses.c.contact_id, ids))


def address_map(conn: Connection, channel: str, ids: Sequence[int]) -> dict[int, int]:
    return {
        r.contact_id: r.address_id for r in conn.execute(resolved_addresses(conn, channel, ids))
    }


def journey_data(ctx: StepContext, members: Sequence[Member]) -> dict[int, dict[str, Any]]:
    """contact id -> the journey-scoped data (declared fields and what was gathered)."""
    jc = journey_contacts
    mine = in_batch(jc.c.contact_id, [m.contact_id for m in members])
    rows = ctx.conn.execute(
        select(jc.c.contact_id, jc.c.data).where(jc.c.journey_id == ctx.journey.id, mine)
    )
    return {r.contact_id: dict(r.data or {}) for r in rows}


def upsert_insert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT that knows ON CONFLICT."""
    return (sqlite_insert if is_sqlite(conn.engine) else pg_insert)(table)


def enqueue(
    ctx: StepContext,
    members: Sequence[Member],
    decided: dict[int, Decision],
    *,
    kind: str,
    channel: str,
    template: str,
    theme: str | None,
    contexts: dict[int, dict[str, Any]],
) -> set[int]:
    """Queue one message per contact (executemany, idempotent per journey/contact/step)."""
    if not members:
        return set()
    ids = contact_ids(members)
    where = address_map(ctx.conn, channel, ids)
    stays = {m.contact_id: stay(ctx, m) for m in members}
    rows = [
        {
            "idempotency_key": message_key(ctx.journey.id, cid, ctx.step.id, stays[cid]),
            "journey_id": ctx.journey.id,
            "step_id": ctx.step.id,
            "contact_id": cid,
            "channel": channel,
            "address_id": where.get(cid),
            "template_id": template,
            "purpose_id": ctx.journey.purpose.id,
            "theme": theme,
            "kind": kind,
            "context": contexts.get(cid, {}),
            "decision_reason": decided[cid].reason,
            "decision_basis": decided[cid].basis,
            "decision_event_id": decided[cid].event_id,
            "status": "queued",
            "attempts": 0,
            "next_attempt_at": ctx.now,
            "created_at": ctx.now,
        }
        for cid in ids
    ]
    stmt = upsert_insert(ctx.conn, outbox).on_conflict_do_nothing(
        index_elements=["idempotency_key"]
    )
    ctx.conn.execute(stmt, rows)
    return set(ids)


def message_key(journey_id: str, contact_id: int, step_id: str, stay: str = "") -> str:
    """The idempotency key of a journey message (also the seed of its Message-ID)."""
    return f"{journey_id}:{contact_id}:{step_id}{stay}"


def stay(ctx: StepContext, member: Member) -> str:
    """`:<entry time>` in a journey people may re-enter (each stay's messages are its own,
    still sent once each), else nothing."""
    if ctx.journey.defn.reentry in (None, "never") or member.entered_at is None:
        return ""
    return f":{int(member.entered_at.timestamp())}"


def since(jc: Any = journey_contacts) -> ColumnElement[Any]:
    """The moment after which events are news to a waiting contact."""
    return func.coalesce(jc.c.checked_at, jc.c.step_entered_at)


def consent_news(
    ctx: StepContext, purpose_id: str, statuses: Iterable[str] | None = None
) -> ColumnElement[bool]:
    """Correlated EXISTS: a decisive consent event for the purpose since the contact waited."""
    cs, jc = consent_state, journey_contacts
    conditions = [
        cs.c.contact_id == jc.c.contact_id,
        cs.c.purpose_id == purpose_id,
        cs.c.occurred_at > since(),
        cs.c.occurred_at <= ctx.now,
    ]
    if statuses is not None:
        conditions.append(cs.c.status.in_(list(statuses)))
    return select(cs.c.contact_id).where(and_(*conditions)).exists()


def inbound_news(ctx: StepContext, marker: ColumnElement[bool]) -> ColumnElement[bool]:
    """Correlated EXISTS: an inbound communication matching `marker` since the contact waited."""
    cm, jc = communications, journey_contacts
    return (
        select(cm.c.id)
        .where(
            cm.c.contact_id == jc.c.contact_id,
            cm.c.direction == "in",
            marker,
            cm.c.occurred_at > since(),
            cm.c.occurred_at <= ctx.now,
        )
        .exists()
    )


def woken(ctx: StepContext, members: Sequence[Member], clause: ColumnElement[bool]) -> set[int]:
    """The members (by contact id) for whom `clause` holds now."""
    jc = journey_contacts
    ids = [m.contact_id for m in members]
    if not ids:
        return set()
    mine = (jc.c.journey_id == ctx.journey.id, in_batch(jc.c.contact_id, ids))
    return set(ctx.conn.execute(select(jc.c.contact_id).where(*mine, clause)).scalars().all())
