"""The configuration registry over the API: purposes and themes, as in candor.yaml."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response
from pydantic import model_validator
from sqlalchemy import Connection

from candor.accounts.api_keys import Principal
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.ledger.config import (
    ConfigError,
    ConfigFile,
    PurposeSpec,
    ThemeSpec,
    apply_config,
    parse_config,
)
from candor.ledger.registry import list_purposes, list_themes
from candor.store.engine import reading
from candor.web.deps import Admin, Cx, Reader

router = APIRouter(prefix="/api/v1", tags=["registry"])


def _plain_strings(model: PurposeSpec | ThemeSpec, limits: dict[str, int]) -> None:
    """Refuse what the database columns cannot hold (NUL characters, over-long codes)."""
    for name, value in model:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError(f"{name}: must not contain NUL characters")
            if name in limits and len(value) > limits[name]:
                raise ValueError(f"{name}: at most {limits[name]} characters")


class PurposeIn(PurposeSpec):
    """One purpose in the candor.yaml shape."""

    @model_validator(mode="after")
    def _storable(self) -> PurposeIn:
        _plain_strings(self, {"dpv": 128, "consent_valid_for": 32})
        return self


class ThemeIn(ThemeSpec):
    """One theme in the candor.yaml shape."""

    @model_validator(mode="after")
    def _storable(self) -> ThemeIn:
        _plain_strings(self, {})
        return self


def _checked(section: str, spec: PurposeSpec | ThemeSpec) -> ConfigFile:
    """Validate one declaration exactly as `config apply` would (cross-checks included)."""
    document = {section: [spec.model_dump(mode="json", by_alias=True)]}
    try:
        # JSON is YAML: reuse the configuration file's validation and its key paths.
        return parse_config(json.dumps(document), "request")
    except ConfigError as exc:
        path, problem = exc.problems[0]
        field = path.split("].", 1)[1] if "]." in path else "body"
        raise InvalidInput(field, problem) from None


def _apply(cx: Candor, principal: Principal, config: ConfigFile, kind: str) -> str:
    with cx.engine.begin() as conn:
        _check_against_registry(conn, config)
        report = apply_config(conn, config, actor=principal.actor, at=cx.clock.now())
    outcomes = report.changes.get(kind, {})
    return next((outcome for outcome, ids in outcomes.items() if ids), "unchanged")


def _check_against_registry(conn: Connection, config: ConfigFile) -> None:
    """A theme id and a group name must not collide with the themes already declared."""
    existing = list_themes(conn)
    ids = {t["id"] for t in existing}
    groups = {t["group"] for t in existing if t["group"] is not None}
    for theme in config.themes:
        if theme.group is not None and theme.group in ids:
            raise InvalidInput("group", "a group cannot share a theme's id")
        if theme.id in groups:
            raise InvalidInput("id", "already the name of a theme group")


@router.get("/purposes")
def get_purposes(cx: Cx, principal: Reader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return {"items": list_purposes(conn)}


@router.post("/purposes", status_code=201)
def post_purpose(body: PurposeIn, response: Response, cx: Cx, principal: Admin) -> dict[str, Any]:
    """Declare or change one purpose; a changed wording makes a new version."""
    outcome = _apply(cx, principal, _checked("purposes", body), "purposes")
    if outcome != "created":
        response.status_code = 200
    with reading(cx.engine) as conn:
        purpose = next(p for p in list_purposes(conn) if p["id"] == body.id)
    return {**purpose, "outcome": outcome}


@router.get("/themes")
def get_themes(cx: Cx, principal: Reader) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return {"items": list_themes(conn)}


@router.post("/themes", status_code=201)
def post_theme(body: ThemeIn, response: Response, cx: Cx, principal: Admin) -> dict[str, Any]:
    outcome = _apply(cx, principal, _checked("themes", body), "themes")
    if outcome != "created":
        response.status_code = 200
    with reading(cx.engine) as conn:
        theme = next(t for t in list_themes(conn) if t["id"] == body.id)
    return {**theme, "outcome": outcome}
