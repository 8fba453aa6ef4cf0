"""The base layer of journeys: shared value types, template parts, and the open step-type
registry that journey files and the runtime's handlers name their steps by.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Literal

import isodate
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from candor.channels.templates import (
    MessageTemplate,
    TemplateError,
    validate_template,
)

if TYPE_CHECKING:
    from candor.journeys.definition import Step

PurposeKind = Literal["marketing", "service", "analytics"]
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
    """The single text part of an SMS template."""

    text: str


class WhatsAppParts(Strict):
    """A WhatsApp template: free `text`, or an approved `template` with `language` and
    `parameters` (one per line), or both (text for the generic adapter)."""

    text: str | None = None
    template: str | None = None
    language: str | None = None
    parameters: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> WhatsAppParts:
        parts = self.model_dump(exclude_none=True)
        try:
            MessageTemplate(id="whatsapp", channel="whatsapp", parts=parts)
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return self


class TemplateParts(Strict):
    """A template: one set of parts per channel it can be sent on."""

    email: EmailParts | None = None
    sms: TextParts | None = None
    whatsapp: WhatsAppParts | None = None

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
