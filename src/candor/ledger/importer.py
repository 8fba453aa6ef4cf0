"""Set-based CSV intake: validate in Python, write each batch with a few bulk statements.

Idempotent on external_id (rows already present are skipped), rejected rows are reported
with line, field and problem, and the valid rows are imported. Identifying data is
encrypted per contact before it reaches the database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from candor.errors import InvalidInput
from candor.ledger import audit
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.external_ids import external_index, seal_external
from candor.ledger.import_consents import write_consents
from candor.ledger.profile import attribute_types, coerce_value
from candor.ledger.registry import facts_from_row
from candor.ledger.vault import Vault
from candor.policy.facts import PurposeFacts
from candor.rights.suppression import SUPPRESSED_PROBLEM as SUPPRESSED
from candor.rights.suppression import drop_suppressed
from candor.store.sql import bulk_insert, in_batch, insert_returning_ids
from candor.store.tables import (
    addresses,
    contacts,
    purposes,
    themes,
)

ADDRESS_COLUMNS = {"email": "email", "phone": "sms", "whatsapp": "whatsapp"}
PLAIN_COLUMNS = {"external_id", "first_name", "last_name", "language", "timezone"}
EVIDENCE_COLUMNS = {
    "consent_source",
    "consent_at",
    "consent_ip",
    "consent_user_agent",
    "consent_confirmed_at",
}
CONSENT_VALUES = ("granted", "refused", "withdrawn")


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    problem: str


@dataclass
class ImportReport:
    imported: int = 0
    existing: int = 0
    rejected: int = 0
    consent_events: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class ConsentColumn:
    column: str
    purpose: PurposeFacts
    channel: str | None
    theme: str | None


@dataclass
class Plan:
    """What the header means: attribute types and consent columns."""

    attribute_types: dict[str, str]
    consent_columns: list[ConsentColumn]


@dataclass
class Candidate:
    line: int
    external_id: str
    external_index: str
    identity: dict[str, Any]
    attributes: dict[str, Any]
    language: str
    timezone: str
    addresses: list[tuple[str, str, str]]  # channel, normalised value, blind index
    consents: list[tuple[ConsentColumn, str]]
    evidence: dict[str, Any]
    consent_at: datetime | None
    confirmed_at: datetime | None
    source: str


def plan_header(conn: Connection, header: list[str]) -> Plan:
    """Check every column of the header; unknown columns are refused before any row."""
    types = attribute_types(conn)
    purpose_rows = {r["id"]: r for r in conn.execute(select(purposes)).mappings()}
    theme_scopes = {r.id for r in conn.execute(select(themes.c.id))} | {
        r.group_id for r in conn.execute(select(themes.c.group_id)) if r.group_id
    }
    consent_columns = []
    for name in header:
        if (
            name in PLAIN_COLUMNS
            or name in ADDRESS_COLUMNS
            or name in EVIDENCE_COLUMNS
            or name in types
        ):
            continue
        if not name.startswith("consent:"):
            raise InvalidInput(
                f"column {name!r}", "not a known column or declared attribute (data minimization)"
            )
        parts = name.split(":")
        if len(parts) > 4 or parts[1] not in purpose_rows:
            raise InvalidInput(
                f"column {name!r}",
                "expected consent:<purpose>[:<channel>[:<theme>]] with a known purpose",
            )
        channel = parts[2] if len(parts) > 2 and parts[2] else None
        theme = parts[3] if len(parts) > 3 and parts[3] else None
        if channel is not None and channel not in ("email", "sms", "whatsapp", "post"):
            raise InvalidInput(f"column {name!r}", f"unknown channel {channel!r}")
        if theme is not None and theme not in theme_scopes:
            raise InvalidInput(f"column {name!r}", f"unknown theme {theme!r}")
        consent_columns.append(
            ConsentColumn(name, facts_from_row(purpose_rows[parts[1]]), channel, theme)
        )
    if "external_id" not in header:
        raise InvalidInput("column 'external_id'", "is required (imports are idempotent on it)")
    return Plan({k: v for k, v in types.items() if k in header}, consent_columns)


def parse_row(plan: Plan, line: int, row: dict[str, str], vault: Vault, at: datetime) -> Candidate:
    """Validate one CSV row into a candidate, or InvalidInput naming the column."""
    external_id = (row.get("external_id") or "").strip()
    if not external_id:
        raise InvalidInput("external_id", "is required")
    found = []
    for column, channel in ADDRESS_COLUMNS.items():
        value = (row.get(column) or "").strip()
        if value:
            try:
                normalized = normalize(channel, value)
            except AddressError as exc:
                raise InvalidInput(column, str(exc)) from None
            found.append((channel, normalized, vault.blind_index(channel, normalized)))
    attrs = {}
    for name, kind in plan.attribute_types.items():
        value = (row.get(name) or "").strip()
        if value:
            attrs[name] = coerce_value(value, kind, name)
    consents = []
    for col in plan.consent_columns:
        value = (row.get(col.column) or "").strip().lower()
        if value:
            if value not in CONSENT_VALUES:
                raise InvalidInput(col.column, f"must be one of {', '.join(CONSENT_VALUES)}")
            consents.append((col, value))
    evidence = {
        k.removeprefix("consent_"): row[k]
        for k in ("consent_ip", "consent_user_agent")
        if row.get(k)
    }
    return Candidate(
        line=line,
        external_id=external_id,
        external_index=external_index(vault, external_id),
        identity={
            "first_name": row.get("first_name") or None,
            "last_name": row.get("last_name") or None,
        },
        attributes=attrs,
        language=(row.get("language") or "en").strip() or "en",
        timezone=(row.get("timezone") or "UTC").strip() or "UTC",
        addresses=found,
        consents=consents,
        evidence=evidence,
        consent_at=_time(row, "consent_at"),
        confirmed_at=_time(row, "consent_confirmed_at"),
        source=(row.get("consent_source") or "import").strip(),
    )


def _time(row: dict[str, str], column: str) -> datetime | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(column, "must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidInput(column, "must include a time zone offset (e.g. +00:00)")
    return moment


def import_csv(
    engine: Engine,
    vault: Vault,
    path: Path,
    *,
    actor: str,
    at: datetime,
    batch_size: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV file in batches; returns counts and the rejected rows."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        with engine.connect() as conn:
            plan = plan_header(conn, list(reader.fieldnames or []))
        return import_rows(
            engine,
            vault,
            plan,
            _numbered(reader),
            actor=actor,
            at=at,
            batch_size=batch_size,
            on_progress=on_progress,
        )


def _numbered(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for row in reader:
        yield reader.line_num, row


def import_rows(
    engine: Engine,
    vault: Vault,
    plan: Plan,
    rows: Iterable[tuple[int, dict[str, str]]],
    *,
    actor: str,
    at: datetime,
    batch_size: int = 2000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate and write rows batch by batch; memory stays flat however long the input."""
    report = ImportReport()
    batch: list[Candidate] = []
    seen: set[str] = set()
    for line, row in rows:
        try:
            candidate = parse_row(plan, line, row, vault, at)
        except InvalidInput as exc:
            _reject(report, line, exc.field, exc.problem)
            continue
        if candidate.external_id in seen:
            _reject(report, line, "external_id", "appears more than once in the file")
            continue
        seen.add(candidate.external_id)
        batch.append(candidate)
        if len(batch) >= batch_size:
            _write_batch(engine, vault, batch, report, actor, at)
            if on_progress:
                on_progress(len(batch))
            batch = []
    if batch:
        _write_batch(engine, vault, batch, report, actor, at)
        if on_progress:
            on_progress(len(batch))
    return report


