"""The SQL twin of decide(): the same rule, set-based, for a whole target group at once.

`decisions()` builds one SELECT (contact_id, reason, basis, event_id) that can be streamed,
counted by reason, or used in INSERT ... SELECT to enrol a journey. Keep it in step with
policy.decide: tests/policy/test_twin_property.py proves they agree on random ledgers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    and_,
    case,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.util import ClauseAdapter

from candor.core.durations import subtract
from candor.policy.decide import ALLOWED, Decision
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.store.sql import in_batch
from candor.store.tables import addresses, block_lifts, blocks, consent_state, contacts

_BLOCK_RANK = {"all": 1, "channel": 2, "address": 3, "theme": 4}
_CONSENT_REASONS = ("refused", "withdrawn", "expired", "doi_pending", "reconsent_required")


# A batch of ids filling at least 1/DENSE_BATCH of its id range is walked along the range.
DENSE_BATCH = 8


def decisions(
    purpose: PurposeFacts,
    channel: str | None,
    theme: ThemeRef | None,
    at: datetime,
    target: Select[Any] | None = None,
    address_id: int | None = None,
    *,
    dialect: str,
    ids: Sequence[int] | None = None,
    carry: ColumnElement[Any] | None = None,
    among: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """One row per contact in the group (default: every contact) with its decision.

    The group is `target` (a SELECT of contact ids) or `ids` (a batch of them), not both.
    Columns: contact_id, reason, basis, event_id, address_id (the resolved address), and
    `carried`: the value of `carry` (an expression over contacts) for the contact, if given,
    so a launch takes the entrants' data along instead of reading contacts a second time.
    `among` (a condition over contacts) keeps only the contacts it holds for, checked on the
    contacts row itself: the other parts are read for everyone, as without a group, which at
    a million contacts beats narrowing each part to a broad group (the audience count).
    `dialect` is the database's (conn.dialect.name): the rule is the same, but each database
    finds a contact's newest consent row fastest its own way (see `_latest_covering`).
    """
    c = contacts.alias("c")
    within = _narrowing(target, ids, dialect)
    resolved = _resolved_addresses(channel, address_id, within)
    lookup = _address_lookup(channel, address_id)
    scopes = theme.scopes() if theme is not None else ()
    marketing = purpose.kind == "marketing"

    query = select(c.c.id.label("contact_id")).select_from(c).where(*within(c.c.id))
    if among is not None:
        query = query.where(ClauseAdapter(c).traverse(among))
    if resolved is not None:
        query = query.outerjoin(resolved, resolved.c.contact_id == c.c.id)
    block_rank = None
    if marketing:
        ranked = _block_ranks(channel, lookup, scopes, at, within)
        query = query.outerjoin(ranked, ranked.c.contact_id == c.c.id)
        block_rank = ranked.c.rank
    latest = _latest_covering(purpose.id, channel, lookup, scopes, at, within, dialect)
    query = query.outerjoin(latest, latest.c.contact_id == c.c.id)

    reason = _reason(
        purpose, c, resolved, block_rank, latest, at, channel is not None or address_id is not None
    ).label("reason")
    address = resolved.c.address_id if resolved is not None else null()
    query = query.add_columns(
        reason, latest.c.event_id.label("latest_event"), address.label("address_id")
    )
    if carry is not None:
        query = query.add_columns(ClauseAdapter(c).traverse(carry).label("carried"))
    inner = query.subquery("decided")
    is_allowed = inner.c.reason == ALLOWED
    # The ledger event that decided: the consent row, where a consent state was decisive.
    from_ledger = list(_CONSENT_REASONS) + ([ALLOWED] if purpose.legal_basis == "consent" else [])
    decided = select(
        inner.c.contact_id,
        inner.c.reason,
        case((is_allowed, literal(purpose.legal_basis, String)), else_=null()).label("basis"),
        case((inner.c.reason.in_(from_ledger), inner.c.latest_event), else_=null()).label(
            "event_id"
        ),
        # The address the decision resolved (where a message would go); NULL without a channel.
        inner.c.address_id,
    )
    return decided if carry is None else decided.add_columns(inner.c.carried)


Narrowing = Callable[[Any], list[ColumnElement[bool]]]


def _narrowing(target: Select[Any] | None, ids: Sequence[int] | None, dialect: str) -> Narrowing:
    """The conditions that keep each part of the query to the group (none: everyone).

    So a small batch never scans everyone. A SELECT (a target group) is read as itself by
    PostgreSQL, which then estimates it and joins it by hash (as a CTE it would take the
    group for 200 people and probe each part's index once per member); SQLite shares one
    CTE, its parameters bound once. A batch of ids on PostgreSQL is one array per part,
    which PostgreSQL probes directly (a semi-join on a CTE hashes it again for every part).
    The array comes with its range (BETWEEN the lowest and highest id): without it
    PostgreSQL costs 5,000 index probes above a scan of every address. When the batch fills
    most of its range (a journey's batches do), the range is the index condition and the
    array only a filter (`id + 0`, which no index answers): one walk along each index instead
    of three page reads per id and table.
    """
    if target is not None and ids is not None:
        raise ValueError("decisions() takes a target or ids, not both")
    if ids is not None:
        if dialect == "postgresql":
            low, high = min(ids, default=0), max(ids, default=0)
            if high - low < DENSE_BATCH * len(ids):
                return lambda column: [column.between(low, high), in_batch(column + 0, ids)]
            return lambda column: [column.between(low, high), in_batch(column, ids)]
        target = select(contacts.c.id).where(in_batch(contacts.c.id, ids))
    if target is None:
        return lambda column: []
    if dialect == "postgresql":
        return lambda column: [column.in_(target)]
    group = target.cte()
    members = select(group.c[0])
    return lambda column: [column.in_(members)]


def _unindexed(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`+column`: SQLite then seeks a contact's rows by the key's first columns only.

    With `scope_theme IN (3)` and `scope_channel IN (2)` it would seek six times per contact.
    """
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def _resolved_addresses(channel: str | None, address_id: int | None, within: Narrowing) -> Any:
    """Per contact, the deliverable address a message would go to (see decide.resolve_address).

    Joined once, to the contacts; blocks and consents ask `_address_lookup` instead, only
    for the rare rows scoped to one address, so 1M contacts are not joined three times.
    """
    a = addresses
    if address_id is not None:
        conditions = [a.c.id == address_id, a.c.deliverable.is_(True)]
        if channel is not None:
            conditions.append(a.c.channel == channel)
        return (
            select(a.c.contact_id, a.c.id.label("address_id"))
            .where(*conditions)
            .subquery("resolved")
        )
    if channel is None:
        return None
    return first_deliverable(channel, *within(a.c.contact_id)).subquery("resolved")


def first_deliverable(channel: str | None, *where: ColumnElement[bool]) -> Select[Any]:
    """Per contact (and channel) the address decide() resolves: its first deliverable one.

    The one statement of that rule for SQL; `where` narrows the contacts (a batch, a group).
    Columns: contact_id, channel, address_id.
    """
    a = addresses
    conditions = [a.c.deliverable.is_(True), *where]
    if channel is None:
        return (
            select(a.c.contact_id, a.c.channel, func.min(a.c.id).label("address_id"))
            .where(*conditions)
            .group_by(a.c.contact_id, a.c.channel)
        )
    # Grouped by contact alone, the rows are provably one per contact: PostgreSQL then merges
    # them into the contacts without buffering a million rows first.
    return (
        select(
            a.c.contact_id,
            literal(channel, String).label("channel"),
            func.min(a.c.id).label("address_id"),
        )
        .where(*conditions, a.c.channel == channel)
        .group_by(a.c.contact_id)
    )


AddressLookup = Callable[[Any], ColumnElement[Any]] | None


def _address_lookup(channel: str | None, address_id: int | None) -> AddressLookup:
    """Per row, the contact's resolved address as a correlated scalar subquery (None: no channel).

    The same rule as `_resolved_addresses`, asked only where a block or consent names an
    address (the OR short-circuits on the unscoped majority); an index lookup each time.
    """
    if address_id is None and channel is None:
        return None

    def lookup(contact_id: Any) -> ColumnElement[Any]:
        a = addresses.alias("scoped")
        conditions = [a.c.contact_id == contact_id, a.c.deliverable.is_(True)]
        if channel is not None:
            conditions.append(a.c.channel == channel)
        if address_id is not None:
            conditions.append(a.c.id == address_id)
        return select(func.min(a.c.id)).where(*conditions).scalar_subquery()

    return lookup


def _block_ranks(
    channel: str | None,
    lookup: AddressLookup,
    scopes: tuple[str, ...],
    at: datetime,
    within: Narrowing,
) -> Any:
    """Per contact, the rank of the first active block covering the request (1 = all)."""
    b, lift = blocks, block_lifts
    rank = case(*[(b.c.kind == kind, value) for kind, value in _BLOCK_RANK.items()], else_=9)
    address_match: ColumnElement[bool] = b.c.address_id.is_(None)
    query = select(b.c.contact_id, func.min(rank).label("rank")).select_from(b)
    query = query.outerjoin(lift, lift.c.block_id == b.c.id)
    if lookup is not None:
        address_match = or_(address_match, b.c.address_id == lookup(b.c.contact_id))
    channel_match = (
        b.c.channel.is_(None)
        if channel is None
        else or_(b.c.channel.is_(None), b.c.channel == channel)
    )
    theme_match = (
        b.c.theme.is_(None) if not scopes else or_(b.c.theme.is_(None), b.c.theme.in_(scopes))
    )
    return (
        query.where(
            b.c.created_at <= at,
            or_(lift.c.block_id.is_(None), lift.c.lifted_at > at),
            channel_match,
            address_match,
            theme_match,
            *within(b.c.contact_id),
        )
        .group_by(b.c.contact_id)
        .subquery("block_rank")
    )


def _latest_covering(
    purpose_id: str,
    channel: str | None,
    lookup: AddressLookup,
    scopes: tuple[str, ...],
    at: datetime,
    within: Narrowing,
    dialect: str,
) -> Any:
    """Per contact, the newest projection row covering the request (one row per contact).

    "Newest" is by (occurred_at, event_id). PostgreSQL keeps the first row of each contact
    in that order (DISTINCT ON, read along ix_consent_state_newest, provably one per contact
    so the join needs no buffer); SQLite keeps the row no covering row is later than (an
    anti-join: an index lookup per contact, where a window function made it scan).
    """
    row = consent_state.alias("row")
    columns = (row.c.event_id, row.c.status, row.c.occurred_at, row.c.purpose_version)
    covered = _covers(row, purpose_id, channel, lookup, scopes, at, dialect)
    if dialect == "postgresql":
        return (
            select(row.c.contact_id, *columns)
            .ext(distinct_on(row.c.contact_id))
            .where(*covered, *within(row.c.contact_id))
            .order_by(row.c.contact_id, row.c.occurred_at.desc(), row.c.event_id.desc())
            .subquery("latest")
        )
    # SQLite looks the rows up per contact of the group already; an IN on the group here
    # would re-read the group for every row (5,000 contacts took 2 minutes).
    newer = consent_state.alias("newer")
    later = or_(
        newer.c.occurred_at > row.c.occurred_at,
        and_(newer.c.occurred_at == row.c.occurred_at, newer.c.event_id > row.c.event_id),
    )
    superseded = select(literal(1)).where(
        newer.c.contact_id == row.c.contact_id,
        *_covers(newer, purpose_id, channel, lookup, scopes, at, dialect),
        later,
    )
    return (
        select(row.c.contact_id, *columns).where(*covered, ~superseded.exists()).subquery("latest")
    )


def _covers(
    s: Any,
    purpose_id: str,
    channel: str | None,
    lookup: AddressLookup,
    scopes: tuple[str, ...],
    at: datetime,
    dialect: str,
) -> list[ColumnElement[bool]]:
    """Conditions for a projection row whose scope covers the request (see decide)."""
    address_match: ColumnElement[bool] = s.c.scope_address == 0
    if lookup is not None:
        address_match = or_(address_match, s.c.scope_address == lookup(s.c.contact_id))
    channels = ("",) if channel is None else ("", channel)
    theme, channel_column = s.c.scope_theme, s.c.scope_channel
    if dialect == "sqlite":
        theme, channel_column = _unindexed(theme), _unindexed(channel_column)
    return [
        s.c.purpose_id == purpose_id,
        theme.in_(("", *scopes)),
        channel_column.in_(channels),
        address_match,
        s.c.occurred_at <= at,
    ]


def _reason(
    purpose: PurposeFacts,
    c: Any,
    resolved: Any,
    block_rank: Any,
    latest: Any,
    at: datetime,
    needs_address: bool,
) -> ColumnElement[str]:
    """The CASE that mirrors decide(): denial reasons in order, else "allowed".

    One CASE per row: the basis follows from the purpose, so nothing reads this one twice.
    """
    whens: list[tuple[ColumnElement[bool], Any]] = [
        (and_(c.c.erased_at.is_not(None), c.c.erased_at <= at), "erased"),
        (and_(c.c.restricted_at.is_not(None), c.c.restricted_at <= at), "restricted"),
    ]
    if purpose.kind == "marketing":
        whens.append((and_(c.c.objected_at.is_not(None), c.c.objected_at <= at), "objected"))
        whens += [(block_rank == rank, f"blocked:{kind}") for kind, rank in _BLOCK_RANK.items()]
    if needs_address:
        whens.append((resolved.c.address_id.is_(None), "undeliverable"))
    status = latest.c.status
    if purpose.legal_basis != "consent":
        whens.append((status.in_(("refused", "withdrawn")), status))
        return case(*whens, else_=literal(ALLOWED, String))
    whens += [
        (status.is_(None), "not_asked"),
        (status.in_(("refused", "withdrawn", "expired")), status),
        (status == "pending", "doi_pending"),
    ]
    if purpose.consent_valid_for is not None:
        cutoff = subtract(at, purpose.consent_valid_for)
        whens.append((latest.c.occurred_at < cutoff, "expired"))
    whens.append(
        (latest.c.purpose_version < literal(purpose.reconsent_floor, Integer), "reconsent_required")
    )
    return case(*whens, else_=literal(ALLOWED, String))


def decide_many(
    conn: Connection, query: Select[Any], batch: int = 10_000
) -> Iterator[tuple[int, Decision]]:
    """Stream the twin's rows as (contact_id, Decision) without loading them all."""
    # Per-statement options: the caller's connection keeps its own (executemany needs that).
    result = conn.execute(query, execution_options={"stream_results": True, "yield_per": batch})
    for row in result:
        yield row.contact_id, Decision(row.reason == ALLOWED, row.reason, row.basis, row.event_id)


def count_by_reason(conn: Connection, query: Select[Any]) -> dict[str, int]:
    """How many contacts of the group get each reason (simulate, Mission Control)."""
    # OFFSET 0 keeps the decisions a subquery of their own, so PostgreSQL, unable to guess
    # how many reasons the CASE yields, assumes few and hashes them instead of sorting 1M.
    sub = query.offset(0).subquery()
    rows = conn.execute(select(sub.c.reason, func.count()).group_by(sub.c.reason))
    return {reason: count for reason, count in rows}
