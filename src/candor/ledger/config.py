"""Configuration as code: `candor config apply candor.yaml` declares the registry at once.

Attributes, themes, purposes (versioned by wording) and retention rules are validated in
full, then applied in one transaction: an error names the file, the key path and the
problem, and nothing is applied.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, insert, select, update

from candor.core.durations import parse_duration
from candor.ledger import audit
from candor.ledger.connector_settings import settings_problems
from candor.ledger.custom_events import EventSpec, event_problems
from candor.ledger.form_specs import FormSpec, form_problems, form_template_problems
from candor.ledger.spec_base import IDENT
from candor.store.tables import attributes, purpose_versions, purposes, retention_rules, settings
from candor.store.tables import themes as themes_table


class ConfigError(Exception):
    """One or more problems in a configuration file, each with its key path."""

    def __init__(self, filename: str, problems: list[tuple[str, str]]) -> None:
        self.filename = filename
        self.problems = problems
        lines = [f"{filename}: {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AttributeSpec(Strict):
    type: Literal["string", "number", "integer", "boolean", "date"]
    category: str = Field(pattern=IDENT)
    description: str = ""


class ThemeSpec(Strict):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    group: str | None = Field(default=None, pattern=IDENT)


class PurposeSpec(Strict):
    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1)
    kind: Literal["marketing", "service", "analytics"]
    legal_basis: Literal["consent", "legitimate_interest", "contract", "legal_obligation"]
    dpv: str = ""
    wording: str = Field(min_length=1)
    double_opt_in: list[Literal["email", "sms", "whatsapp"]] = []
    reconsent: bool = False
    consent_valid_for: str | None = None

    @field_validator("consent_valid_for")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class RetentionSpec(Strict):
    category: str = Field(pattern=IDENT)
    period: str
    from_: Literal["event", "end_of_year"] = Field(alias="from")
    basis: str = Field(min_length=1)

    @field_validator("period")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class CapSpec(Strict):
    per_day: int | None = Field(default=None, ge=1)
    per_week: int | None = Field(default=None, ge=1)


class QuietHoursSpec(Strict):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time HH:MM")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="local time HH:MM")


class SendingSpec(Strict):
    """Frequency caps per channel and quiet hours (the contact's time zone): they defer sends."""

    caps: dict[Literal["email", "sms", "whatsapp"], CapSpec] = {}
    quiet_hours: QuietHoursSpec | None = None


class ControllerSpec(Strict):
    """Who is responsible for the processing (named in consent receipts and the RoPA)."""

    name: str = Field(min_length=1)
    jurisdiction: str = "EU"
    policy_url: str = ""
    contact: str = ""


class RightsSpec(Strict):
    """How data subject rights are handled here."""

    erasure_review: bool = Field(False, description="person-opened erasures wait for a DPO")
    supervisory_authority: str | None = Field(None, description="named in the access copy")


class ConfigFile(Strict):
    attributes: dict[str, AttributeSpec] = {}
    themes: list[ThemeSpec] = []
    purposes: list[PurposeSpec] = []
    retention: list[RetentionSpec] = []
    # Sections read by higher packages (channels, sync): checked by them through the
    # `checks` of parse_config (channels.settings.section_problems) or settings_problems.
    public_url: str | None = None
    channels: dict[str, Any] | None = None
    rights: RightsSpec | None = None
    connectors: list[dict[str, Any]] | None = None
    sync: dict[str, Any] | None = None
    sending: SendingSpec | None = None
    controller: ControllerSpec | None = None
    # Always-on capture: sign-up forms, the hosts their pages may redirect to, custom events.
    forms: list[FormSpec] = []
    form_redirects: list[str] = []
    events: dict[str, EventSpec] = {}


@dataclass
class ApplyReport:
    """What `config apply` changed, per kind: created, updated, unchanged ids."""

    changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def note(self, kind: str, outcome: str, ident: str) -> None:
        self.changes.setdefault(kind, {}).setdefault(outcome, []).append(ident)

    def count(self, outcome: str) -> int:
        return sum(len(per.get(outcome, [])) for per in self.changes.values())


# A check of sections this package stores but a higher one reads: (key path, problem) each.
SectionCheck = Callable[["ConfigFile"], list[tuple[str, str]]]


def parse_config(text: str, filename: str, checks: Sequence[SectionCheck] = ()) -> ConfigFile:
    """Parse and validate the whole file; every problem is collected into one ConfigError."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(document)"
        raise ConfigError(
            filename, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(filename, [("(document)", "must be a mapping of sections")])
    try:
        config = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            filename, [(_loc(err["loc"], raw), err["msg"]) for err in exc.errors()]
        ) from None
    problems = _cross_check(config)
    for check in checks:
        problems += check(config)
    if problems:
        raise ConfigError(filename, problems)
    return config


def _loc(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """A key path like purposes[2].kind, with list items named by their id where they have one."""
    out = ""
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            ident = (
                node[part].get("id")
                if isinstance(node, list) and isinstance(node[part], dict)
                else None
            )
            out += f"[{part}]" if ident is None else f"[{part}:{ident}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(document)"


def _cross_check(config: ConfigFile) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    theme_ids = [t.id for t in config.themes]
    for index, theme in enumerate(config.themes):
        if theme_ids.count(theme.id) > 1:
            problems.append((f"themes[{index}:{theme.id}].id", "declared more than once"))
        if theme.group is not None and theme.group in theme_ids:
            problems.append(
                (f"themes[{index}:{theme.id}].group", "a group cannot share a theme's id")
            )
    purpose_ids = [p.id for p in config.purposes]
    for index, purpose in enumerate(config.purposes):
        if purpose_ids.count(purpose.id) > 1:
            problems.append((f"purposes[{index}:{purpose.id}].id", "declared more than once"))
        if purpose.kind == "analytics" and purpose.legal_basis != "consent":
            problems.append(
                (
                    f"purposes[{index}:{purpose.id}].legal_basis",
                    "analytics (per-person engagement) needs consent",
                )
            )
        if purpose.kind == "marketing" and purpose.legal_basis in ("contract", "legal_obligation"):
            problems.append(
                (
                    f"purposes[{index}:{purpose.id}].legal_basis",
                    "marketing needs consent or legitimate_interest",
                )
            )
    problems += settings_problems(
        config.connectors, config.sync
    )  # candor.ledger.connector_settings
    problems += form_problems(config.forms, config.form_redirects, _registry_names(config))
    problems += event_problems(config.events, set(config.attributes))
    categories = [r.category for r in config.retention]
    for index, rule in enumerate(config.retention):
        if categories.count(rule.category) > 1:
            problems.append((f"retention[{index}].category", "declared more than once"))
    for name in config.attributes:
        if not _is_ident(name):
            problems.append(
                (f"attributes.{name}", "name must be lower case letters, digits, _ or -")
            )
    return problems


def _registry_names(config: ConfigFile) -> dict[str, set[str]]:
    """What the forms may name: purposes, themes (and groups) and attributes."""
    groups = {t.group for t in config.themes if t.group}
    return {
        "purposes": {p.id for p in config.purposes},
        "themes": {t.id for t in config.themes} | groups,
        "attributes": set(config.attributes),
    }


def _is_ident(name: str) -> bool:
    return re.fullmatch(IDENT, name) is not None


def apply_config(conn: Connection, config: ConfigFile, *, actor: str, at: datetime) -> ApplyReport:
    """Declare the registry in the caller's transaction; applying twice changes nothing."""
    problems = form_template_problems(conn, config.forms)
    if problems:
        raise ConfigError("candor.yaml", problems)
    report = ApplyReport()
    _apply_attributes(conn, config, report)
    _apply_themes(conn, config, report)
    for spec in config.purposes:
        _apply_purpose(conn, spec, report, at)
    _apply_retention(conn, config, report)
    _apply_settings(conn, config, report)
    audit.record(
        conn,
        actor=actor,
        action="config.apply",
        object_type="config",
        object_id="candor.yaml",
        at=at,
        created=report.count("created"),
        updated=report.count("updated"),
    )
    return report


def _upsert(
    conn: Connection,
    table: Any,
    key: str,
    ident: str,
    values: dict[str, Any],
    kind: str,
    report: ApplyReport,
) -> None:
    existing = conn.execute(select(table).where(table.c[key] == ident)).mappings().first()
    if existing is None:
        conn.execute(insert(table).values({key: ident, **values}))
        report.note(kind, "created", ident)
    elif any(existing[name] != value for name, value in values.items()):
        conn.execute(update(table).where(table.c[key] == ident).values(values))
        report.note(kind, "updated", ident)
    else:
        report.note(kind, "unchanged", ident)


def _apply_attributes(conn: Connection, config: ConfigFile, report: ApplyReport) -> None:
    for name, spec in config.attributes.items():
        values = {"type": spec.type, "category": spec.category, "description": spec.description}
        _upsert(conn, attributes, "name", name, values, "attributes", report)


def _apply_themes(conn: Connection, config: ConfigFile, report: ApplyReport) -> None:
    for theme in config.themes:
        values = {"name": theme.name, "group_id": theme.group}
        _upsert(conn, themes_table, "id", theme.id, values, "themes", report)


def _apply_retention(conn: Connection, config: ConfigFile, report: ApplyReport) -> None:
    for rule in config.retention:
        values = {"period": rule.period, "from_": rule.from_, "basis": rule.basis}
        _upsert(conn, retention_rules, "category", rule.category, values, "retention", report)


SETTING_KEYS = (
    "public_url",
    "channels",
    "rights",
    "connectors",
    "sending",
    "sync",
    "controller",
    "forms",
    "form_redirects",
    "events",
)


def _apply_settings(conn: Connection, config: ConfigFile, report: ApplyReport) -> None:
    for key in SETTING_KEYS:
        value = getattr(config, key)
        if isinstance(value, BaseModel):
            value = value.model_dump(exclude_none=True)
        elif key == "forms":
            value = [form.model_dump(exclude_none=True) for form in config.forms]
        elif key == "events":
            value = {name: spec.model_dump() for name, spec in config.events.items()}
        if value in ([], {}) and not _stored(conn, key):
            continue  # an empty always-on section is the same as none
        if value is not None:
            _upsert(conn, settings, "key", key, {"value": value}, "settings", report)


def _stored(conn: Connection, key: str) -> bool:
    return conn.execute(select(settings.c.key).where(settings.c.key == key)).first() is not None


def _apply_purpose(conn: Connection, spec: PurposeSpec, report: ApplyReport, at: datetime) -> None:
    """Insert or update a purpose; a changed wording (or name) makes a new version."""
    current = conn.execute(select(purposes).where(purposes.c.id == spec.id)).mappings().first()
    common = {
        "name": spec.name,
        "kind": spec.kind,
        "legal_basis": spec.legal_basis,
        "dpv": spec.dpv,
        "consent_valid_for": spec.consent_valid_for,
        "double_opt_in": sorted(set(spec.double_opt_in)),
    }
    if current is None:
        floor = 1 if spec.reconsent else 0
        conn.execute(
            insert(purposes).values(
                id=spec.id, current_version=1, reconsent_floor=floor, updated_at=at, **common
            )
        )
        _insert_version(conn, spec, 1, at)
        report.note("purposes", "created", spec.id)
        return
    latest = (
        conn.execute(
            select(purpose_versions).where(
                purpose_versions.c.purpose_id == spec.id,
                purpose_versions.c.version == current["current_version"],
            )
        )
        .mappings()
        .one()
    )
    if latest["wording"] != spec.wording:
        version = current["current_version"] + 1
        floor = version if spec.reconsent else current["reconsent_floor"]
        _insert_version(conn, spec, version, at)
        conn.execute(
            update(purposes)
            .where(purposes.c.id == spec.id)
            .values(current_version=version, reconsent_floor=floor, updated_at=at, **common)
        )
        report.note("purposes", "new_version", f"{spec.id}@{version}")
    elif any(current[name] != value for name, value in common.items()):
        conn.execute(
            update(purposes).where(purposes.c.id == spec.id).values(updated_at=at, **common)
        )
        report.note("purposes", "updated", spec.id)
    else:
        report.note("purposes", "unchanged", spec.id)


def _insert_version(conn: Connection, spec: PurposeSpec, version: int, at: datetime) -> None:
    conn.execute(
        insert(purpose_versions).values(
            purpose_id=spec.id,
            version=version,
            name=spec.name,
            wording=spec.wording,
            reconsent=spec.reconsent,
            created_at=at,
        )
    )


def load_config_file(path: Path, checks: Sequence[SectionCheck] = ()) -> ConfigFile:
    """Read and validate a configuration file from disk."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [("(file)", f"cannot be read: {exc.strerror}")]) from None
    return parse_config(text, str(path), checks)
