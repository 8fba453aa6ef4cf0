"""Stored message templates: validated on save, so a syntax error surfaces at `put`, not send.

A template is an id and one set of parts per channel (email: subject, text, html; sms and
whatsapp: text), the same shape as a journey file's inline `templates:`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Connection, insert, select, update

from candor.channels.templates import (
    CHANNEL_PARTS,
    MessageTemplate,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
    validate_template,
)
from candor.core.errors import InvalidInput, NotFound
from candor.ledger import audit
from candor.store.journey_tables import templates

TEMPLATE_ID = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")


def message_template(template_id: str, channel: str, parts: Mapping[str, Any]) -> MessageTemplate:
    """The channel's parts as a MessageTemplate, or InvalidInput naming template and channel."""
    field = f"templates.{template_id}.{channel}"
    if channel not in CHANNEL_PARTS:
        raise InvalidInput(field, f"unknown channel; expected one of {', '.join(CHANNEL_PARTS)}")
    if not isinstance(parts, Mapping):
        raise InvalidInput(field, "must be a mapping of parts")
    sources = {name: value for name, value in parts.items() if value is not None}
    for name, value in sources.items():
        if not isinstance(value, str):
            raise InvalidInput(f"{field}.{name}", "must be text")
    try:
        return MessageTemplate(id=template_id, channel=channel, parts=sources)
    except ValidationError as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidInput(field, message) from None


def compile_parts(
    template_id: str, parts_by_channel: Mapping[str, Any]
) -> dict[str, MessageTemplate]:
    """Every channel's parts, compiled; errors name the template, channel, part and line."""
    if not TEMPLATE_ID.match(template_id or ""):
        raise InvalidInput("id", "must be lower case letters, digits, _ or - (at most 64)")
    if not isinstance(parts_by_channel, Mapping) or not parts_by_channel:
        raise InvalidInput(f"templates.{template_id}", "needs parts for at least one channel")
    out = {}
    for channel, parts in parts_by_channel.items():
        template = message_template(template_id, str(channel), parts)
        try:
            validate_template(template)
        except TemplateError as exc:
            where = f"templates.{template_id}.{channel}.{exc.part}"
            line = f"line {exc.line}: " if exc.line is not None else ""
            raise InvalidInput(where, f"{line}{exc.reason}") from None
        out[str(channel)] = template
    return out


def put_template(
    conn: Connection,
    template_id: str,
    parts_by_channel: Mapping[str, Any],
    *,
    actor: str,
    at: datetime,
    variants: Mapping[str, Mapping[str, Any]] | None = None,
    authoring: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create or replace a template after compiling every part; returns its summary.

    `variants` (language -> channel -> parts) are further languages, each with the same
    channels; `authoring` is what the studio's author wrote, kept beside the parts.
    """
    compiled = compile_parts(template_id, parts_by_channel)
    parts = {channel: dict(t.parts) for channel, t in compiled.items()}
    languages = {}
    for lang, lang_parts in (variants or {}).items():
        found = compile_parts(template_id, lang_parts)
        if set(found) != set(parts):
            raise InvalidInput(f"variants.{lang}", "needs the same channels as the template")
        languages[lang] = {channel: dict(t.parts) for channel, t in found.items()}
    values = {
        "parts": parts,
        "updated_at": at,
        "variants": languages or None,
        "authoring": dict(authoring) if authoring else None,
    }
    exists = conn.execute(select(templates.c.id).where(templates.c.id == template_id)).first()
    if exists is None:
        conn.execute(insert(templates).values(id=template_id, **values))
    else:
        conn.execute(update(templates).where(templates.c.id == template_id).values(**values))
    audit.record(
        conn,
        actor=actor,
        action="template.put",
        object_type="template",
        object_id=template_id,
        at=at,
        channels=sorted(parts),
        languages=sorted(languages),
        created=exists is None,
    )
    return summary(template_id, parts, at)


def summary(
    template_id: str, parts: Mapping[str, Any], updated_at: datetime | None
) -> dict[str, Any]:
    """A template's id, channels, the fields it reads and whether each channel offers a way out."""
    compiled = {ch: message_template(template_id, ch, p) for ch, p in parts.items()}
    fields: set[str] = set()
    for template in compiled.values():
        fields |= referenced_fields(template)
    return {
        "id": template_id,
        "channels": sorted(parts),
        "fields": sorted(fields),
        "unsubscribe": {ch: has_unsubscribe(t) for ch, t in sorted(compiled.items())},
        "updated_at": updated_at.isoformat() if updated_at else None,
    }


def get_template(conn: Connection, template_id: str) -> dict[str, Any]:
    """The stored template: id, parts per channel, further languages (`variants`), the
    author's sources (`authoring`) and updated_at; NotFound otherwise."""
    row = conn.execute(select(templates).where(templates.c.id == template_id)).mappings().first()
    if row is None:
        raise NotFound("template", template_id)
    return {
        "id": row["id"],
        "parts": row["parts"],
        "variants": row["variants"] or {},
        "authoring": row["authoring"],
        "updated_at": row["updated_at"].isoformat(),
    }


def list_templates(conn: Connection) -> list[dict[str, Any]]:
    """Every stored template's summary, by id."""
    rows = conn.execute(select(templates).order_by(templates.c.id)).mappings()
    return [summary(r["id"], r["parts"], r["updated_at"]) for r in rows]


def resolve_template(
    conn: Connection,
    template_id: str,
    inline: Mapping[str, Any] | None = None,
    language: str | None = None,
) -> dict[str, dict[str, str]]:
    """Parts per channel: a journey's inline `templates:` first, then the store (in the
    contact's `language` where the template has it); else NotFound.

    `inline` is the journey file's templates section (id -> per-channel parts, as dicts or
    pydantic models).
    """
    if inline and template_id in inline:
        found = inline[template_id]
        if hasattr(found, "model_dump"):
            found = found.model_dump(exclude_none=True)
        return {
            ch: {k: v for k, v in dict(p).items() if v is not None}
            for ch, p in dict(found).items()
            if p is not None
        }
    row = conn.execute(
        select(templates.c.parts, templates.c.variants).where(templates.c.id == template_id)
    ).first()
    if row is None:
        raise NotFound("template", template_id)
    if language and row.variants and language in row.variants:
        return dict(row.variants[language])
    return dict(row.parts)


def load_templates_file(path: Path) -> dict[str, dict[str, Any]]:
    """A YAML file of templates (id -> channel -> parts), or InvalidInput naming the problem."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(str(path), f"cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise InvalidInput(str(path), f"{where}not valid YAML") from None
    if isinstance(raw, Mapping) and "templates" in raw and isinstance(raw["templates"], Mapping):
        raw = raw["templates"]
    if not isinstance(raw, Mapping):
        raise InvalidInput(str(path), "must map template ids to per-channel parts")
    return {str(k): v for k, v in raw.items()}
