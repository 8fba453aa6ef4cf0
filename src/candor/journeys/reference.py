"""The reference data a journey is checked against (fields, themes, purposes, templates),
behind a small Protocol: the database implements it (journeys.runtime.reference_data), tests
use StaticRegistry, and InlineTemplates layers a journey's own templates on top.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

from candor.channels.templates import (
    LINK_VARIABLES,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
)
from candor.journeys.step_types import PurposeKind, TemplateParts


@dataclass(frozen=True)
class PurposeInfo:
    """A purpose as validation sees it: its kind, W3C DPV term and legal basis."""

    kind: PurposeKind
    dpv: str = ""
    legal_basis: str = "consent"
    consent_valid_for: str | None = None
    double_opt_in: tuple[str, ...] = ()

    @property
    def profiling(self) -> bool:
        """Whether the purpose's DPV term is a profiling one (`dpv:Profiling`, ...)."""
        return "profiling" in self.dpv.lower()


class Registry(Protocol):
    """Read-only reference data a journey is checked against (the database implements it).

    `attributes`: profile attribute name -> type; `themes`: theme id -> group id or None;
    `theme_groups`: group ids; `purposes`: purpose id -> PurposeInfo; `templates`: template id
    -> channels it has parts for; `audiences`: saved audience id -> its filter as stored;
    `forms`: sign-up form ids; `events`: custom event name -> its declared properties (name
    -> type).
    """

    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def themes(self) -> Mapping[str, str | None]: ...
    @property
    def theme_groups(self) -> AbstractSet[str]: ...
    @property
    def purposes(self) -> Mapping[str, PurposeInfo]: ...
    @property
    def templates(self) -> Mapping[str, AbstractSet[str]]: ...
    @property
    def audiences(self) -> Mapping[str, Any]: ...
    @property
    def forms(self) -> AbstractSet[str]: ...
    @property
    def events(self) -> Mapping[str, Mapping[str, str]]: ...

    def template_fields(self, template_id: str) -> set[str]:
        """Profile fields the template reads (any channel)."""
        ...

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Whether the template's parts for `channel` carry an unsubscribe link or keyword."""
        ...

    def template_is_approved(self, template_id: str) -> bool:
        """Whether the template's WhatsApp parts name an approved template (not free text)."""
        ...


@dataclass
class StaticRegistry:
    """An in-memory Registry for tests; `unsubscribe` maps a template id to True (every
    channel), False, or the set of channels whose parts carry an unsubscribe."""

    attributes: dict[str, str] = field(default_factory=dict)
    themes: dict[str, str | None] = field(default_factory=dict)
    theme_groups: set[str] = field(default_factory=set)
    purposes: dict[str, PurposeInfo] = field(default_factory=dict)
    templates: dict[str, set[str]] = field(default_factory=dict)
    fields_of: dict[str, set[str]] = field(default_factory=dict)
    unsubscribe: dict[str, bool | set[str]] = field(default_factory=dict)
    audiences: dict[str, Any] = field(default_factory=dict)
    forms: set[str] = field(default_factory=set)
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)  # templates whose WhatsApp parts are approved

    def template_is_approved(self, template_id: str) -> bool:
        """Whether the template id is listed in `approved`."""
        return template_id in self.approved

    def template_fields(self, template_id: str) -> set[str]:
        """Profile fields the template reads, as given."""
        return set(self.fields_of.get(template_id, set()))

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Looked up in the precomputed `unsubscribe` dict (absent: no unsubscribe)."""
        value = self.unsubscribe.get(template_id, False)
        return value if isinstance(value, bool) else channel in value


class InlineTemplates:
    """A Registry view that adds a journey's own `templates:` on top of the base registry."""

    def __init__(self, base: Registry, inline: Mapping[str, TemplateParts]) -> None:
        self.base = base
        self.inline = dict(inline)
        self.attributes = base.attributes
        self.themes = base.themes
        self.theme_groups = base.theme_groups
        self.purposes = base.purposes
        self.audiences = base.audiences
        self.forms = base.forms
        self.events = base.events
        merged = {k: set(v) for k, v in base.templates.items()}
        self.templates: Mapping[str, AbstractSet[str]] = merged | {
            k: t.channels() for k, t in self.inline.items()
        }

    def template_fields(self, template_id: str) -> set[str]:
        """Fields read by an inline template (analysed here) or asked of the base registry."""
        parts = self.inline.get(template_id)
        if parts is None:
            return self.base.template_fields(template_id)
        found: set[str] = set()
        for channel in parts.channels():
            message = parts.message(template_id, channel)
            with contextlib.suppress(TemplateError):
                found |= referenced_fields(message) - LINK_VARIABLES if message else set()
        return found

    def template_is_approved(self, template_id: str) -> bool:
        """Inline: read from its WhatsApp parts; otherwise asked of the base registry."""
        parts = self.inline.get(template_id)
        if parts is None:
            return self.base.template_is_approved(template_id)
        return parts.whatsapp is not None and parts.whatsapp.template is not None

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Inline: detected by the channels package; otherwise asked of the base registry."""
        parts = self.inline.get(template_id)
        if parts is None:
            return self.base.template_has_unsubscribe(template_id, channel)
        message = parts.message(template_id, channel)
        try:
            return message is not None and has_unsubscribe(message)
        except TemplateError:
            return False
