"""The journey filter grammar (all/any/not over {field, op, value}) compiled to SQL.

Targets compile over contacts.attributes, branch conditions over journey_contacts.data; the
accessor (text, number, integer, boolean) follows the attribute's declared type, or the
value's own type for data the journey gathered. Each atom is two-valued (a missing field
never matches), so `not` means what a marketer expects. A target's `{decision: ...}` atom
asks the SQL twin of decide() (policy.twin), the one set-based place that decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from candor.journeys.definition import (
    AllOf,
    AnyOf,
    Condition,
    DecisionCondition,
    EventCondition,
    Filter,
    NotOf,
)
from candor.ledger.registry import purpose_facts
from candor.policy.facts import ThemeRef
from candor.policy.twin import decisions
from candor.store.tables import contacts, themes

EventClause = Callable[[EventCondition], ColumnElement[bool]]
DecisionClause = Callable[[DecisionCondition], ColumnElement[bool]]


def compile_filter(
    node: Filter | None,
    column: Any,
    types: Mapping[str, str],
    events: EventClause | None = None,
    gate: DecisionClause | None = None,
) -> ColumnElement[bool]:
    """A boolean SQL expression for `node` over the JSON `column` (None: everyone)."""
    if node is None:
        return true()
    if isinstance(node, AllOf):
        return and_(true(), *[compile_filter(n, column, types, events, gate) for n in node.all])
    if isinstance(node, AnyOf):
        return or_(false(), *[compile_filter(n, column, types, events, gate) for n in node.any])
    if isinstance(node, NotOf):
        return not_(compile_filter(node.not_, column, types, events, gate))
    if isinstance(node, EventCondition):
        if events is None:
            raise ValueError("event conditions only work in branch steps")
        return events(node)
    if isinstance(node, DecisionCondition):
        if gate is None:
            raise ValueError("decision conditions only work in targets")
        return gate(node)
    assert isinstance(node, Condition)
    return func.coalesce(condition(node, column, types.get(node.field)), false())


def target_select(
    node: Filter | None, types: Mapping[str, str], gate: DecisionClause | None = None
) -> Select[Any] | None:
    """The contact ids a journey target selects, for policy.twin.decisions(target=...)."""
    if node is None:
        return None
    return select(contacts.c.id).where(
        compile_filter(node, contacts.c.attributes, types, gate=gate)
    )


def gate_clause(conn: Connection, at: datetime) -> DecisionClause:
    """`{decision: {purpose, reason, channel, theme}}` as `contacts.id IN (the twin's people
    with that reason at `at`)`: the same rule every send obeys, for the whole group at once."""

    def clause(node: DecisionCondition) -> ColumnElement[bool]:
        q = node.decision
        facts = purpose_facts(conn, q.purpose, "decision.purpose")
        theme = _theme(conn, q.theme)
        decided = decisions(facts, q.channel, theme, at, dialect=conn.dialect.name).subquery()
        return contacts.c.id.in_(select(decided.c.contact_id).where(decided.c.reason == q.reason))

    return clause


def _theme(conn: Connection, name: str | None) -> ThemeRef | None:
    """A theme with its group, or a group name as a scope of its own."""
    if name is None:
        return None
    group = conn.execute(select(themes.c.group_id).where(themes.c.id == name)).first()
    return ThemeRef(name, group.group_id if group is not None else None)


def condition(cond: Condition, column: Any, kind: str | None) -> ColumnElement[bool]:
    """One `{field, op, value}` atom (may be NULL for a missing field; callers coalesce)."""
    kind = kind or _kind_of(cond.value)
    if cond.op == "exists":
        present = column[cond.field].as_string().is_not(None)
        return not_(present) if cond.value is False else present
    access = _accessor(column, cond.field, kind)
    if cond.op == "in":
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        return access.in_([_typed(v, kind) for v in values])
    if cond.op == "between":
        low, high = cond.value if isinstance(cond.value, list) else (cond.value, cond.value)
        return access.between(_typed(low, kind), _typed(high, kind))
    value = _typed(cond.value, kind)
    ops: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
        "eq": lambda a, v: a == v,
        "ne": lambda a, v: a != v,
        "lt": lambda a, v: a < v,
        "le": lambda a, v: a <= v,
        "gt": lambda a, v: a > v,
        "ge": lambda a, v: a >= v,
    }
    return ops[cond.op](access, value)


def _accessor(column: Any, name: str, kind: str) -> Any:
    element = column[name]
    if kind == "number":
        return element.as_float()
    if kind == "integer":
        return element.as_integer()
    if kind == "boolean":
        return element.as_boolean()
    return element.as_string()


def _kind_of(value: Any) -> str:
    """The accessor for gathered data without a declared type: from the compared value."""
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return "boolean"
    if isinstance(sample, int | float):
        return "number"
    if isinstance(sample, datetime | date):
        return "date"
    return "string"


def _typed(value: Any, kind: str) -> Any:
    """The Python value to bind, in the accessor's type (dates as ISO text, as stored)."""
    if kind == "number":
        return float(value)
    if kind == "integer":
        return int(value)
    if kind == "boolean":
        return bool(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if kind == "date" else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
