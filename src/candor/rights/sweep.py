"""The substring sweep: free text searched for the identifiers of a period's erasures at once.

Each erasure seals what it searched for (scan.Identifiers) under a key of its own in
erasure_sweeps; its certificate says the sweep is pending. A sweep takes every pending
erasure, reads every text and JSON column of every table once, matching each value against
all their identifiers with one Aho-Corasick automaton (the pass costs the database's size,
not the number of erasures), appends each certificate's result, deletes the pending rows
and destroys their keys. `candor erasures sweep` runs one now; the worker runs one when the
oldest pending erasure is SWEEP_AFTER old, so every certificate has its result within a day.

What is matched, per person: in text columns an address or external id anywhere in the
value, a name or blind index as the whole value; in JSON columns any of them as a quoted
JSON string. The blind indexes in suppression are the expected hits.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ahocorasick
from sqlalchemy import (
    JSON,
    Connection,
    String,
    Table,
    Text,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy import update as sql_update

from candor.core.context import Candor
from candor.ledger import audit
from candor.rights.scan import MIN_LENGTH, Hit, Identifiers
from candor.store.engine import reading
from candor.store.rights_tables import erasure_certificates, erasure_sweeps
from candor.store.schema import metadata
from candor.store.sql import bulk_insert, in_batch
from candor.store.vault import Vault

SWEEP_AFTER = timedelta(hours=12)  # the oldest pending erasure's age that starts a sweep
CLAIM_LEASE = timedelta(hours=6)  # a claimed sweep not finished by then is taken again
ROWS_PER_FETCH = 5000
FIELD = "erasure sweep"
SKIPPED = {"erasure_sweeps"}  # sealed identifiers (binary) waiting for this very sweep

Owners = frozenset[int]  # the certificates whose identifiers a pattern is


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did: erasures swept, rows and columns read, certificates with hits."""

    erasures: int
    tables: int
    columns: int
    rows: int
    not_clean: int


@dataclass
class _Patterns:
    """Every pending erasure's identifiers, each mapped to the certificates it belongs to."""

    inside_text: dict[str, set[int]]  # addresses, external ids: anywhere in a text value
    whole_text: dict[str, set[int]]  # names, blind indexes: the whole text value
    in_json: dict[str, set[int]]  # all of them, as a quoted JSON string

    @classmethod
    def of(cls, people: dict[int, Identifiers]) -> _Patterns:
        inside, whole, quoted = defaultdict(set), defaultdict(set), defaultdict(set)
        for certificate, ids in people.items():
            for value in ids.distinctive:
                if len(value) >= MIN_LENGTH:
                    inside[value].add(certificate)
            for value in ids.names | ids.blind_indexes:
                if len(value) >= MIN_LENGTH:
                    whole[value].add(certificate)
            for value in ids.plaintext() | ids.blind_indexes:
                quoted[json.dumps(value)].add(certificate)
        return cls(dict(inside), dict(whole), dict(quoted))


def seal_pending(
    conn: Connection, vault: Vault, people: dict[int, Identifiers], at: datetime
) -> None:
    """Queue the certificates' erasures for the sweep, their identifiers sealed under a new key."""
    if not people:
        return
    (key_id,) = vault.create_keys(1)
    rows = [
        {
            "certificate_id": certificate,
            "key_id": key_id,
            "identifiers": vault.encrypt(key_id, FIELD, ids.dump()),
            "erased_at": at,
        }
        for certificate, ids in people.items()
    ]
    bulk_insert(conn, erasure_sweeps, rows)


def verification(checks: dict[str, Any], batch: int, at: datetime) -> dict[str, Any]:
    """A new certificate's verification: the index checks done, the substring sweep pending.

    `clean`: nothing found by the checks done so far; `pending`: the checks still to come.
    """
    return {
        "clean": checks["clean"],
        "complete": False,
        "pending": ["substring_sweep"],
        "batch_size": batch,
        "index_checks": checks,
        "substring_sweep": {"status": "pending", "due_by": (at + timedelta(days=1)).isoformat()},
    }


def with_sweep(scan: dict[str, Any], sweep: dict[str, Any] | None) -> dict[str, Any]:
    """A stored certificate's verification with the sweep's result appended, once there."""
    if sweep is None:
        return scan
    return {
        **scan,
        "clean": scan["clean"] and sweep["clean"],
        "complete": True,
        "pending": [p for p in scan.get("pending", []) if p != "substring_sweep"],
        "substring_sweep": sweep,
    }


def sweep_due(cx: Candor) -> SweepReport | None:
    """The worker's duty: sweep when the oldest unclaimed erasure is SWEEP_AFTER old."""
    now = cx.clock.now()
    with reading(cx.engine) as conn:
        oldest = conn.execute(
            select(func.min(erasure_sweeps.c.erased_at)).where(_claimable(now))
        ).scalar_one()
    if oldest is None or now - oldest < SWEEP_AFTER:
        return None
    return sweep_pending(cx, actor="worker")


