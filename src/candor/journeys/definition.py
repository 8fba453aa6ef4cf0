"""The journey file: strict pydantic models, the filter grammar, loading and JSON Schema.

Steps are parsed in two phases (envelope, then the registered settings model for the type) so
every problem names its step id and key path (`steps[3].chanel`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    SerializeAsAny,
    Tag,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from candor.journeys.step_types import (
    Channel,
    Duration,
    NoSettings,
    StepId,
    StepType,
    Strict,
    TemplateParts,
    Timestamp,
    get_step_type,
    step_types,
)
from candor.journeys.triggers import TRIGGER_MODELS, Reentry, Trigger
from candor.policy.decide import ALLOWED, DENIAL_REASONS

Severity = Literal["error", "warning"]
DECISION_REASONS: tuple[str, ...] = (ALLOWED, *DENIAL_REASONS)
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "between", "exists"]
Scalar = str | int | float | bool | datetime | date | None


# --- filter grammar ----------------------------------------------------------------------


class Condition(Strict):
    """`{field, op, value}` over a declared profile field."""

    field: str
    op: Op
    value: Scalar | list[Scalar] = None

    @model_validator(mode="after")
    def _value_shape(self) -> Condition:
        is_list = isinstance(self.value, list)
        if self.op == "in" and not (is_list and self.value):
            raise ValueError("op 'in' needs a non-empty list value")
        if self.op == "between" and not (is_list and len(self.value) == 2):  # type: ignore[arg-type]
            raise ValueError("op 'between' needs a list of two values [low, high]")
        if self.op == "exists" and not isinstance(self.value, bool | None):
            raise ValueError("op 'exists' takes no value, or true/false")
        if self.op not in ("in", "between", "exists") and (is_list or self.value is None):
            raise ValueError(f"op '{self.op}' needs a single value")
        return self


class EventCondition(Strict):
    """`{event, step}`: the contact did something with an earlier step's message (branches only)."""

    event: Literal["clicked", "opened", "delivered", "replied"]
    step: StepId


class DecisionTest(Strict):
    """What the gate decides now for a purpose (optionally a channel and theme)."""

    purpose: str
    reason: str = Field(description="one of decide()'s reason codes, or allowed")
    channel: Channel | None = None
    theme: str | None = None

    @model_validator(mode="after")
    def _known_reason(self) -> DecisionTest:
        if self.reason not in DECISION_REASONS:
            raise ValueError(
                f"unknown reason {self.reason!r}; one of {', '.join(DECISION_REASONS)}"
            )
        return self


class DecisionCondition(Strict):
    """`{decision: {purpose, reason, channel?, theme?}}`: the gate's decision right now holds."""

    decision: DecisionTest


class AudienceRef(Strict):
    """`{audience: id}`: the filter of a saved audience (targets only)."""

    audience: StepId


class AllOf(Strict):
    """Every sub-filter holds (an empty list holds for everyone)."""

    all: list[Filter]


class AnyOf(Strict):
    """At least one sub-filter holds."""

    any: list[Filter]


class NotOf(Strict):
    """The sub-filter does not hold."""

    not_: Filter = Field(alias="not")


_FILTER_TAGS = {
    "all": "AllOf",
    "any": "AnyOf",
    "not": "NotOf",
    "not_": "NotOf",
    "event": "EventCondition",
    "decision": "DecisionCondition",
    "audience": "AudienceRef",
}


def _filter_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return type(value).__name__
    if not isinstance(value, dict):
        return None
    return next((tag for key, tag in _FILTER_TAGS.items() if key in value), "Condition")


Filter = Annotated[
    Annotated[AllOf, Tag("AllOf")]
    | Annotated[AnyOf, Tag("AnyOf")]
    | Annotated[NotOf, Tag("NotOf")]
    | Annotated[EventCondition, Tag("EventCondition")]
    | Annotated[DecisionCondition, Tag("DecisionCondition")]
    | Annotated[AudienceRef, Tag("AudienceRef")]
    | Annotated[Condition, Tag("Condition")],
    Discriminator(
        _filter_tag,
        custom_error_type="invalid_filter",
        custom_error_message=(
            "a filter is a mapping with all, any, not, event, decision, audience, or field/op/value"
        ),
    ),
]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()
FILTER_ADAPTER: TypeAdapter[Filter] = TypeAdapter(Filter)
# How deeply saved audiences may refer to further audiences.
MAX_NESTING = 4

_UNION_TAGS = {
    "AllOf",
    "AnyOf",
    "NotOf",
    "EventCondition",
    "DecisionCondition",
    "AudienceRef",
    "Condition",
    "DataRef",
    *TRIGGER_MODELS,
}


# --- problems ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding: where (`steps[3].channel`), which step id, what, and how bad."""

    path: str
    step: str | None
    message: str
    severity: Severity = "error"
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"step {self.step!r} " if self.step else ""
        return f"{self.severity}: {where}{self.path or '<file>'}: {self.message} [{self.code}]"


class JourneyError(Exception):
    """A journey file that cannot be loaded; `problems` lists every reason found, `partial`
    holds what did load, so its references can be checked in the same pass."""

    def __init__(self, problems: list[Problem], partial: PartialJourney | None = None) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.partial = partial


