"""The verification scan of an erasure: every table searched for the person's identifiers.

Identifiers are the blind indexes of their addresses and the plaintext values read before
erasure (addresses, names, external id). Text columns are searched for them (substring for
one person, exact match for large batches), JSON columns for the quoted value; encrypted
columns hold ciphertext whose key is destroyed. The only expected hit is the suppression
entry. Results name tables, columns and counts, never the values searched for.

One statement probes every table (its text columns joined, so each value is matched once a
row, not once a column); only tables with a hit are then counted column by column. Statements
depend on the number of values, not the values (bound), so they are built once and cached.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.elements import ColumnElement

from candor.rights.data_map import PLACES
from candor.store.schema import metadata

SUBSTRING_LIMIT = 200  # above this many values, plaintext is matched exactly (set-based)
MIN_LENGTH = 3  # shorter values would match everywhere and prove nothing
EXPECTED = {("suppression", "blind_index")}
ESCAPE = "/"
SEPARATOR = "\x1f"  # between joined columns: a match across two only costs a recount
PARAMS_PER_STATEMENT = 20_000  # contact ids bound in one remaining-rows statement

# The values searched for: a temporary table created and dropped by each scan.
VALUES = Table(
    "candor_scan_values",
    MetaData(),
    Column("value", Text, primary_key=True),
    prefixes=["TEMPORARY"],
)


@dataclass
class Identifiers:
    """What identifies the people erased, collected before their data goes."""

    contact_ids: list[int] = field(default_factory=list)
    blind_indexes: set[str] = field(default_factory=set)
    distinctive: set[str] = field(default_factory=set)  # addresses, external ids
    names: set[str] = field(default_factory=set)

    def plaintext(self) -> set[str]:
        return {v for v in self.distinctive | self.names if v and len(v) >= MIN_LENGTH}


@dataclass(frozen=True)
class Shape:
    """What a scan's statements depend on: how many values of each kind, and the method."""

    distinctive: int  # LIKE patterns :d0.. for text columns
    plain: int  # LIKE patterns :j0.. for JSON columns (the quoted value)
    substring: bool


def _contains(value: str) -> str:
    """A LIKE pattern matching `value` anywhere (as contains(..., autoescape=True) builds)."""
    for char in (ESCAPE, "%", "_"):
        value = value.replace(char, ESCAPE + char)
    return f"%{value}%"


def _likes(expression: Any, prefix: str, count: int) -> list[ColumnElement[bool]]:
    return [expression.like(bindparam(f"{prefix}{i}"), escape=ESCAPE) for i in range(count)]


def _text_columns(table: Any) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def _conditions(column: Any, shape: Shape) -> list[ColumnElement[bool]]:
    """How one column could hold the identifiers."""
    if isinstance(column.type, JSON):
        return _likes(cast(column, Text), "j", shape.plain) if shape.substring else []
    out: list[ColumnElement[bool]] = [column.in_(select(VALUES.c.value))]
    return out + (_likes(column, "d", shape.distinctive) if shape.substring else [])


def _joined(columns: list[Any]) -> Any:
    """The columns as one text (NULL as empty), so a pattern is matched once per row."""
    out: Any = None
    for column in columns:
        text = func.coalesce(cast(column, Text) if isinstance(column.type, JSON) else column, "")
        out = text if out is None else out + literal(SEPARATOR) + text
    return out


def _probe(table: Table, shape: Shape) -> ColumnElement[bool] | None:
    """True for a row where some column could match: a superset of the per-column test."""
    texts = [c for c in _text_columns(table) if not isinstance(c.type, JSON)]
    jsons = [c for c in _text_columns(table) if isinstance(c.type, JSON)]
    conds: list[ColumnElement[bool]] = [c.in_(select(VALUES.c.value)) for c in texts]
    if shape.substring and texts and shape.distinctive:
        conds += _likes(_joined(texts), "d", shape.distinctive)
    if shape.substring and jsons and shape.plain:
        conds += _likes(_joined(jsons), "j", shape.plain)
    return or_(*conds) if conds else None