def sweep_pending(cx: Candor, *, actor: str) -> SweepReport:
    """Sweep for every pending erasure now, append the results, shred what was searched for."""
    now = cx.clock.now()
    claimed = _claim(cx, now)
    if not claimed:
        return SweepReport(0, 0, 0, 0, 0)
    people = _unseal(cx.vault, claimed)
    patterns = _Patterns.of(people)
    hits: dict[int, Counter[tuple[str, str]]] = {c: Counter() for c in people}
    tables = columns = rows = 0
    with reading(cx.engine) as conn:
        for table in metadata.sorted_tables:
            texts = _text_columns(table)
            if table.name in SKIPPED or not texts:
                continue
            tables += 1
            columns += len(texts)
            rows += _sweep_table(conn, table, texts, patterns, hits)
    results = {c: _result(hits[c], now, len(people), tables, columns) for c in people}
    with cx.engine.begin() as conn:
        _store(conn, results, now)
        audit.record(
            conn,
            actor=actor,
            action="erasures.sweep",
            object_type="erasure_sweep",
            object_id=min(people),
            at=now,
            erasures=len(people),
            not_clean=sum(1 for r in results.values() if not r["clean"]),
        )
    cx.vault.destroy({key for key, _ in claimed.values()})
    not_clean = sum(1 for r in results.values() if not r["clean"])
    return SweepReport(len(people), tables, columns, rows, not_clean)


def _claimable(now: datetime) -> Any:
    claimed = erasure_sweeps.c.claimed_at
    return or_(claimed.is_(None), claimed < now - CLAIM_LEASE)


def _claim(cx: Candor, now: datetime) -> dict[int, tuple[str, bytes]]:
    """Take every pending erasure no live sweep holds (certificate -> key id, sealed)."""
    es = erasure_sweeps
    with cx.engine.begin() as conn:
        rows = conn.execute(
            sql_update(es)
            .where(_claimable(now))
            .values(claimed_at=now)
            .returning(es.c.certificate_id, es.c.key_id, es.c.identifiers)
        ).all()
    return {int(r.certificate_id): (r.key_id, r.identifiers) for r in rows}


def _unseal(vault: Vault, claimed: dict[int, tuple[str, bytes]]) -> dict[int, Identifiers]:
    vault.load(key for key, _ in claimed.values())
    people = {}
    for certificate, (key_id, sealed) in claimed.items():
        raw = vault.decrypt(key_id, FIELD, sealed)
        people[certificate] = Identifiers.load(raw) if raw else Identifiers()
    return people


def _text_columns(table: Table) -> list[Any]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def _automaton(patterns: dict[str, set[int]]) -> Any:
    """One automaton over all patterns (None when there are none)."""
    if not patterns:
        return None
    automaton = ahocorasick.Automaton()
    for value, owners in patterns.items():
        automaton.add_word(value, frozenset(owners))
    automaton.make_automaton()
    return automaton


def _sweep_table(
    conn: Connection,
    table: Table,
    columns: list[Any],
    patterns: _Patterns,
    hits: dict[int, Counter[tuple[str, str]]],
) -> int:
    """Read the table's text once; count each certificate's matching rows per column."""
    inside, quoted = _automaton(patterns.inside_text), _automaton(patterns.in_json)
    matchers = [
        _json_matcher(quoted) if isinstance(c.type, JSON) else _text_matcher(inside, patterns)
        for c in columns
    ]
    rows = 0
    for row in _rows(conn, table, columns):
        rows += 1
        for column, value, match in zip(columns, row, matchers, strict=True):
            if value is None:
                continue
            for certificate in match(value):
                hits[certificate][(table.name, column.name)] += 1
    return rows


def _rows(conn: Connection, table: Table, columns: list[Any]) -> Iterator[Any]:
    """The columns of every row, JSON as its stored text, streamed in chunks."""
    selected = [cast(c, Text) if isinstance(c.type, JSON) else c for c in columns]
    result = conn.execution_options(yield_per=ROWS_PER_FETCH).execute(select(*selected))
    yield from result


def _text_matcher(inside: Any, patterns: _Patterns) -> Any:
    whole = patterns.whole_text

    def match(value: str) -> set[int]:
        owners: set[int] = set(whole.get(value, ()))
        if inside is not None:
            for _, found in inside.iter(value):
                owners |= found
        return owners

    return match


def _json_matcher(quoted: Any) -> Any:
    def match(value: str) -> set[int]:
        owners: set[int] = set()
        if quoted is not None:
            for _, found in quoted.iter(value):
                owners |= found
        return owners

    return match


def _result(
    found: Counter[tuple[str, str]], at: datetime, erasures: int, tables: int, columns: int
) -> dict[str, Any]:
    hits = [Hit(t, c, n) for (t, c), n in sorted(found.items())]
    unexpected = [h.__dict__ for h in hits if not h.expected]
    return {
        "status": "done",
        "swept_at": at.isoformat(),
        "erasures_in_sweep": erasures,
        "tables_scanned": tables,
        "columns_scanned": columns,
        "expected": [h.__dict__ for h in hits if h.expected],
        "found": unexpected,
        "clean": not unexpected,
    }


def _store(conn: Connection, results: dict[int, dict[str, Any]], at: datetime) -> None:
    """Append the results to the certificates; the pending rows go (their keys next)."""
    ec = erasure_certificates
    conn.execute(
        sql_update(ec)
        .where(ec.c.id == bindparam("certificate"))
        .values(swept_at=at, sweep=bindparam("result")),
        [{"certificate": c, "result": r} for c, r in results.items()],
    )
    ids = list(results)
    conn.execute(delete(erasure_sweeps).where(in_batch(erasure_sweeps.c.certificate_id, ids)))
