"""The built-in step types: their settings models and registration in the open step registry.

Settings sit at the step's top level in the file, beside `id`, `type`, `next` and the exits.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, HttpUrl, model_validator

from candor.journeys.definition import Filter, Op, Scalar, Step
from candor.journeys.step_types import Channel, Duration, StepId, Strict, Timestamp, register_step

WaitEvent = Literal["click", "consent", "confirmed", "reply"]


class SendSettings(Strict):
    """Send a template on a channel; the gate decides per contact (denied: `on_denied`)."""

    channel: Channel
    template: str
    theme: str | None = Field(None, description="theme or theme group the message is about")
    link: HttpUrl | None = Field(
        None, description="where {{ click_url }} leads; the click wakes a `wait` for `click`"
    )


class WaitSettings(Strict):
    """Hold contacts for a `duration`, `until` a moment, or for an `event` with a `timeout`."""

    duration: Duration | None = None
    until: Timestamp | None = None
    event: WaitEvent | None = None
    timeout: Duration | None = Field(None, description="how long to wait for the event")

    @model_validator(mode="after")
    def _one_kind(self) -> WaitSettings:
        given = [k for k in ("duration", "until", "event") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a wait needs exactly one of duration, until, event")
        if self.event is not None and self.timeout is None:
            raise ValueError("an event wait needs a timeout")
        if self.event is None and self.timeout is not None:
            raise ValueError("timeout only applies to an event wait")
        return self


class BranchCase(Strict):
    """One branch case: the first case whose condition holds decides the next step."""

    when: Filter
    next: StepId


class BranchSettings(Strict):
    """Route on declared fields or on events; `default` when no case holds."""

    cases: list[BranchCase] = Field(min_length=1)
    default: StepId


class ConsentSettings(Strict):
    """Ask for consent and hold until given (`next`), refused or timed out."""

    channel: Channel
    template: str
    theme: str | None = None
    timeout: Duration


class AdvertisingBlockSettings(Strict):
    """Continue only where no advertising block applies (`on_blocked` otherwise)."""

    channel: Channel
    theme: str | None = None


class SetAdvertisingBlockSettings(Strict):
    """Record the advertising block the person asked for."""

    channel: Channel | None = None
    theme: str | None = None
    address: bool = Field(False, description="block only the address the journey reached")
    reason: str | None = None


class OptInSettings(Strict):
    """Double opt-in: send the confirmation (no advertising: no theme), hold until confirmed."""

    channel: Channel
    template: str
    timeout: Duration
    theme: str | None = Field(None, description="not allowed by the lint: no advertising")
    renew: bool = Field(
        False,
        description="ask those who agreed too (re-permission before a consent lapses): "
        "confirming records a fresh consent",
    )


class OptOutSettings(Strict):
    """Record an opt-out (withdrawal) for the journey's purpose, optionally narrowed."""

    channel: Channel | None = None
    theme: str | None = None


class InformSettings(Strict):
    """Tell the person a purpose changed and ask again; hold until re-consent."""

    channel: Channel
    template: str
    timeout: Duration


class DataRef(Strict):
    """A reference to a value gathered in the journey (`{data: key}`)."""

    data: str


class StoreSettings(Strict):
    """Persist journey data into profile attributes: attribute -> `{data: key}` or literal."""

    values: dict[str, DataRef | Scalar] = Field(min_length=1)


class TransferSettings(Strict):
    """Deliver the access copy as an expiring signed link."""

    channel: Channel
    template: str


class ScoreFeature(Strict):
    """One factor of a score: a field's weight, optionally only when `op`/`value` hold."""

    field: str
    weight: float
    op: Op | None = None
    value: Scalar | list[Scalar] = None


class ScoreModel(Strict):
    """A linear score: the sum of weights compared with `threshold`."""

    features: list[ScoreFeature] = Field(min_length=1)
    threshold: float


class ScoreSettings(Strict):
    """An automated decision (profiling purposes only); below threshold: `on_below`."""

    model: ScoreModel


def _wait_holds(settings: Any) -> bool:
    return bool(settings.duration or settings.event)


def _wait_check(step: Step) -> list[tuple[str, str]]:
    if "on_timeout" in step.exits and getattr(step.settings, "event", None) is None:
        return [("on_timeout", "on_timeout only applies to an event wait")]
    return []


def _branch_targets(settings: Any) -> list[tuple[str, str]]:
    cases = [(f"cases[{i}].next", c.next) for i, c in enumerate(settings.cases)]
    return [*cases, ("default", settings.default)]


def _store_fields(settings: Any) -> list[tuple[str, str]]:
    return [(f"values.{name}", name) for name in settings.values]


def _score_fields(settings: Any) -> list[tuple[str, str]]:
    features = settings.model.features
    return [(f"model.features[{i}].field", f.field) for i, f in enumerate(features)]


def register_builtins() -> None:
    """Register the built-in step types (idempotent)."""
    reg: list[tuple[str, Any, dict[str, Any]]] = [
        ("send", SendSettings, {"exits": ("on_denied",)}),
        (
            "wait",
            WaitSettings,
            {"exits": ("on_timeout",), "waits": _wait_holds, "check": _wait_check},
        ),
        ("branch", BranchSettings, {"forward": False, "targets": _branch_targets}),
        ("consent", ConsentSettings, {"exits": ("on_refused", "on_timeout"), "waits": True}),
        ("advertising_block", AdvertisingBlockSettings, {"exits": ("on_blocked",)}),
        ("set_advertising_block", SetAdvertisingBlockSettings, {}),
        ("opt_in", OptInSettings, {"exits": ("on_timeout",), "waits": True}),
        ("opt_out", OptOutSettings, {}),
        ("inform", InformSettings, {"exits": ("on_refused", "on_timeout"), "waits": True}),
        ("store", StoreSettings, {"fields": _store_fields}),
        ("reference", None, {"description": "Compile the access copy (Art. 15)."}),
        ("transfer", TransferSettings, {}),
        ("forget", None, {"description": "Erase the contact everywhere."}),
        ("score", ScoreSettings, {"exits": ("on_below",), "fields": _score_fields}),
        ("end", None, {"forward": False, "description": "Leave the journey."}),
    ]
    for name, settings, meta in reg:
        args = (settings,) if settings is not None else ()
        register_step(name, *args, replace=True, **meta)


register_builtins()
