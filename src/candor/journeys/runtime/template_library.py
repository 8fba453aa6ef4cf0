"""The studio's template library: save content as written (compiled to sendable parts), read it
back for editing, and lint it where it is written: unsubscribe links in marketing e-mail, STOP
wording in marketing SMS and WhatsApp, fields no journey using the template declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import Connection, select

from candor.channels.content import ContentSource, compile_content
from candor.channels.template_store import get_template, message_template, put_template
from candor.channels.templates import (
    LINK_VARIABLES,
    MessageTemplate,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
)
from candor.core.errors import InvalidInput
from candor.journeys.runtime.reference_data import DbRegistry
from candor.store.journey_tables import journeys

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One lint finding, placed where the author wrote it (language, channel, part)."""

    language: str
    channel: str
    part: str
    message: str
    severity: Severity = "error"
    code: str = "content"


def save_content(
    conn: Connection, source: ContentSource, *, actor: str, at: datetime
) -> dict[str, Any]:
    """Compile and store a template with its languages; the author's sources kept beside it."""
    compiled = compile_content(source)
    default = source.default_language
    variants = {lang: p for lang, p in compiled.parts.items() if lang != default}
    return put_template(
        conn,
        source.id,
        compiled.parts[default],
        actor=actor,
        at=at,
        variants=variants,
        authoring=compiled.authoring,
    )


def load_content(conn: Connection, template_id: str) -> ContentSource:
    """A stored template as the studio edits it: the author's sources, or (for templates
    stored through the API or CLI) its parts read as sources in English."""
    stored = get_template(conn, template_id)
    if stored["authoring"]:
        try:
            return ContentSource.model_validate(stored["authoring"])
        except ValidationError:
            pass
    languages = {"en": _as_source(stored["parts"])}
    for lang, parts in stored["variants"].items():
        languages[lang] = _as_source(parts)
    return ContentSource.model_validate({"id": template_id, "languages": languages})


def _as_source(parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for channel, p in parts.items():
        out[channel] = dict(p)
    return out


def messages_of(source: ContentSource) -> Iterator[tuple[str, str, MessageTemplate]]:
    """(language, channel, compiled MessageTemplate) for every part of the content."""
    compiled = compile_content(source)
    for lang, by_channel in compiled.parts.items():
        for channel, parts in by_channel.items():
            yield lang, channel, message_template(source.id, channel, parts)


def content_findings(conn: Connection, source: ContentSource) -> list[Finding]:
    """Every lint finding of the content as written (nothing is stored)."""
    try:
        messages = list(messages_of(source))
    except InvalidInput as exc:
        return [Finding("", "", exc.field, exc.problem, code="invalid")]
    registry = DbRegistry(conn)
    users = journeys_using(conn, source.id)
    found: list[Finding] = []
    for lang, channel, message in messages:
        try:
            fields = referenced_fields(message) - LINK_VARIABLES
            way_out = has_unsubscribe(message)
        except TemplateError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            found.append(Finding(lang, channel, exc.part, where + exc.reason, code="syntax"))
            continue
        if source.kind == "marketing" and not way_out:
            found.append(_no_way_out(lang, channel))
        for name in sorted(fields - set(registry.attributes)):
            msg = f"reads {name!r}, which is no declared field"
            found.append(Finding(lang, channel, "", msg, code="unknown-field"))
        for journey_id, declared in users.items():
            for name in sorted(fields & set(registry.attributes) - set(declared)):
                msg = f"reads {name!r}, which journey {journey_id!r} does not declare"
                found.append(Finding(lang, channel, "", msg, code="undeclared-field"))
    return found


def _no_way_out(lang: str, channel: str) -> Finding:
    if channel == "email":
        msg = "marketing e-mail needs an unsubscribe link ({{ unsubscribe_url }})"
        return Finding(lang, channel, "html", msg, code="no-unsubscribe")
    msg = "marketing messages need the STOP wording (such as: Reply STOP to opt out)"
    return Finding(lang, channel, "text", msg, code="no-stop")


def journeys_using(conn: Connection, template_id: str) -> dict[str, list[str]]:
    """Journeys (drafts and running) whose steps send this template, with their fields."""
    rows = conn.execute(
        select(journeys.c.id, journeys.c.definition).where(
            journeys.c.state.in_(("draft", "running"))
        )
    )
    out = {}
    for journey_id, definition in rows:
        steps = (definition or {}).get("steps") or []
        if any(isinstance(s, dict) and s.get("template") == template_id for s in steps):
            out[journey_id] = list((definition or {}).get("fields") or [])
    return out