def _reject(report: ImportReport, line: int, column: str, problem: str) -> None:
    report.rejected += 1
    report.rejections.append(Rejection(line, column, problem))


def _write_batch(
    engine: Engine,
    vault: Vault,
    batch: list[Candidate],
    report: ImportReport,
    actor: str,
    at: datetime,
) -> None:
    with engine.begin() as conn:
        fresh = _drop_existing(conn, batch, report)
        fresh = _drop_taken_addresses(conn, fresh, report)
        column = {channel: name for name, channel in ADDRESS_COLUMNS.items()}  # suppressed rows:
        fresh = drop_suppressed(
            conn, fresh, lambda c, ch: _reject(report, c.line, column[ch], SUPPRESSED)
        )
        if not fresh:
            return
        key_ids = vault.create_keys(len(fresh))
        contact_rows = [
            _contact_row(vault, key_id, c, at) for key_id, c in zip(key_ids, fresh, strict=True)
        ]
        ids = insert_returning_ids(conn, contacts, contact_rows)
        address_rows: list[dict[str, Any]] = []
        for contact_id, key_id, c in zip(ids, key_ids, fresh, strict=True):
            for channel, value, index in c.addresses:
                address_rows.append(
                    {
                        "contact_id": contact_id,
                        "channel": channel,
                        "blind_index": index,
                        "deliverable": True,
                        "value": vault.encrypt(key_id, f"address:{channel}", value.encode()),
                        "created_at": at,
                    }
                )
        bulk_insert(conn, addresses, address_rows)
        report.consent_events += write_consents(conn, vault, ids, key_ids, fresh, at)
        report.imported += len(fresh)
        audit.record(
            conn,
            actor=actor,
            action="contacts.import",
            object_type="import",
            object_id=ids[0],
            at=at,
            contacts=len(fresh),
            addresses=len(address_rows),
        )


def _drop_existing(
    conn: Connection, batch: list[Candidate], report: ImportReport
) -> list[Candidate]:
    wanted = [c.external_index for c in batch]
    present = set(
        conn.execute(
            select(contacts.c.external_index).where(in_batch(contacts.c.external_index, wanted))
        ).scalars()
    )
    report.existing += sum(1 for c in batch if c.external_index in present)
    return [c for c in batch if c.external_index not in present]


def _drop_taken_addresses(
    conn: Connection, batch: list[Candidate], report: ImportReport
) -> list[Candidate]:
    indexes = sorted({index for c in batch for _, _, index in c.addresses})
    if not indexes:
        return batch
    taken: set[tuple[str, str]] = set()
    for start in range(0, len(indexes), 1000):
        query = select(addresses.c.channel, addresses.c.blind_index).where(
            addresses.c.blind_index.in_(indexes[start : start + 1000])
        )
        taken.update((row.channel, row.blind_index) for row in conn.execute(query))
    kept: list[Candidate] = []
    claimed: set[tuple[str, str]] = set()
    for c in batch:
        clash = next(
            ((ch, i) for ch, _, i in c.addresses if (ch, i) in taken or (ch, i) in claimed), None
        )
        if clash is not None:
            column = next(k for k, v in ADDRESS_COLUMNS.items() if v == clash[0])
            _reject(report, c.line, column, "address already belongs to another contact")
            continue
        claimed.update((ch, i) for ch, _, i in c.addresses)
        kept.append(c)
    return kept


def _contact_row(vault: Vault, key_id: str, c: Candidate, at: datetime) -> dict[str, Any]:
    return {
        "external_index": c.external_index,
        "external_id": seal_external(vault, key_id, c.external_id),
        "key_id": key_id,
        "identity": vault.encrypt(key_id, "identity", json.dumps(c.identity).encode()),
        "attributes": c.attributes,
        "language": c.language,
        "timezone": c.timezone,
        "source": "import",
        "created_at": at,
        "updated_at": at,
    }
