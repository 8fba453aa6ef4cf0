"""The facts decide() reads: plain values loaded from the ledger, so decide stays pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from candor.core.durations import DurationLike


@dataclass(frozen=True)
class PurposeFacts:
    id: str
    kind: str  # marketing | service
    legal_basis: str  # consent | legitimate_interest | contract | legal_obligation
    current_version: int = 1
    reconsent_floor: int = 0
    consent_valid_for: DurationLike | None = None
    double_opt_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class ThemeRef:
    id: str
    group: str | None = None

    def scopes(self) -> tuple[str, ...]:
        """The theme scopes that cover this theme: itself and its group."""
        return (self.id,) if self.group is None else (self.id, self.group)


@dataclass(frozen=True)
class AddressFacts:
    id: int
    channel: str
    deliverable: bool = True


@dataclass(frozen=True)
class BlockFacts:
    id: int
    kind: str  # all | channel | address | theme
    channel: str | None = None
    address_id: int | None = None
    theme: str | None = None
    created_at: datetime | None = None
    lifted_at: datetime | None = None


@dataclass(frozen=True)
class ConsentFacts:
    id: int
    purpose_id: str
    purpose_version: int
    status: str
    occurred_at: datetime
    theme: str | None = None
    channel: str | None = None
    address_id: int | None = None


@dataclass(frozen=True)
class ContactFacts:
    id: int
    erased_at: datetime | None = None
    restricted_at: datetime | None = None
    objected_at: datetime | None = None
    addresses: tuple[AddressFacts, ...] = ()
    blocks: tuple[BlockFacts, ...] = ()
    events: tuple[ConsentFacts, ...] = field(default=())