@dataclass(frozen=True)
class PartialJourney:
    """The parts of a journey with structural problems that did load: the head's sound keys
    (placeholders for missing ones) and the steps that parsed, with their index in the file."""

    journey: JourneyDefinition
    indices: tuple[int, ...]
    step_ids: frozenset[str]  # every step id the file names, loaded or not
    broken_keys: frozenset[str]  # head keys left out because they are unsound


def _join(prefix: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{prefix}[{part}]"
    return f"{prefix}.{part}" if prefix else part


def format_loc(loc: tuple[str | int, ...], prefix: str = "") -> str:
    """Turn a pydantic error location into a key path, dropping union tags."""
    path = prefix
    for part in loc:
        if isinstance(part, str) and (part in _UNION_TAGS or part.startswith("function-")):
            continue
        path = _join(path, part)
    return path


def problems_from(
    exc: ValidationError, prefix: str, step: str | None, known: Iterable[str] = ()
) -> list[Problem]:
    """Translate a pydantic ValidationError into Problems with readable messages."""
    out = []
    for err in exc.errors():
        kind, msg = err["type"], err["msg"].removeprefix("Value error, ")
        code = {"extra_forbidden": "unknown-key", "missing": "missing-key"}.get(kind, "invalid")
        if kind == "extra_forbidden":
            msg = "unknown key" + _suggest(str(err["loc"][-1]), known)
        elif kind == "missing":
            msg = "required key is missing"
        out.append(Problem(format_loc(err["loc"], prefix), step, msg, "error", code))
    return out


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- the journey -------------------------------------------------------------------------


class Step(Strict):
    """A step: envelope (id, type, next, named exits) plus its type's settings model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: StepId
    type: str
    next: StepId | None = None
    exits: dict[str, StepId] = Field(default_factory=dict)
    settings: SerializeAsAny[BaseModel] = Field(default_factory=NoSettings)
    _following: str | None = PrivateAttr(default=None)

    @property
    def following(self) -> str | None:
        """The id of the step written after this one in the file (the default `next`)."""
        return self._following

    def flat(self) -> dict[str, Any]:
        """The step in file layout: settings beside id/type/next and the exits."""
        head: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.next:
            head["next"] = self.next
        body = self.settings.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {**head, **body, **self.exits}


class Tracking(Strict):
    """Per-person engagement, only for people who agreed to `purpose` (kind analytics)."""

    purpose: str = Field(description="a purpose of kind analytics the person must agree to")
    opens: bool = Field(False, description="add an open pixel to e-mails of those people")


class JourneyHead(Strict):
    """Everything in a journey file except its steps."""

    id: StepId
    name: str = Field(min_length=1)
    purpose: str = Field(description="purpose id: why the journey processes data")
    target: Filter | None = Field(
        None, description="who is enrolled at launch; with a trigger: who of those may enter"
    )
    trigger: Trigger | None = Field(None, description="what lets a person in while it runs")
    reentry: Reentry | None = Field(None, description="never (default) or after <duration>")
    fields: list[str] = Field(default_factory=list, description="the only fields it may read")
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    expires_after: Duration | None = Field(None, description="longest stay of one contact")
    source: str | None = Field(None, description="connector id feeding the journey")
    templates: dict[str, TemplateParts] = Field(default_factory=dict)
    tracking: Tracking | None = Field(
        None, description="clicks and opens per person, under an analytics purpose"
    )


class JourneyDefinition(JourneyHead):
    """A whole journey: head plus its step graph (the first step is the entry)."""

    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _link_following(self) -> JourneyDefinition:
        for step, after in zip(self.steps, [*self.steps[1:], None], strict=True):
            step._following = after.id if after else None
        return self

    def step(self, step_id: str) -> Step | None:
        """The first step with this id, or None."""
        return next((s for s in self.steps if s.id == step_id), None)

    def dump(self) -> dict[str, Any]:
        """The journey as JSON-ready data in file layout (round-trips through load_journey)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"steps"})
        return {**data, "steps": [s.flat() for s in self.steps]}


