"""Profile attributes typed against the registry: undeclared fields are refused at intake."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from candor.core.errors import InvalidInput
from candor.store.tables import attributes


def attribute_types(conn: Connection) -> dict[str, str]:
    """Declared attribute name -> type."""
    return {
        row.name: row.type for row in conn.execute(select(attributes.c.name, attributes.c.type))
    }


def coerce_attributes(
    values: dict[str, Any], types: dict[str, str], path: str = "attributes"
) -> dict[str, Any]:
    """Check each value against its declared type; JSON-ready output (dates as ISO text)."""
    if not isinstance(values, dict):
        raise InvalidInput(path, "must be an object of declared attributes")
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            raise InvalidInput(f"{path}.{name}", "not a declared attribute (data minimization)")
        out[name] = None if value is None else coerce_value(value, types[name], f"{path}.{name}")
    return out


def coerce_value(value: Any, kind: str, path: str) -> Any:
    """One value of a declared type, or InvalidInput naming the path."""
    try:
        return _COERCE[kind](value)
    except (ValueError, TypeError):
        raise InvalidInput(path, f"must be a {kind}") from None


def _string(value: Any) -> str:
    if isinstance(value, bool | dict | list):
        raise TypeError
    return str(value)


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    result = float(value)
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError
    return result


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float) and not value.is_integer():
        raise ValueError
    return int(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError


def _date(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()


_COERCE = {
    "string": _string,
    "number": _number,
    "integer": _integer,
    "boolean": _boolean,
    "date": _date,
}