@lru_cache(maxsize=16)
def _plan(shape: Shape) -> tuple[Any, int]:
    """One statement: (table number, matching rows) for every table; and columns scanned."""
    parts: list[Any] = []
    columns = 0
    for number, table in enumerate(metadata.sorted_tables):
        columns += sum(1 for c in _text_columns(table) if _conditions(c, shape))
        probe = _probe(table, shape)
        if probe is not None:
            parts.append(select(literal(number), func.count()).select_from(table).where(probe))
    return (union_all(*parts) if parts else None), columns


@lru_cache(maxsize=64)
def _recount(table: Table, shape: Shape) -> tuple[list[str], Any]:
    """Matches per column of one table (only run where the probe found something)."""
    per_column = {c.name: _conditions(c, shape) for c in _text_columns(table)}
    names = [name for name, conds in per_column.items() if conds]
    counts = [func.count().filter(or_(*per_column[name])) for name in names]
    return names, select(*counts).select_from(table)


def _parameters(ids: Identifiers, shape: Shape) -> dict[str, str]:
    if not shape.substring:
        return {}
    distinctive = sorted(v for v in ids.distinctive if len(v) >= MIN_LENGTH)
    params = {f"d{i}": _contains(v) for i, v in enumerate(distinctive)}
    params.update(
        {f"j{i}": _contains(json.dumps(v)) for i, v in enumerate(sorted(ids.plaintext()))}
    )
    return params


def verification_scan(conn: Connection, ids: Identifiers) -> dict[str, Any]:
    """Search every table; `clean` is true when only the suppression entries match."""
    plaintext = ids.plaintext()
    substring = len(plaintext) <= SUBSTRING_LIMIT
    distinctive = sum(1 for v in ids.distinctive if len(v) >= MIN_LENGTH)
    shape = Shape(distinctive, len(plaintext), substring)
    conn.execute(CreateTable(VALUES, if_not_exists=True))
    conn.execute(delete(VALUES))  # left by a scan that failed earlier in this transaction
    values = ids.blind_indexes | plaintext
    if values:
        conn.execute(insert(VALUES), [{"value": v} for v in values])
    statement, columns = _plan(shape)
    params = _parameters(ids, shape)
    hits: dict[int, int] = {}
    if statement is not None:
        hits = {int(n): int(c) for n, c in conn.execute(statement, params)}
    found: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    tables = metadata.sorted_tables
    for number in sorted(n for n, count in hits.items() if count):
        names, recount = _recount(tables[number], shape)
        for name, count in zip(names, conn.execute(recount, params).one(), strict=True):
            if count:  # something matched: say where
                entry = {"table": tables[number].name, "column": name, "matches": int(count)}
                (expected if (entry["table"], name) in EXPECTED else found).append(entry)
    VALUES.drop(conn)
    remaining = _remaining_rows(conn, ids.contact_ids)
    return {
        "method": "substring" if substring else "exact",
        "tables_scanned": len(tables),
        "columns_scanned": columns,
        "identifiers": {
            "blind_indexes": len(ids.blind_indexes),
            "plaintext_values": len(plaintext),
        },
        "expected": expected,
        "found": found,
        "remaining_rows": remaining,
        "clean": not found and not remaining,
    }


def _remaining_rows(conn: Connection, contact_ids: list[int]) -> list[dict[str, Any]]:
    """Rows of deleted-mode registry tables still naming the contacts (must be none)."""
    places = [p for p in PLACES if p.erase == "delete"]
    if not places or not contact_ids:
        return []
    counts = [0] * len(places)
    step = max(1, PARAMS_PER_STATEMENT // len(places))
    for start in range(0, len(contact_ids), step):
        chunk = contact_ids[start : start + step]
        query = select(
            *[
                select(func.count()).select_from(p.table).where(p.owned_by(chunk)).scalar_subquery()
                for p in places
            ]
        )
        counts = [a + int(b) for a, b in zip(counts, conn.execute(query).one(), strict=True)]
    return [{"table": p.name, "rows": n} for p, n in zip(places, counts, strict=True) if n]
