"""The base layer of journeys: shared value types, the reference data validation looks up
(fields, themes, purposes, templates) behind a small Protocol, and the open step-type registry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import isodate
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
)

from candor.channels.templates import (
    LINK_VARIABLES,
    MessageTemplate,
    TemplateError,
    has_unsubscribe,
    referenced_fields,
    validate_template,
)

if TYPE_CHECKING:
    from candor.journeys.definition import Step

PurposeKind = Literal["marketing", "service"]
Channel = Literal["email", "sms", "whatsapp"]
CHANNELS: tuple[str, ...] = ("email", "sms", "whatsapp")


class Strict(BaseModel):
    """Base of every journey model: unknown keys are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)


StepId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$", max_length=100)]


# --- value types --------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta | isodate.Duration:
    """Parse a positive ISO 8601 duration (P3D, PT12H, P1M); raise ValueError otherwise."""
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError, TypeError) as exc:
        raise ValueError(f"'{text}' is not an ISO 8601 duration (such as P3D, PT12H, P1M)") from exc
    if isinstance(value, timedelta):
        positive = value > timedelta(0)
    else:
        positive = value.years * 12 + value.months > 0 or value.tdelta > timedelta(0)
    if not positive:
        raise ValueError(f"duration '{text}' must be positive")
    return value


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


def _date_to_datetime(value: Any) -> Any:
    """A bare date (object or YYYY-MM-DD text) means midnight UTC of that day."""
    if isinstance(value, str) and len(value) == 10:
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


Duration = Annotated[
    str,
    AfterValidator(_check_duration),
    Field(json_schema_extra={"format": "duration"}, examples=["P3D", "PT12H"]),
]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_date_to_datetime)]


# --- templates ---------------------------------------------------------------------------


class EmailParts(Strict):
    """The parts of an e-mail template (Jinja2; declared fields as top-level variables)."""

    subject: str
    text: str
    html: str | None = None


class TextParts(Strict):
    """The single text part of an SMS or WhatsApp template."""

    text: str


class TemplateParts(Strict):
    """A template: one set of parts per channel it can be sent on."""

    email: EmailParts | None = None
    sms: TextParts | None = None
    whatsapp: TextParts | None = None

    def channels(self) -> set[str]:
        """The channels this template has parts for."""
        return {c for c in CHANNELS if getattr(self, c) is not None}

    def message(self, template_id: str, channel: str) -> MessageTemplate | None:
        """The channel's parts as a channels-package MessageTemplate (None: no such parts)."""
        parts = getattr(self, channel, None)
        if parts is None:
            return None
        sources = parts.model_dump(exclude_none=True)
        return MessageTemplate(id=template_id, channel=channel, parts=sources)


def template_errors(template_id: str, parts: TemplateParts) -> list[tuple[str, str]]:
    """(channel, message) for every channel part of an inline template that does not compile."""
    errors = []
    for channel in sorted(parts.channels()):
        message = parts.message(template_id, channel)
        try:
            if message is not None:
                validate_template(message)
        except TemplateError as exc:
            errors.append((channel, str(exc)))
    return errors


# --- reference data ----------------------------------------------------------------------


@dataclass(frozen=True)
class PurposeInfo:
    """A purpose as validation sees it: its kind, W3C DPV term and legal basis."""

    kind: PurposeKind
    dpv: str = ""
    legal_basis: str = "consent"

    @property
    def profiling(self) -> bool:
        """Whether the purpose's DPV term is a profiling one (`dpv:Profiling`, ...)."""
        return "profiling" in self.dpv.lower()


class Registry(Protocol):
    """Read-only reference data a journey is checked against (the database implements it).

    `attributes`: profile attribute name -> type; `themes`: theme id -> group id or None;
    `theme_groups`: group ids; `purposes`: purpose id -> PurposeInfo; `templates`: template id
    -> channels it has parts for.
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

    def template_fields(self, template_id: str) -> set[str]:
        """Profile fields the template reads (any channel)."""
        ...

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Whether the template's parts for `channel` carry an unsubscribe link or keyword."""
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


# --- the open step-type registry ---------------------------------------------------------


class NoSettings(Strict):
    """Settings of a step type that takes none."""


Hook = Callable[[Any], list[tuple[str, str]]]


@dataclass(frozen=True)
class StepType:
    """A registered step type: its settings model and what validation must know about it.

    `exits`: named exit keys (`on_timeout`); `forward`: has a `next` (default: the following
    step); `waits`: holds contacts (bool, or a test on the settings); `targets`: step ids inside
    the settings as (key path, id); `fields`: profile fields read besides filter conditions, as
    (key path, field); `check`: extra checks on the whole step, as (key path, message).
    Settings keys named `channel`, `template` and `theme` are checked against the registry.
    """

    name: str
    settings: type[BaseModel] = NoSettings
    exits: tuple[str, ...] = ()
    forward: bool = True
    waits: bool | Callable[[Any], bool] = False
    targets: Hook | None = None
    fields: Hook | None = None
    check: Callable[[Step], list[tuple[str, str]]] | None = None
    description: str = ""

    def holds(self, settings: BaseModel) -> bool:
        """Whether a step of this type with these settings makes contacts wait."""
        return bool(self.waits(settings)) if callable(self.waits) else self.waits


_STEP_TYPES: dict[str, StepType] = {}
_ENVELOPE = {"id", "type", "next"}


def register_step(
    name: str, settings: type[BaseModel] = NoSettings, *, replace: bool = False, **meta: Any
) -> StepType:
    """Register (or, with `replace`, redefine) a step type so journey files may use it.

    `meta` takes the other StepType fields (exits, forward, waits, targets, fields, check).
    """
    step_type = StepType(name, settings, **meta)
    if name in _STEP_TYPES and not replace:
        raise ValueError(f"step type {name!r} is already registered")
    if clash := (set(settings.model_fields) | set(step_type.exits)) & _ENVELOPE:
        raise ValueError(f"step type {name!r} reuses reserved keys {sorted(clash)}")
    if bad := [e for e in step_type.exits if not e.startswith("on_")]:
        raise ValueError(f"exit names must start with 'on_': {bad}")
    _STEP_TYPES[name] = step_type
    return step_type


def unregister_step(name: str) -> None:
    """Remove a step type (tests use it to clean up)."""
    _STEP_TYPES.pop(name, None)


def get_step_type(name: str) -> StepType | None:
    """The registered step type called `name`, or None."""
    return _STEP_TYPES.get(name)


def step_types() -> Mapping[str, StepType]:
    """A read-only view of every registered step type."""
    return MappingProxyType(_STEP_TYPES)
