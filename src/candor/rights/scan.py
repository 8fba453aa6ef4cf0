"""An erasure's checks that indexes answer, run inside its transaction: a flat cost per person.

References: no row of a deleted-mode registry table still names the people (each table is
looked up along its contact index). Indexed values: no text column that leads an index
holds one of their identifiers exactly (blind indexes of addresses and external id, the
plaintext read before erasure); the suppression entries are the expected hits. Free text
(a value inside a longer text, in any column) is searched later by the substring sweep
(rights.sweep), for every erasure of a period in one pass. Results name tables, columns and
counts, never the values searched for.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    any_,
    bindparam,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from candor.rights.data_map import PLACES
from candor.store.schema import metadata

MIN_LENGTH = 3  # shorter values would match everywhere and prove nothing
EXPECTED = {("suppression", "blind_index")}
PARAMS_PER_STATEMENT = 20_000  # contact ids (or values) bound in one statement


@dataclass
class Identifiers:
    """What identifies the people erased, collected before their data goes."""

    contact_ids: list[int] = field(default_factory=list)
    blind_indexes: set[str] = field(default_factory=set)
    distinctive: set[str] = field(default_factory=set)  # addresses, external ids
    names: set[str] = field(default_factory=set)

    def plaintext(self) -> set[str]:
        return {v for v in self.distinctive | self.names if v and len(v) >= MIN_LENGTH}

    def add(self, other: Identifiers) -> None:
        """Take another person's identifiers in (a batch searches for all of them)."""
        self.contact_ids += other.contact_ids
        self.blind_indexes |= other.blind_indexes
        self.distinctive |= other.distinctive
        self.names |= other.names

    def dump(self) -> bytes:
        """JSON (sorted), to be sealed until the sweep."""
        return json.dumps(
            {
                "contact_ids": self.contact_ids,
                "blind_indexes": sorted(self.blind_indexes),
                "distinctive": sorted(self.distinctive),
                "names": sorted(self.names),
            }
        ).encode()

    @classmethod
    def load(cls, raw: bytes) -> Identifiers:
        data = json.loads(raw)
        return cls(
            contact_ids=list(data["contact_ids"]),
            blind_indexes=set(data["blind_indexes"]),
            distinctive=set(data["distinctive"]),
            names=set(data["names"]),
        )


@dataclass(frozen=True)
class Hit:
    """Where identifiers were found: a table's column and how many rows."""

    table: str
    column: str
    matches: int

    @property
    def expected(self) -> bool:
        return (self.table, self.column) in EXPECTED


@lru_cache(maxsize=1)
def indexed_columns() -> tuple[tuple[Table, Column[Any]], ...]:
    """Every text column that leads an index, a unique constraint or a primary key."""
    out = []
    for table in metadata.sorted_tables:
        leading: set[str] = set()
        for index in table.indexes:
            first = next(iter(index.expressions), None)
            if isinstance(first, Column):
                leading.add(first.name)
        for constraint in table.constraints:
            if isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint):
                columns = list(constraint.columns)
                if columns:
                    leading.add(columns[0].name)
        out += [
            (table, table.c[name])
            for name in sorted(leading)
            if isinstance(table.c[name].type, String | Text)
        ]
    return tuple(out)


def index_checks(conn: Connection, ids: Identifiers) -> dict[str, Any]:
    """References and exact values along indexes; `clean` when only suppression matches."""
    values = sorted(ids.blind_indexes | ids.plaintext())
    hits = _indexed_hits(conn, values)
    remaining = remaining_rows(conn, ids.contact_ids)
    found = [asdict(h) for h in hits if not h.expected]
    return {
        "status": "done",
        "references": {
            "tables_checked": sum(1 for p in PLACES if p.erase == "delete"),
            "remaining_rows": remaining,
        },
        "indexed_values": {
            "columns_checked": len(indexed_columns()),
            "identifiers": {
                "blind_indexes": len(ids.blind_indexes),
                "plaintext_values": len(ids.plaintext()),
            },
            "expected": [asdict(h) for h in hits if h.expected],
            "found": found,
        },
        "clean": not found and not remaining,
    }


@lru_cache(maxsize=2)
def _probe(dialect: str) -> Any:
    """One statement: matches per indexed column, the values bound once as `values`."""
    postgres = dialect == "postgresql"
    values = bindparam("values", type_=ARRAY(Text) if postgres else Text, expanding=not postgres)
    parts = [
        select(literal(number), func.count())
        .select_from(table)
        .where(column == any_(values) if postgres else column.in_(values))
        for number, (table, column) in enumerate(indexed_columns())
    ]
    return union_all(*parts)


def _indexed_hits(conn: Connection, values: list[str]) -> list[Hit]:
    """Exact matches of the values in every indexed text column (index probes only)."""
    columns = indexed_columns()
    counts = [0] * len(columns)
    statement = _probe(conn.dialect.name)
    for start in range(0, len(values), PARAMS_PER_STATEMENT):
        chunk = values[start : start + PARAMS_PER_STATEMENT]
        for number, count in conn.execute(statement, {"values": chunk}):
            counts[int(number)] += int(count)
    return [
        Hit(table.name, column.name, n)
        for (table, column), n in zip(columns, counts, strict=True)
        if n
    ]


def remaining_rows(conn: Connection, contact_ids: list[int]) -> list[dict[str, Any]]:
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