# --- loading -----------------------------------------------------------------------------


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def load_journey(text: str, filename: str = "journey.yaml") -> JourneyDefinition:
    """Parse a journey from YAML (JSON if `filename` ends in .json); raise JourneyError."""
    try:
        data = json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise JourneyError([Problem("", None, f"{where}: {exc.msg}", code="syntax")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise JourneyError([Problem("", None, f"{where}{problem}", code="syntax")]) from exc
    if not isinstance(data, dict):
        raise JourneyError([Problem("", None, "a journey file must be a mapping", code="syntax")])
    return build_journey(data)


def build_journey(data: Mapping[str, Any]) -> JourneyDefinition:
    """Build a journey from already parsed data in file layout; raise JourneyError on problems."""
    head = {k: v for k, v in data.items() if k != "steps"}
    problems: list[Problem] = []
    try:
        JourneyHead.model_validate(head)
    except ValidationError as exc:
        problems += problems_from(exc, "", None, [*_keys(JourneyHead), "steps"])
    raw_steps = data.get("steps")
    steps: list[Step] = []
    indices: list[int] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append(Problem("steps", None, "a non-empty list of steps is required", "error"))
    else:
        for index, raw in enumerate(raw_steps):
            step, found = parse_step(raw, index)
            problems += found
            if step is not None:
                steps.append(step)
                indices.append(index)
    if problems:
        raise JourneyError(problems, _partial(head, problems, steps, indices, raw_steps))
    return JourneyDefinition.model_validate({**head, "steps": steps})


PLACEHOLDERS = {"id": "journey", "name": "journey", "purpose": ""}


def _partial(
    head: dict[str, Any],
    problems: list[Problem],
    steps: list[Step],
    indices: list[int],
    raw_steps: Any,
) -> PartialJourney | None:
    """What loaded of a journey with problems (None when no step did)."""
    broken = {re.split(r"[.\[]", p.path)[0] for p in problems if not p.path.startswith("steps")}
    sound = {k: v for k, v in head.items() if k not in broken and k in _keys(JourneyHead)}
    ids = (
        [r.get("id") for r in raw_steps if isinstance(r, dict)]
        if isinstance(raw_steps, list)
        else []
    )
    try:
        journey = JourneyDefinition.model_validate({**PLACEHOLDERS, **sound, "steps": steps})
    except ValidationError:
        return None
    return PartialJourney(
        journey,
        tuple(indices),
        frozenset(i for i in ids if isinstance(i, str)),
        frozenset(broken | (set(PLACEHOLDERS) - set(sound))),
    )


_STEP_ID: TypeAdapter[str] = TypeAdapter(StepId)


def parse_step(raw: Any, index: int) -> tuple[Step | None, list[Problem]]:
    """Parse one step in file layout: envelope first, then the settings of its registered type."""
    path = f"steps[{index}]"
    if not isinstance(raw, dict):
        return None, [Problem(path, None, "a step must be a mapping")]
    sid = raw.get("id") if isinstance(raw.get("id"), str) else None
    kind = get_step_type(raw["type"]) if isinstance(raw.get("type"), str) else None
    if kind is None:
        return None, [*_check_ids(raw, ("id",), path, sid), _type_problem(raw, path, sid)]
    exits = tuple(kind.exits) + (("next",) if kind.forward else ())
    problems = _check_ids(raw, ("id", *exits), path, sid)
    if "next" in raw and not kind.forward:
        msg = f"a {kind.name} step takes no next"
        problems.append(Problem(f"{path}.next", sid, msg, code="unknown-key"))
    body = {k: v for k, v in raw.items() if k not in {"id", "type", "next", *kind.exits}}
    try:
        settings = kind.settings.model_validate(body)
    except ValidationError as exc:
        known = [*_keys(kind.settings), *exits]
        return None, problems + problems_from(exc, path, sid, known)
    if problems:
        return None, problems
    targets = {k: raw[k] for k in kind.exits if raw.get(k) is not None}
    step = Step(
        id=raw["id"], type=kind.name, next=raw.get("next"), exits=targets, settings=settings
    )
    return step, []


def _check_ids(
    raw: dict[str, Any], keys: Iterable[str], path: str, sid: str | None
) -> list[Problem]:
    problems = []
    for key in keys:
        if key == "id" and "id" not in raw:
            problems.append(
                Problem(f"{path}.id", sid, "required key is missing", code="missing-key")
            )
        elif raw.get(key) is not None:
            try:
                _STEP_ID.validate_python(raw[key])
            except ValidationError as exc:
                problems.append(Problem(f"{path}.{key}", sid, exc.errors()[0]["msg"]))
    return problems


def _type_problem(raw: dict[str, Any], path: str, sid: str | None) -> Problem:
    if "type" not in raw:
        return Problem(f"{path}.type", sid, "required key is missing", code="missing-key")
    known = ", ".join(sorted(step_types()))
    msg = f"unknown step type {raw['type']!r}{_suggest(str(raw['type']), step_types())}"
    return Problem(f"{path}.type", sid, f"{msg}; known: {known}", code="unknown-type")


# --- JSON Schema -------------------------------------------------------------------------


def journey_json_schema() -> dict[str, Any]:
    """The JSON Schema of a journey file (flat step layout, one variant per registered type)."""
    variants = tuple(_flat_model(kind) for kind in step_types().values())
    step: Any = Annotated[Union[variants], Field(discriminator="type")]  # noqa: UP007
    model = create_model("Journey", __base__=JourneyHead, steps=(list[step], Field(min_length=1)))
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Candor journey"
    return schema


def _flat_model(kind: StepType) -> type[BaseModel]:
    fields: dict[str, Any] = {"id": (StepId, ...), "type": (Literal[kind.name], ...)}
    if kind.forward:
        fields["next"] = (StepId | None, Field(None, description="default: the following step"))
    fields |= {exit_: (StepId | None, None) for exit_ in kind.exits}
    name = "".join(part.title() for part in kind.name.split("_")) + "Step"
    doc = kind.description or kind.settings.__doc__
    return create_model(name, __base__=kind.settings, __doc__=doc, **fields)
