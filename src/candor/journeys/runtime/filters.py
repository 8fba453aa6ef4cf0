"""The journey filter grammar (all/any/not over {field, op, value}) compiled to SQL.

Targets compile over contacts.attributes, branch conditions over journey_contacts.data; the
accessor (text, number, integer, boolean) follows the attribute's declared type, or the
value's own type for data the journey gathered. Each atom is two-valued (a missing field
never matches), so `not` means what a marketer expects. A target's `{decision: ...}` atom
asks the SQL twin of decide() (policy.twin), the one set-based place that decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from candor.journeys.definition import (
    MAX_NESTING,
    AllOf,
    AnyOf,
    AudienceRef,
    Condition,
    DecisionCondition,
    DecisionTest,
    EventCondition,
    Filter,
    NotOf,
)
from candor.store.tables import contacts

EventClause = Callable[[EventCondition], ColumnElement[bool]]


@dataclass(frozen=True)
class Lookups:
    """What target conditions need from the database (journeys.runtime.target_lookups).

    `decided`: the ids of the contacts for whom the gate now gives the test's reason (the
    SQL twin); `audience`: a saved audience's filter by id (None: no such audience).
    """

    decided: Callable[[DecisionTest], Select[Any]]
    audience: Callable[[str], Filter | None]


def compile_filter(
    node: Filter | None,
    column: Any,
    types: Mapping[str, str],
    events: EventClause | None = None,
    lookups: Lookups | None = None,
    depth: int = 0,
) -> ColumnElement[bool]:
    """A boolean SQL expression for `node` over the JSON `column` (None: everyone).

    Decision and audience conditions need `lookups` and hold over contacts (targets only).
    """

    def sub(n: Filter) -> ColumnElement[bool]:
        return compile_filter(n, column, types, events, lookups, depth)

    if node is None:
        return true()
    if isinstance(node, AllOf):
        return and_(true(), *[sub(n) for n in node.all])
    if isinstance(node, AnyOf):
        return or_(false(), *[sub(n) for n in node.any])
    if isinstance(node, NotOf):
        return not_(sub(node.not_))
    if isinstance(node, EventCondition):
        if events is None:
            raise ValueError("event conditions only work in branch steps")
        return events(node)
    if isinstance(node, DecisionCondition | AudienceRef):
        return _looked_up(node, column, types, lookups, depth)
    assert isinstance(node, Condition)
    return func.coalesce(condition(node, column, types.get(node.field)), false())


def _looked_up(
    node: DecisionCondition | AudienceRef,
    column: Any,
    types: Mapping[str, str],
    lookups: Lookups | None,
    depth: int,
) -> ColumnElement[bool]:
    if lookups is None:
        raise ValueError("decision and audience conditions only work in targets")
    if isinstance(node, DecisionCondition):
        return contacts.c.id.in_(lookups.decided(node.decision))
    found = lookups.audience(node.audience)
    if found is None:
        raise ValueError(f"unknown audience {node.audience!r}")
    if depth >= MAX_NESTING:
        raise ValueError(f"audience {node.audience!r} nests audiences too deeply")
    return compile_filter(found, column, types, None, lookups, depth + 1)


def target_select(
    node: Filter | None, types: Mapping[str, str], lookups: Lookups | None = None
) -> Select[Any] | None:
    """The contact ids a journey target selects, for policy.twin.decisions(target=...)."""
    if node is None:
        return None
    clause = compile_filter(node, contacts.c.attributes, types, lookups=lookups)
    return select(contacts.c.id).where(clause)


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
