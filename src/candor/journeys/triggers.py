"""Triggers: when a running journey lets a person in (`trigger`), and whether again (`reentry`).

A trigger names one kind of happening: a consent change for a purpose, a submitted form, a
new contact, a changed attribute, a custom event, a date in a profile field (birthdays,
contract anniversaries) or a consent about to lapse. The runtime (journeys.runtime.entry)
lets those people in through the gate; `reentry` says whether someone whose stay ended may
enter again (`never`, or `after P30D` since their last entry).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, Discriminator, Tag

from candor.core.durations import DurationLike
from candor.journeys.step_types import Duration, Strict, parse_duration

ConsentChange = Literal["consent.confirmed", "consent.granted", "consent.withdrawn"]
CONSENT_STATUSES: dict[str, str] = {
    "granted": "consent.granted",
    "confirmed": "consent.confirmed",
    "withdrawn": "consent.withdrawn",
}
# Kinds the clock drives (the worker looks for them); the others are signalled by writers.
CLOCK_KINDS = frozenset({"date", "consent.expiring"})

_DAYS = re.compile(r"^(-)?P(?:(\d+)W)?(?:(\d+)D)?$")
_REENTRY = re.compile(r"^(never|after (P\S+))$")


def day_offset(text: str) -> timedelta:
    """A signed whole-day offset (`-P7D`, `P1W`, `P0D`) as a timedelta, or ValueError."""
    found = _DAYS.match(text) if isinstance(text, str) else None
    if found is None or (found.group(2) is None and found.group(3) is None):
        raise ValueError("must be whole days or weeks, such as -P7D, P0D or P2W")
    days = int(found.group(2) or 0) * 7 + int(found.group(3) or 0)
    return timedelta(days=-days if found.group(1) else days)


def _check_offset(text: str) -> str:
    day_offset(text)
    return text


def _check_reentry(text: str) -> str:
    found = _REENTRY.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError("must be 'never' or 'after <duration>', such as 'after P30D'")
    if found.group(2):
        parse_duration(found.group(2))
    return text


DayOffset = Annotated[str, AfterValidator(_check_offset)]
Reentry = Annotated[str, AfterValidator(_check_reentry)]


class ConsentTrigger(Strict):
    """A consent event for the purpose: granted, confirmed (double opt-in) or withdrawn."""

    on: ConsentChange
    purpose: str

    @property
    def key(self) -> str:
        return self.purpose


class FormTrigger(Strict):
    """Someone submitted the sign-up form (before confirming anything)."""

    on: Literal["form.submitted"]
    form: str

    @property
    def key(self) -> str:
        return self.form


class ContactTrigger(Strict):
    """A contact was created (by the API or a sign-up form; imports do not signal)."""

    on: Literal["contact.created"]

    @property
    def key(self) -> str:
        return ""


class AttributeTrigger(Strict):
    """A profile attribute changed (rectified through the API, the pages or a connector)."""

    on: Literal["attribute.changed"]
    field: str

    @property
    def key(self) -> str:
        return self.field


class EventTrigger(Strict):
    """A custom event declared in candor.yaml (`events`) arrived for the person."""

    on: Literal["event"]
    name: str

    @property
    def key(self) -> str:
        return self.name


class DateTrigger(Strict):
    """The date in a profile field, shifted by `offset`, once or `every` year or month."""

    on: Literal["date"]
    field: str
    offset: DayOffset = "P0D"
    every: Literal["P1Y", "P1M"] | None = None

    @property
    def key(self) -> str:
        return self.field


class ExpiryTrigger(Strict):
    """A consent to the purpose lapses within `before` (its `consent_valid_for` runs out)."""

    on: Literal["consent.expiring"]
    purpose: str
    before: Duration

    @property
    def key(self) -> str:
        return self.purpose


_MODELS: tuple[type[Strict], ...] = (
    ConsentTrigger,
    FormTrigger,
    ContactTrigger,
    AttributeTrigger,
    EventTrigger,
    DateTrigger,
    ExpiryTrigger,
)
TRIGGER_KINDS: tuple[str, ...] = tuple(
    kind for model in _MODELS for kind in get_args(model.model_fields["on"].annotation)
)
TRIGGER_MODELS = frozenset(model.__name__ for model in _MODELS)
_TAG_OF = {
    kind: model.__name__
    for model in _MODELS
    for kind in get_args(model.model_fields["on"].annotation)
}


def _trigger_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    return _TAG_OF.get(value.get("on")) if isinstance(value, dict) else None


def _yaml_on(value: Any) -> Any:
    """YAML 1.1 reads a bare `on:` key as the boolean true: take it for `on`."""
    if isinstance(value, dict) and True in value and "on" not in value:
        return {("on" if key is True else key): item for key, item in value.items()}
    return value


Trigger = Annotated[
    Annotated[ConsentTrigger, Tag("ConsentTrigger")]
    | Annotated[FormTrigger, Tag("FormTrigger")]
    | Annotated[ContactTrigger, Tag("ContactTrigger")]
    | Annotated[AttributeTrigger, Tag("AttributeTrigger")]
    | Annotated[EventTrigger, Tag("EventTrigger")]
    | Annotated[DateTrigger, Tag("DateTrigger")]
    | Annotated[ExpiryTrigger, Tag("ExpiryTrigger")],
    Discriminator(
        _trigger_tag,
        custom_error_type="invalid_trigger",
        custom_error_message="a trigger is a mapping whose `on` is one of "
        + ", ".join(TRIGGER_KINDS),
    ),
    BeforeValidator(_yaml_on),
]


def reentry_after(text: str | None) -> DurationLike | None:
    """The wait before someone may enter again; None for `never` (or no reentry given)."""
    if not text or text == "never":
        return None
    return parse_duration(text.removeprefix("after ").strip())


def anniversaries(day: date, offset: timedelta, every: str | None) -> list[str]:
    """The field values whose occurrence enters people on `day`: as full dates (once),
    `-MM-DD` (every year) or `-DD` (every month), matched as the stored value's ending.

    An occurrence on a day the calendar lacks (29 February, the 31st) falls on the last day
    of the month instead, so nobody's birthday is skipped in a common year.
    """
    target = day - offset
    if every is None:
        return [target.isoformat()]
    tomorrow = target + timedelta(days=1)
    last_of_month = tomorrow.month != target.month
    if every == "P1Y":
        found = [f"-{target.month:02d}-{target.day:02d}"]
        if last_of_month and target.month == 2 and target.day == 28:
            found.append("-02-29")
        return found
    found = [f"-{target.day:02d}"]
    if last_of_month:
        found += [f"-{d:02d}" for d in range(target.day + 1, 32)]
    return found
