"""Journeys: the file format, validation and privacy lint (pure, no I/O, in this package's
modules) and the runtime that launches, advances and archives them (journeys.runtime)."""

from __future__ import annotations

from candor.journeys import steps as _steps  # registers the built-in step types
from candor.journeys.definition import (
    Condition,
    EventCondition,
    Filter,
    JourneyDefinition,
    JourneyError,
    Problem,
    Step,
    build_journey,
    journey_json_schema,
    load_journey,
    parse_step,
)
from candor.journeys.lint import check, has_errors, lint
from candor.journeys.reference import PurposeInfo, Registry, StaticRegistry
from candor.journeys.step_types import (
    StepType,
    TemplateParts,
    get_step_type,
    parse_duration,
    register_step,
    step_types,
    unregister_step,
)
from candor.journeys.validate import next_steps, reachable, validate

__all__ = [
    "Condition",
    "EventCondition",
    "Filter",
    "JourneyDefinition",
    "JourneyError",
    "Problem",
    "PurposeInfo",
    "Registry",
    "StaticRegistry",
    "Step",
    "StepType",
    "TemplateParts",
    "build_journey",
    "check",
    "get_step_type",
    "has_errors",
    "journey_json_schema",
    "lint",
    "load_journey",
    "next_steps",
    "parse_duration",
    "parse_step",
    "reachable",
    "register_step",
    "step_types",
    "unregister_step",
    "validate",
]

del _steps
