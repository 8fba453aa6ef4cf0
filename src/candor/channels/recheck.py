"""The gate at dispatch: decide again, in bulk, for a claimed batch of outbox rows.

One twin query per (purpose, channel, theme, kind) group decides every row for the address
it goes to; a withdrawal, block or objection committed before this check is honoured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.engine import RowMapping

from candor.core.errors import InvalidInput
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.decide import ALLOWED, Decision
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.twin import decisions, first_deliverable
from candor.store.sql import in_batch
from candor.store.tables import addresses, contacts

# The batch's contacts, bound per execution: the twin is built once per group (~8 ms).
_GROUP = select(contacts.c.id).where(contacts.c.id.in_(bindparam("gate_ids", expanding=True)))


def default_addresses(conn: Connection, rows: Iterable[RowMapping]) -> dict[tuple[int, str], int]:
    """Per (contact, channel) of the batch, the address decide() resolves: the first deliverable."""
    contact_ids = sorted({r["contact_id"] for r in rows})
    query = first_deliverable(None, in_batch(addresses.c.contact_id, contact_ids))
    return {(r.contact_id, r.channel): r.address_id for r in conn.execute(query)}


def gate_facts(purpose: PurposeFacts, kind: str) -> PurposeFacts:
    """The rule a kind of message obeys at dispatch.

    Marketing and service messages obey their purpose. A double opt-in confirmation is not
    advertising: blocks do not stop it, but erasure, restriction, an unusable address or a
    withdrawal do. A consent request obeys blocks and objections but needs no consent yet.
    """
    if kind == "confirmation":
        return replace(purpose, kind="service", legal_basis="contract")
    if kind == "consent_request":
        return replace(purpose, kind="marketing", legal_basis="legitimate_interest")
    if kind == "service":
        return purpose
    return purpose if purpose.kind == "marketing" else replace(purpose, kind="marketing")


def recheck(
    conn: Connection,
    rows: Sequence[RowMapping],
    targets: Mapping[tuple[int, str], int],
    at: datetime,
) -> dict[int, Decision]:
    """The gate at dispatch, in bulk: one twin query per (purpose, channel, theme, kind)."""
    groups: dict[tuple[str, str, str | None, str], list[RowMapping]] = defaultdict(list)
    for row in rows:
        groups[(row["purpose_id"], row["channel"], row["theme"], row["kind"])].append(row)
    purposes: dict[str, PurposeFacts] = {}
    out: dict[int, Decision] = {}
    dialect = conn.dialect.name
    for (purpose_id, channel, theme_id, kind), members in groups.items():
        if purpose_id not in purposes:
            purposes[purpose_id] = purpose_facts(conn, purpose_id)
        facts = gate_facts(purposes[purpose_id], kind)
        theme = _theme(conn, theme_id)
        usual = [
            r for r in members if r["address_id"] in (None, targets.get((r["contact_id"], channel)))
        ]
        if usual:
            wanted = sorted({r["contact_id"] for r in usual})
            found = decide_contacts(conn, facts, channel, theme, wanted, at)
            for row in usual:
                out[row["id"]] = found.get(row["contact_id"], Decision(False, "erased"))
        for row in members:  # an explicit, non-default address: decided for that address
            if row["id"] in out:
                continue
            target = select(contacts.c.id).where(contacts.c.id == row["contact_id"])
            query = decisions(
                facts, channel, theme, at, target, address_id=row["address_id"], dialect=dialect
            )
            found = _decided(conn, query)
            out[row["id"]] = found.get(row["contact_id"], Decision(False, "erased"))
    return out


def decide_contacts(
    conn: Connection,
    facts: PurposeFacts,
    channel: str | None,
    theme: ThemeRef | None,
    contact_ids: Sequence[int],
    at: datetime,
) -> dict[int, Decision]:
    """The twin's decision for each of these contacts (their resolved address on `channel`)."""
    query = decisions(facts, channel, theme, at, _GROUP, dialect=conn.dialect.name)
    return _decided(conn, query, {"gate_ids": sorted(contact_ids)})


def _decided(
    conn: Connection, query: Any, params: Mapping[str, Any] | None = None
) -> dict[int, Decision]:
    """The twin's rows by contact (a batch is small: no streaming, which would stick to conn)."""
    return {
        r.contact_id: Decision(r.reason == ALLOWED, r.reason, r.basis, r.event_id)
        for r in conn.execute(query, params)
    }


def _theme(conn: Connection, theme_id: str | None) -> ThemeRef | None:
    try:
        return theme_ref(conn, theme_id)
    except InvalidInput:  # a theme no longer declared still scopes blocks and consents
        return ThemeRef(theme_id) if theme_id else None
