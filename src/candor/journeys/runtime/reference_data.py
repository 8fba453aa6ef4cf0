"""The journeys Registry backed by the database, so validate/lint check against real data.

Attributes come from the `attributes` table plus the identity pseudo-fields (first_name,
last_name: identity strings decrypted at render time, never copied into journey data);
themes, groups and purposes from the registry tables; templates from the `templates` table
(a journey's inline templates are layered on top by validate/lint themselves).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from sqlalchemy import Connection, select

from candor.channels.templates import (
    LINK_VARIABLES,
    MessageTemplate,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
)
from candor.journeys.reference import PurposeInfo
from candor.ledger.contacts import IDENTITY_FIELDS
from candor.ledger.custom_events import declared_events
from candor.ledger.form_specs import declared_forms
from candor.store.journey_tables import audiences, templates
from candor.store.tables import attributes, purposes, themes

IDENTITY_TYPE = "identity"


class DbRegistry:
    """A snapshot of the registry read in one go (a handful of small queries)."""

    def __init__(self, conn: Connection) -> None:
        attrs = {r.name: r.type for r in conn.execute(select(attributes.c.name, attributes.c.type))}
        self.attributes: Mapping[str, str] = {**attrs, **dict.fromkeys(IDENTITY_FIELDS, "string")}
        rows = list(conn.execute(select(themes.c.id, themes.c.group_id)))
        self.themes: Mapping[str, str | None] = {r.id: r.group_id for r in rows}
        self.theme_groups: AbstractSet[str] = {r.group_id for r in rows if r.group_id}
        self.purposes: Mapping[str, PurposeInfo] = {
            r.id: PurposeInfo(
                r.kind,
                r.dpv or "",
                r.legal_basis,
                r.consent_valid_for,
                tuple(r.double_opt_in or ()),
            )
            for r in conn.execute(select(purposes))
        }
        self.forms: AbstractSet[str] = set(declared_forms(conn))
        self.events: Mapping[str, Mapping[str, str]] = {
            name: {prop: spec.type for prop, spec in event.properties.items()}
            for name, event in declared_events(conn).items()
        }
        self._parts: dict[str, dict[str, Any]] = {}
        self._variants: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(select(templates.c.id, templates.c.parts, templates.c.variants)):
            self._parts[r.id] = dict(r.parts or {})
            self._variants[r.id] = [dict(v) for v in (r.variants or {}).values()]
        self.templates: Mapping[str, AbstractSet[str]] = {
            tid: {ch for ch, p in parts.items() if p} for tid, parts in self._parts.items()
        }
        self.audiences: Mapping[str, Any] = {
            r.id: r.filter for r in conn.execute(select(audiences.c.id, audiences.c.filter))
        }

    def profile_types(self) -> dict[str, str]:
        """Declared profile attributes only (the identity pseudo-fields left out)."""
        return {k: v for k, v in self.attributes.items() if k not in IDENTITY_FIELDS}

    def _message(
        self, template_id: str, channel: str, source: dict[str, Any] | None = None
    ) -> MessageTemplate | None:
        parts = (source if source is not None else self._parts.get(template_id, {})).get(channel)
        if not parts:
            return None
        sources = {k: v for k, v in dict(parts).items() if v is not None}
        try:
            return MessageTemplate(id=template_id, channel=channel, parts=sources)
        except ValueError:
            return None

    def template_fields(self, template_id: str) -> set[str]:
        """Profile fields a stored template reads on any channel, in any of its languages
        (link variables excluded)."""
        found: set[str] = set()
        sources = [None, *self._variants.get(template_id, [])]
        for channel in self.templates.get(template_id, ()):
            for source in sources:
                message = self._message(template_id, channel, source)
                if message is not None:
                    with contextlib.suppress(TemplateError):
                        found |= referenced_fields(message) - LINK_VARIABLES
        return found

    def template_is_approved(self, template_id: str) -> bool:
        """Whether the stored template's WhatsApp parts name an approved template."""
        message = self._message(template_id, "whatsapp")
        return message is not None and message.approved

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Whether the stored template's parts for `channel` offer a way out, in every one of
        its languages."""
        sources = [None, *self._variants.get(template_id, [])]
        messages = [self._message(template_id, channel, source) for source in sources]
        try:
            return all(m is not None and has_unsubscribe(m) for m in messages)
        except TemplateError:
            return False
