"""The decision filter of targets: `{decision: {purpose, reason, channel, theme}}` selects
the people the gate answers `reason` for (compiled to the SQL twin by journeys.runtime.filters)."""

from __future__ import annotations

from pydantic import Field, model_validator

from candor.journeys.step_types import Channel, Strict
from candor.policy.decide import ALLOWED, DENIAL_REASONS


class DecisionQuery(Strict):
    """The gate's question: a purpose, optionally a channel and a theme, and the answer."""

    purpose: str
    reason: str = Field(description="one of decide()'s reason codes, or allowed")
    channel: Channel | None = None
    theme: str | None = None

    @model_validator(mode="after")
    def _known_reason(self) -> DecisionQuery:
        if self.reason != ALLOWED and self.reason not in DENIAL_REASONS:
            raise ValueError(f"reason must be allowed or one of {', '.join(DENIAL_REASONS)}")
        return self


class DecisionCondition(Strict):
    """`{decision: {purpose, reason}}`: people the gate answers `reason` for now (targets)."""

    decision: DecisionQuery


__all__ = ["DecisionCondition", "DecisionQuery"]
