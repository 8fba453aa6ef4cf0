"""The open registry of step handlers, keyed by step type (rights adds reference, forget...).

A handler's `run` sorts a claimed batch into Moves; its optional `wake` is an SQL condition
on journey_contacts (aliased `jc` = the table) that makes a waiting contact due before its
timeout, for steps that hold until something happens (a consent, a click).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy.sql.elements import ColumnElement

from candor.journeys.runtime.batch_moves import Member, Moves, StepContext

StepRun = Callable[[StepContext, list[Member]], Moves]
StepWake = Callable[[StepContext], ColumnElement[bool] | None]


@dataclass(frozen=True)
class Handler:
    """How the runtime executes one step type."""

    run: StepRun
    wake: StepWake | None = None
    # True when the step writes nothing decide() reads (ledger, blocks, contact state), so
    # gate decisions taken earlier in the batch's transaction stay true after it runs.
    keeps_decisions: bool = False


_HANDLERS: dict[str, Handler] = {}


def register_handler(
    type_name: str, handler: Handler | StepRun, *, replace: bool = True
) -> Handler:
    """Make the runtime execute steps of `type_name` with `handler` (a Handler or a run)."""
    if not isinstance(handler, Handler):
        handler = Handler(run=handler)
    if type_name in _HANDLERS and not replace:
        raise ValueError(f"a handler for step type {type_name!r} is already registered")
    _HANDLERS[type_name] = handler
    return handler


def unregister_handler(type_name: str) -> None:
    """Remove a handler (tests)."""
    _HANDLERS.pop(type_name, None)


def get_handler(type_name: str) -> Handler | None:
    return _HANDLERS.get(type_name)


def handlers() -> Mapping[str, Handler]:
    """A read-only view of the registered handlers."""
    return MappingProxyType(_HANDLERS)
