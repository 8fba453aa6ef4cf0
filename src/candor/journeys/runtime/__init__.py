"""The journey runtime: launch (enroll), advance (step handlers), archive, simulate, worker.

Importing the package registers the built-in step handlers; other packages add theirs
(reference, transfer, forget, score) with register_handler.
"""

from __future__ import annotations

from candor.journeys.runtime import (
    steps_blocks,
    steps_consent,
    steps_flow,
    steps_rights,
    steps_send,
)
from candor.journeys.runtime.advance import advance
from candor.journeys.runtime.archive import archive_journey, journey_status, stop_journey
from candor.journeys.runtime.batch_moves import Member, Move, Moves, StepContext
from candor.journeys.runtime.enroll import JourneyRefused, LaunchReport, launch, save_draft
from candor.journeys.runtime.handlers import Handler, get_handler, register_handler
from candor.journeys.runtime.reference_data import DbRegistry
from candor.journeys.runtime.simulate import simulate
from candor.journeys.runtime.worker import RunStats, default_dispatch, run_until_idle, run_worker

__all__ = [
    "DbRegistry",
    "Handler",
    "JourneyRefused",
    "LaunchReport",
    "Member",
    "Move",
    "Moves",
    "RunStats",
    "StepContext",
    "advance",
    "archive_journey",
    "default_dispatch",
    "get_handler",
    "journey_status",
    "launch",
    "register_handler",
    "run_until_idle",
    "run_worker",
    "save_draft",
    "simulate",
    "stop_journey",
]

del steps_blocks, steps_consent, steps_flow, steps_rights, steps_send
