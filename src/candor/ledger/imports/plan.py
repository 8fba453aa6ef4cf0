"""CSV intake, first half: what the header means and each row validated into a candidate.

Pure Python apart from reading the registry for the header: rows are checked without the
database, so this work can run ahead of the writes (see importer.import_rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from candor.core.errors import InvalidInput
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.external_ids import external_index
from candor.ledger.profile import attribute_types, coerce_value
from candor.ledger.registry import facts_from_row
from candor.policy.facts import PurposeFacts
from candor.store.tables import purposes, themes
from candor.store.vault import Vault

if TYPE_CHECKING:
    from candor.ledger.imports.seal import Sealed

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

    def reject(self, line: int, column: str, problem: str) -> None:
        """Count a rejected row and keep its line, column and problem for the report."""
        self.rejected += 1
        self.rejections.append(Rejection(line, column, problem))


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
    sealed: Sealed | None = None  # encrypted ahead (imports.seal), else when written


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
