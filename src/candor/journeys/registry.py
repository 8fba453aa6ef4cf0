"""The base layer of journeys: shared value types, the reference data validation looks up
(fields, themes, purposes, templates) behind a small Protocol, and the open step-type registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import isodate
import jinja2
from jinja2 import meta, nodes
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
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
    """The parts of an e-mail template (Jinja2 text; profile fields as `profile.<name>`)."""

    subject: str
    html: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _has_body(self) -> EmailParts:
        if self.html is None and self.text is None:
            raise ValueError("an e-mail template needs html or text")
        return self


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

    def sources(self, channel: str) -> dict[str, str]:
        """The Jinja2 sources of one channel's parts, keyed by part name."""
        parts = getattr(self, channel, None)
        if parts is None:
            return {}
        return {k: v for k, v in parts.model_dump().items() if isinstance(v, str)}


_ENV = jinja2.Environment(autoescape=False)
_STOP = re.compile(r"\bSTOP\b")


def text_fields(source: str) -> set[str]:
    """Profile fields a Jinja2 source reads (`profile.x`, `profile['x']`); raises on bad syntax."""
    found: set[str] = set()
    tree = _ENV.parse(source)
    for attr in tree.find_all(nodes.Getattr):
        if _is_profile(attr.node):
            found.add(attr.attr)
    for item in tree.find_all(nodes.Getitem):
        if _is_profile(item.node) and isinstance(item.arg, nodes.Const):
            found.add(str(item.arg.value))
    return found


def _is_profile(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "profile"


def text_has_unsubscribe(source: str, channel: str) -> bool:
    """Whether a part offers a way out: `unsubscribe_url`, or for SMS/WhatsApp a STOP keyword."""
    if "unsubscribe_url" in meta.find_undeclared_variables(_ENV.parse(source)):
        return True
    return channel != "email" and bool(_STOP.search(source))


def syntax_errors(parts: TemplateParts) -> list[tuple[str, str]]:
    """(part path, message) for every part of an inline template that Jinja2 cannot parse."""
    errors = []
    for channel in parts.channels():
        for name, source in parts.sources(channel).items():
            try:
                _ENV.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                errors.append((f"{channel}.{name}", f"template syntax: {exc.message}"))
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
        """Fields read by an inline template (parsed here) or asked of the base registry."""
        parts = self.inline.get(template_id)
        if parts is None:
            return self.base.template_fields(template_id)
        found: set[str] = set()
        for channel in parts.channels():
            for source in parts.sources(channel).values():
                found |= _safe(text_fields, source, set())
        return found

    def template_has_unsubscribe(self, template_id: str, channel: str) -> bool:
        """Inline: every body part of the channel must offer the way out."""
        parts = self.inline.get(template_id)
        if parts is None:
            return self.base.template_has_unsubscribe(template_id, channel)
        bodies = {k: v for k, v in parts.sources(channel).items() if k != "subject"}
        return bool(bodies) and all(
            _safe(text_has_unsubscribe, s, False, channel) for s in bodies.values()
        )


def _safe(func: Callable[..., Any], source: str, default: Any, *args: Any) -> Any:
    try:
        return func(source, *args)
    except jinja2.TemplateSyntaxError:
        return default


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
