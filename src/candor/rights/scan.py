"""The verification scan of an erasure: every table searched for the person's identifiers.

Identifiers are the blind indexes of their addresses and the plaintext values read before
erasure (addresses, names, external id). Text columns are searched for them (substring for
one person, exact match for large batches), JSON columns for the quoted value; encrypted
columns hold ciphertext whose key is destroyed. The only expected hit is the suppression
entry. Results name tables, columns and counts, never the values searched for.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    Text,
    cast,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from candor.rights.registry import PLACES
from candor.store.schema import metadata

SUBSTRING_LIMIT = 200  # above this many values, plaintext is matched exactly (set-based)
MIN_LENGTH = 3  # shorter values would match everywhere and prove nothing
EXPECTED = {("suppression", "blind_index")}


@dataclass
class Identifiers:
    """What identifies the people erased, collected before their data goes."""

    contact_ids: list[int] = field(default_factory=list)
    blind_indexes: set[str] = field(default_factory=set)
    distinctive: set[str] = field(default_factory=set)  # addresses, external ids
    names: set[str] = field(default_factory=set)

    def plaintext(self) -> set[str]:
        return {v for v in self.distinctive | self.names if v and len(v) >= MIN_LENGTH}


def _conditions(
    column: Any, ids: Identifiers, exact: Any, substring: bool
) -> list[ColumnElement[bool]]:
    """How one column could hold the identifiers; `exact` is a SELECT of every value."""
    if isinstance(column.type, JSON):
        if not substring:
            return []
        text = cast(column, Text)
        return [text.contains(json.dumps(v), autoescape=True) for v in sorted(ids.plaintext())]
    out: list[ColumnElement[bool]] = [column.in_(exact)]
    if substring:
        distinctive = sorted(v for v in ids.distinctive if len(v) >= MIN_LENGTH)
        out += [column.contains(v, autoescape=True) for v in distinctive]
    return out


def _text_columns(table: Any) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def _values_table(conn: Connection, values: set[str]) -> Table:
    """A temporary table of the values searched for, so each column needs one sub-select."""
    table = Table(
        f"scan_values_{uuid.uuid4().hex[:8]}",
        MetaData(),
        Column("value", Text),
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    if values:
        conn.execute(insert(table), [{"value": v} for v in values])
    return table


def verification_scan(conn: Connection, ids: Identifiers) -> dict[str, Any]:
    """Search every table; `clean` is true when only the suppression entries match."""
    substring = len(ids.plaintext()) <= SUBSTRING_LIMIT
    values = _values_table(conn, ids.blind_indexes | ids.plaintext())
    exact = select(values.c.value)
    found: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    tables = columns = 0
    for table in metadata.sorted_tables:
        tables += 1
        per_column = {c.name: _conditions(c, ids, exact, substring) for c in _text_columns(table)}
        per_column = {name: conds for name, conds in per_column.items() if conds}
        columns += len(per_column)
        if not per_column:
            continue
        every = [cond for conds in per_column.values() for cond in conds]
        if not conn.execute(
            select(func.count()).select_from(table).where(or_(*every))
        ).scalar_one():
            continue
        for name, conds in per_column.items():  # something matched: say where
            hits = conn.execute(
                select(func.count()).select_from(table).where(or_(*conds))
            ).scalar_one()
            if hits:
                entry = {"table": table.name, "column": name, "matches": int(hits)}
                (expected if (table.name, name) in EXPECTED else found).append(entry)
    values.drop(conn)
    remaining = _remaining_rows(conn, ids.contact_ids)
    return {
        "method": "substring" if substring else "exact",
        "tables_scanned": tables,
        "columns_scanned": columns,
        "identifiers": {
            "blind_indexes": len(ids.blind_indexes),
            "plaintext_values": len(ids.plaintext()),
        },
        "expected": expected,
        "found": found,
        "remaining_rows": remaining,
        "clean": not found and not remaining,
    }


def _remaining_rows(conn: Connection, contact_ids: list[int]) -> list[dict[str, Any]]:
    """Rows of deleted-mode registry tables still naming the contacts (must be none)."""
    out = []
    for place in PLACES:
        if place.erase != "delete" or not contact_ids:
            continue
        count = 0
        for start in range(0, len(contact_ids), 5000):
            chunk = contact_ids[start : start + 5000]
            query = select(func.count()).select_from(place.table).where(place.owned_by(chunk))
            count += int(conn.execute(query).scalar_one())
        if count:
            out.append({"table": place.name, "rows": count})
    return out
