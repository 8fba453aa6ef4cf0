"""Privacy lint of a journey before launch: errors block the launch, warnings are advice.

Rules: unsubscribe in marketing templates, marketing on WhatsApp only by approved template,
no themes under service purposes, scoring only
under profiling purposes, no undeclared fields in templates, no advertising in opt-in
confirmations; warnings for themed sends nobody was asked about and for a missing end date.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from candor.journeys.definition import JourneyDefinition, Problem, Step
from candor.journeys.reference import InlineTemplates, PurposeInfo, Registry
from candor.journeys.trigger_checks import agreed_on_entry, trigger_warnings
from candor.journeys.validate import next_steps, reachable, template_field_problems, validate

__all__ = ["check", "has_errors", "lint", "next_steps"]

ASKING_TYPES = frozenset({"consent", "opt_in"})


def lint(defn: JourneyDefinition, registry: Registry) -> list[Problem]:
    """Every privacy fault of the journey (errors and warnings); needs no valid graph."""
    reg = InlineTemplates(registry, defn.templates)
    purpose = registry.purposes.get(defn.purpose)
    problems: list[Problem] = []
    for index, step in enumerate(defn.steps):
        problems += _lint_step(f"steps[{index}]", step, defn, reg, purpose)
    problems += _never_asked(defn, reg, purpose)
    problems += trigger_warnings(defn, reg)
    if defn.ends_at is None:
        msg = "no ends_at: the journey and its data would live forever (storage limitation)"
        problems.append(Problem("ends_at", None, msg, "warning", "no-end-date"))
    return problems


def check(defn: JourneyDefinition, registry: Registry) -> list[Problem]:
    """validate() then lint(), without duplicates: what a launch must pass."""
    out: list[Problem] = []
    seen: set[tuple[str, str | None, str]] = set()
    for problem in [*validate(defn, registry), *lint(defn, registry)]:
        key = (problem.path, problem.step, problem.message)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def has_errors(problems: Iterable[Problem]) -> bool:
    """Whether any problem is an error (the CLI exits non-zero then)."""
    return any(p.severity == "error" for p in problems)


def _lint_step(
    path: str, step: Step, defn: JourneyDefinition, reg: Registry, purpose: PurposeInfo | None
) -> list[Problem]:
    settings, sid = step.settings, step.id
    template, theme = getattr(settings, "template", None), getattr(settings, "theme", None)
    problems: list[Problem] = []
    if isinstance(template, str) and template in reg.templates:
        problems += template_field_problems(f"{path}.template", sid, template, defn, reg)
    if step.type == "send" and purpose is not None:
        problems += _lint_send(path, step, reg, purpose)
    if step.type == "score" and purpose is not None and not purpose.profiling:
        msg = f"a score step needs a profiling purpose; {defn.purpose!r} is {purpose.dpv or 'not'}"
        problems.append(Problem(path, sid, msg, code="score-without-profiling"))
    if step.type == "wait" and getattr(settings, "event", None) == "click" and not defn.tracking:
        msg = (
            "clicks are seen per person only under `tracking` (an analytics purpose the person "
            "agreed to): without it this wait always times out"
        )
        problems.append(Problem(path, sid, msg, "warning", "click-without-tracking"))
    if step.type == "opt_in" and theme:
        msg = "an opt-in confirmation carries no advertising: remove the theme"
        problems.append(Problem(f"{path}.theme", sid, msg, code="opt-in-theme"))
    return problems


def _lint_send(path: str, step: Step, reg: Registry, purpose: PurposeInfo) -> list[Problem]:
    settings, sid = step.settings, step.id
    template, channel = getattr(settings, "template", ""), getattr(settings, "channel", "")
    problems = []
    if purpose.kind == "service" and getattr(settings, "theme", None):
        msg = "a service-purpose journey may not send themed (advertising) messages"
        problems.append(Problem(f"{path}.theme", sid, msg, code="service-theme"))
    known = template in reg.templates
    if (
        purpose.kind == "marketing"
        and known
        and not reg.template_has_unsubscribe(template, channel)
    ):
        way = "an unsubscribe link" if channel == "email" else "an unsubscribe link or STOP"
        msg = f"marketing {channel} template {template!r} lacks {way}"
        problems.append(Problem(f"{path}.template", sid, msg, code="no-unsubscribe"))
    if (
        purpose.kind == "marketing"
        and channel == "whatsapp"
        and known
        and not reg.template_is_approved(template)
    ):
        msg = (
            f"marketing on WhatsApp needs an approved template: {template!r} is free text, "
            "which WhatsApp delivers only within 24 hours of the person's own message"
        )
        problems.append(Problem(f"{path}.template", sid, msg, code="whatsapp-free-text"))
    return problems


def _never_asked(
    defn: JourneyDefinition, reg: Registry, purpose: PurposeInfo | None
) -> list[Problem]:
    """Warn about themed sends reachable from the start without passing a covering ask
    (not when people enter because they agreed to the purpose: a trigger on their consent)."""
    if purpose is None or purpose.kind != "marketing" or purpose.legal_basis != "consent":
        return []
    if agreed_on_entry(defn):
        return []
    problems = []
    for index, step in enumerate(defn.steps):
        theme = getattr(step.settings, "theme", None)
        if step.type != "send" or not theme:
            continue
        if step.id in reachable(defn, stop=partial(_asks_about, theme=theme, reg=reg)):
            msg = (
                f"no consent or opt_in step for theme {theme!r} before this send on some path: "
                "people never asked will be skipped"
            )
            problems.append(Problem(f"steps[{index}].theme", step.id, msg, "warning", "not-asked"))
    return problems


def _asks_about(step: Step, theme: str, reg: Registry) -> bool:
    if step.type not in ASKING_TYPES:
        return False
    asked = getattr(step.settings, "theme", None)
    return asked is None or asked == theme or reg.themes.get(theme) == asked
