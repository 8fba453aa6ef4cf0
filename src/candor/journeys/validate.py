"""Structural and reference checks of a loaded journey against a registry.

Every problem is reported (never only the first), each with its step id and key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from candor.journeys.definition import (
    FILTER_ADAPTER,
    MAX_NESTING,
    AudienceRef,
    Condition,
    DecisionCondition,
    EventCondition,
    Filter,
    JourneyDefinition,
    JourneyError,
    PartialJourney,
    Problem,
    Step,
    build_journey,
)
from candor.journeys.reference import InlineTemplates, Registry
from candor.journeys.step_types import get_step_type, template_errors
from candor.journeys.trigger_checks import decision_problems, event_fields, trigger_problems

# --- the step graph ----------------------------------------------------------------------


def next_steps(step: Step) -> dict[str, str]:
    """Where a step can lead, as exit key path -> step id (`next`, `on_timeout`,
    `cases[0].next`, `default`); a forward step without `next` leads to the following step."""
    kind = get_step_type(step.type)
    out: dict[str, str] = {}
    if kind is None:
        return out
    target = step.next or step.following
    if kind.forward and target:
        out["next"] = target
    out.update(step.exits)
    if kind.targets is not None:
        out.update(dict(kind.targets(step.settings)))
    return out


def steps_by_id(defn: JourneyDefinition) -> dict[str, Step]:
    """The steps by id, in file order (the first of duplicates wins)."""
    out: dict[str, Step] = {}
    for step in defn.steps:
        out.setdefault(step.id, step)
    return out


def reachable(defn: JourneyDefinition, stop: Callable[[Step], bool] | None = None) -> set[str]:
    """Ids reachable from the first step; a step for which `stop` holds is not passed through."""
    steps = steps_by_id(defn)
    seen: set[str] = set()
    todo = [defn.steps[0].id]
    while todo:
        sid = todo.pop()
        if sid in seen or sid not in steps:
            continue
        seen.add(sid)
        if stop is None or not stop(steps[sid]):
            todo.extend(next_steps(steps[sid]).values())
    return seen


def flow_order(defn: JourneyDefinition) -> list[str]:
    """Step ids as the journey flows: depth first from the first step, each step's exits in
    order (next, named exits, branch cases, default), so the main path reads first and side
    exits after it; unreachable steps last, in file order. Reports, Mission Control and
    `journey status` list steps this way."""
    steps = steps_by_id(defn)
    order: list[str] = []
    stack = [defn.steps[0].id]
    while stack:
        sid = stack.pop()
        if sid in order or sid not in steps:
            continue
        order.append(sid)
        stack.extend(reversed(list(next_steps(steps[sid]).values())))
    return order + [sid for sid in steps if sid not in order]


def stored_flow_order(definition: Any) -> list[str]:
    """flow_order of a stored definition (file layout); empty when it no longer loads."""
    try:
        return flow_order(build_journey(definition))
    except JourneyError:
        return []


def waits(step: Step) -> bool:
    """Whether the step holds contacts (so a loop through it cannot spin)."""
    kind = get_step_type(step.type)
    return kind is not None and kind.holds(step.settings)


def loops_without_wait(defn: JourneyDefinition) -> list[list[str]]:
    """Groups of step ids (file order) that can cycle without passing a waiting step."""
    steps = steps_by_id(defn)
    moving = {sid for sid, step in steps.items() if not waits(step)}
    edges = {sid: {t for t in next_steps(steps[sid]).values() if t in moving} for sid in moving}
    after = {sid: _closure(edges, sid) for sid in moving}
    groups: list[list[str]] = []
    done: set[str] = set()
    for sid in steps:
        if sid in moving and sid in after[sid] and sid not in done:
            group = [o for o in steps if o in after[sid] and sid in after.get(o, set())]
            done.update(group)
            groups.append(group)
    return groups


def _closure(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        sid = todo.pop()
        if sid not in seen:
            seen.add(sid)
            todo.extend(edges[sid])
    return seen


# --- validation --------------------------------------------------------------------------


def validate(defn: JourneyDefinition, registry: Registry) -> list[Problem]:
    """Every structural and reference problem of the journey (an empty list: it is sound)."""
    reg = InlineTemplates(registry, defn.templates)
    problems = _check_head(defn, reg)
    for index, step in enumerate(defn.steps):
        problems += _check_step(index, step, defn, reg)
    return problems + _check_graph(defn)


# Findings that a head key left out of a partial journey would make false.
NEEDS = {
    "purpose": {"unknown-purpose"},
    "fields": {"undeclared-field", "unknown-field"},
    "templates": {"unknown-template", "template-channel", "undeclared-field"},
}


def partial_problems(partial: PartialJourney, registry: Registry) -> list[Problem]:
    """The reference problems of what loaded of a journey with structural ones, so both are
    reported at once; the graph (reachability, loops) is checked once every step loads."""
    defn = partial.journey
    reg = InlineTemplates(registry, defn.templates)
    found = _check_head(defn, reg)
    for index, step in zip(partial.indices, defn.steps, strict=True):
        found += _check_step(index, step, defn, reg)
        exits = _check_exits(index, step, set(partial.step_ids))
        found += [p for p in exits if p.code == "dangling-target"]
    skip = set().union(*(NEEDS.get(key, set()) for key in partial.broken_keys))
    if len(partial.indices) < len(partial.step_ids):
        skip.add("unknown-event-step")  # the step it names may be one that did not load
    broken = tuple(partial.broken_keys)
    return [
        p
        for p in found
        if p.code not in skip and not any(re.match(rf"{k}($|[.\[])", p.path) for k in broken)
    ]


def field_use(
    path: str, step: str | None, name: str, defn: JourneyDefinition, reg: Registry
) -> list[Problem]:
    """A problem when a used field is not declared in `fields` (or does not exist at all)."""
    if name in defn.fields:
        return []
    if name not in reg.attributes and name not in event_fields(defn, reg):
        msg = f"field {name!r} does not exist and is not declared in fields"
        return [Problem(path, step, msg, code="unknown-field")]
    msg = f"field {name!r} is used but not declared in fields"
    return [Problem(path, step, msg, code="undeclared-field")]


def template_field_problems(
    path: str, step: str | None, template: str, defn: JourneyDefinition, reg: Registry
) -> list[Problem]:
    """A problem for each field the template reads that the journey did not declare."""
    missing = sorted(reg.template_fields(template) - set(defn.fields))
    msg = "template {!r} reads field {!r}, not declared in fields"
    return [Problem(path, step, msg.format(template, f), code="undeclared-field") for f in missing]


def _check_head(defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    problems = []
    if defn.purpose not in reg.purposes:
        msg = f"unknown purpose {defn.purpose!r}"
        problems.append(Problem("purpose", None, msg, code="unknown-purpose"))
    elif reg.purposes[defn.purpose].kind == "analytics":
        msg = "an analytics purpose sends nothing: name it under `tracking`, not as the purpose"
        problems.append(Problem("purpose", None, msg, code="analytics-purpose"))
    if defn.tracking is not None:
        tracked = reg.purposes.get(defn.tracking.purpose)
        if tracked is None or tracked.kind != "analytics":
            msg = f"tracking needs a purpose of kind analytics; {defn.tracking.purpose!r} is not"
            problems.append(Problem("tracking.purpose", None, msg, code="tracking-purpose"))
    seen: set[str] = set()
    properties = event_fields(defn, reg)
    for i, name in enumerate(defn.fields):
        if name not in reg.attributes and name not in properties:
            msg = f"field {name!r} does not exist"
            problems.append(Problem(f"fields[{i}]", None, msg, code="unknown-field"))
        if name in seen:
            problems.append(Problem(f"fields[{i}]", None, "listed twice", "warning", "duplicate"))
        seen.add(name)
    if defn.starts_at and defn.ends_at and defn.ends_at <= defn.starts_at:
        problems.append(Problem("ends_at", None, "ends_at is not after starts_at", code="dates"))
    problems += target_problems(defn.target, "target", reg, defn)
    problems += trigger_problems(defn, reg)
    for tid, parts in defn.templates.items():
        for part, msg in template_errors(tid, parts):
            problems.append(Problem(f"templates.{tid}.{part}", None, msg, code="template-syntax"))
    return problems


def _check_step(index: int, step: Step, defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    path, sid, settings = f"steps[{index}]", step.id, step.settings
    kind = get_step_type(step.type)
    if kind is None:
        msg = f"unknown step type {step.type!r}"
        return [Problem(f"{path}.type", sid, msg, code="unknown-type")]
    problems = _check_refs(path, step, defn, reg)
    for rel, cond in _conditions(settings, ""):
        if isinstance(cond, Condition):
            problems += field_use(f"{path}.{rel}.field", sid, cond.field, defn, reg)
        elif isinstance(cond, DecisionCondition | AudienceRef):
            msg = "decision and audience conditions only work in targets"
            problems.append(Problem(f"{path}.{rel}", sid, msg, code="target-only"))
        elif not _sends(defn.step(cond.step)):
            msg = f"event step {cond.step!r} is not a step that sends a message"
            problems.append(Problem(f"{path}.{rel}.step", sid, msg, code="unknown-event-step"))
    for rel, name in kind.fields(settings) if kind.fields else []:
        problems += field_use(f"{path}.{rel}", sid, name, defn, reg)
    for rel, msg in kind.check(step) if kind.check else []:
        problems.append(Problem(f"{path}.{rel}", sid, msg))
    return problems


def _check_refs(path: str, step: Step, defn: JourneyDefinition, reg: Registry) -> list[Problem]:
    sid, settings = step.id, step.settings
    problems = []
    theme = getattr(settings, "theme", None)
    if theme and theme not in reg.themes and theme not in reg.theme_groups:
        problems.append(
            Problem(f"{path}.theme", sid, f"unknown theme {theme!r}", "error", "unknown-theme")
        )
    template, channel = getattr(settings, "template", None), getattr(settings, "channel", None)
    if not template:
        return problems
    if template not in reg.templates:
        msg = f"unknown template {template!r}"
        return [*problems, Problem(f"{path}.template", sid, msg, code="unknown-template")]
    if channel and channel not in reg.templates[template]:
        msg = f"template {template!r} has no {channel} parts"
        problems.append(Problem(f"{path}.template", sid, msg, code="template-channel"))
    return problems + template_field_problems(f"{path}.template", sid, template, defn, reg)


def _sends(step: Step | None) -> bool:
    return step is not None and isinstance(getattr(step.settings, "template", None), str)


Atom = Condition | EventCondition | DecisionCondition | AudienceRef


def target_problems(
    target: Filter | None,
    path: str,
    reg: Registry,
    defn: JourneyDefinition | None = None,
    depth: int = 0,
) -> list[Problem]:
    """Problems of a target filter (a journey's, when `defn` is given, or an audience's):
    fields that do not exist or are undeclared, unknown purposes, themes and audiences."""
    problems: list[Problem] = []
    for where, cond in _conditions(target, path):
        if isinstance(cond, EventCondition):
            msg = "event conditions only work in branch steps"
            problems.append(Problem(where, None, msg, code="event-in-target"))
        elif isinstance(cond, Condition):
            problems += _target_field(f"{where}.field", cond.field, reg, defn)
        elif isinstance(cond, DecisionCondition):
            problems += decision_problems(f"{where}.decision", cond.decision, reg)
        else:
            problems += _audience_problems(f"{where}.audience", cond.audience, reg, defn, depth)
    return problems


def _target_field(
    path: str, name: str, reg: Registry, defn: JourneyDefinition | None
) -> list[Problem]:
    if defn is not None:
        return field_use(path, None, name, defn, reg)
    if name not in reg.attributes:
        return [Problem(path, None, f"field {name!r} does not exist", code="unknown-field")]
    return []


def _audience_problems(
    path: str, audience: str, reg: Registry, defn: JourneyDefinition | None, depth: int
) -> list[Problem]:
    if audience not in reg.audiences:
        return [Problem(path, None, f"unknown audience {audience!r}", code="unknown-audience")]
    if depth >= MAX_NESTING:
        msg = f"audience {audience!r} nests audiences too deeply"
        return [Problem(path, None, msg, code="audience-depth")]
    try:
        stored = FILTER_ADAPTER.validate_python(reg.audiences[audience])
    except ValidationError:
        msg = f"audience {audience!r} is stored with an invalid filter"
        return [Problem(path, None, msg, code="unknown-audience")]
    found = target_problems(stored, path, reg, defn, depth + 1)
    # Its own problems are the audience's to fix; here each names the audience it came from.
    return [
        Problem(p.path, p.step, f"in audience {audience!r}: {p.message}", p.severity, p.code)
        for p in found
    ]


def _conditions(obj: Any, path: str) -> Iterator[tuple[str, Atom]]:
    """Every condition inside `obj` (a model, list or dict), with its key path."""
    if isinstance(obj, Atom):
        yield path, obj
    elif isinstance(obj, BaseModel):
        for name, info in type(obj).model_fields.items():
            key = info.alias or name
            yield from _conditions(getattr(obj, name), f"{path}.{key}" if path else key)
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _conditions(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            yield from _conditions(item, f"{path}.{key}" if path else str(key))


def _check_graph(defn: JourneyDefinition) -> list[Problem]:
    problems: list[Problem] = []
    ids = {s.id for s in defn.steps}
    seen: set[str] = set()
    first: dict[str, int] = {}
    for i, step in enumerate(defn.steps):
        if step.id in seen:
            msg = f"duplicate step id {step.id!r}"
            problems.append(Problem(f"steps[{i}].id", step.id, msg, code="duplicate-id"))
            continue
        seen.add(step.id)
        first[step.id] = i
        problems += _check_exits(i, step, ids)
    reach = reachable(defn)
    for sid, i in first.items():
        if sid not in reach:
            msg = "unreachable from the first step"
            problems.append(Problem(f"steps[{i}]", sid, msg, code="unreachable"))
    for group in loops_without_wait(defn):
        msg = "loop without a waiting step: " + " -> ".join([*group, group[0]])
        problems.append(
            Problem(f"steps[{first[group[0]]}]", group[0], msg, code="loop-without-wait")
        )
    return problems


def _check_exits(index: int, step: Step, ids: set[str]) -> list[Problem]:
    problems = []
    exits = next_steps(step)
    for key, target in exits.items():
        if target not in ids:
            msg = f"no step with id {target!r}"
            problems.append(Problem(f"steps[{index}].{key}", step.id, msg, code="dangling-target"))
    kind = get_step_type(step.type)
    if kind is not None and kind.forward and "next" not in exits:
        msg = "no way forward: name a next step, or finish with an end step"
        problems.append(Problem(f"steps[{index}]", step.id, msg, code="missing-target"))
    return problems
