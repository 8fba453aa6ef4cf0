"""Reads of the configuration registry: purposes, themes and their groups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from candor.core.durations import parse_duration
from candor.core.errors import InvalidInput
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.store.tables import purpose_versions, purposes, settings, themes


def purpose_facts(conn: Connection, purpose_id: str, field: str = "purpose") -> PurposeFacts:
    """The purpose as decide() needs it, or InvalidInput naming `field`."""
    row = conn.execute(select(purposes).where(purposes.c.id == purpose_id)).mappings().first()
    if row is None:
        raise InvalidInput(field, f"unknown purpose {purpose_id!r}")
    return facts_from_row(row)


def facts_from_row(row: Any) -> PurposeFacts:
    valid_for = row["consent_valid_for"]
    return PurposeFacts(
        id=row["id"],
        kind=row["kind"],
        legal_basis=row["legal_basis"],
        current_version=row["current_version"],
        reconsent_floor=row["reconsent_floor"],
        consent_valid_for=parse_duration(valid_for) if valid_for else None,
        double_opt_in=tuple(row["double_opt_in"] or ()),
    )


def theme_ref(conn: Connection, theme_id: str | None, field: str = "theme") -> ThemeRef | None:
    """A theme (with its group) for a request; InvalidInput when it is not declared."""
    if theme_id is None:
        return None
    row = conn.execute(
        select(themes.c.id, themes.c.group_id).where(themes.c.id == theme_id)
    ).first()
    if row is None:
        raise InvalidInput(field, f"unknown theme {theme_id!r}")
    return ThemeRef(row.id, row.group_id)


def theme_scope(conn: Connection, scope: str | None, field: str = "theme") -> str | None:
    """A consent or block scope: a theme id or a theme group name."""
    if scope is None:
        return None
    found = conn.execute(
        select(themes.c.id).where((themes.c.id == scope) | (themes.c.group_id == scope)).limit(1)
    ).first()
    if found is None:
        raise InvalidInput(field, f"unknown theme or theme group {scope!r}")
    return scope


def list_purposes(conn: Connection) -> list[dict[str, Any]]:
    """Every purpose with all its versions (old wordings stay readable)."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for v in conn.execute(select(purpose_versions).order_by(purpose_versions.c.version)).mappings():
        versions.setdefault(v["purpose_id"], []).append(
            {
                "version": v["version"],
                "name": v["name"],
                "wording": v["wording"],
                "reconsent": v["reconsent"],
                "created_at": v["created_at"].isoformat(),
            }
        )
    out = []
    for row in conn.execute(select(purposes).order_by(purposes.c.id)).mappings():
        out.append(
            {
                "id": row["id"],
                "name": row["name"],
                "kind": row["kind"],
                "legal_basis": row["legal_basis"],
                "dpv": row["dpv"],
                "version": row["current_version"],
                "double_opt_in": row["double_opt_in"],
                "consent_valid_for": row["consent_valid_for"],
                "versions": versions.get(row["id"], []),
            }
        )
    return out


def list_themes(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(themes).order_by(themes.c.id)).mappings()
    return [{"id": r["id"], "name": r["name"], "group": r["group_id"]} for r in rows]


def setting(conn: Connection, key: str, default: Any = None) -> Any:
    """A section stored by `config apply` (channels, public_url, rights, ...)."""
    value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
    return default if value is None else value


def controller_name(conn: Connection) -> str:
    """The controller's name from the `controller` settings ("" when none is declared)."""
    controller = setting(conn, "controller")
    name = controller.get("name") if isinstance(controller, dict) else None
    return str(name) if name else ""
