"""decide(): the one rule that says whether a person may be contacted, and why.

A pure function of ledger facts (no I/O). Reasons are stable codes checked in a fixed
order; allowed decisions name their legal basis. policy.twin holds the same rule in SQL for
whole target groups; a property test proves the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final, NamedTuple

from candor.core.durations import subtract
from candor.policy.facts import (
    AddressFacts,
    BlockFacts,
    ConsentFacts,
    ContactFacts,
    PurposeFacts,
    ThemeRef,
)

DENIAL_REASONS: Final = (
    "erased",
    "restricted",
    "objected",
    "blocked:all",
    "blocked:channel",
    "blocked:address",
    "blocked:theme",
    "undeliverable",
    "not_asked",
    "refused",
    "withdrawn",
    "expired",
    "doi_pending",
    "reconsent_required",
)
ALLOWED: Final = "allowed"
BASES: Final = ("consent", "legitimate_interest", "contract", "legal_obligation")
BLOCK_KINDS: Final = ("all", "channel", "address", "theme")
# Events that decide; `requested` only records that we asked.
DECISIVE_STATUSES: Final = frozenset(
    {"granted", "confirmed", "refused", "withdrawn", "expired", "pending"}
)


class Decision(NamedTuple):
    """What decide() answers: allowed or the reason why not, with the basis and its event.

    A named tuple: immutable, like the frozen dataclass it replaced, but built without an
    object.__setattr__ per field (the twin turns every row of a batch into one).
    """

    allowed: bool
    reason: str  # "allowed" or one of DENIAL_REASONS
    basis: str | None = None
    event_id: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "basis": self.basis,
            "event": self.event_id,
        }


def deny(reason: str, event_id: int | None = None) -> Decision:
    return Decision(False, reason, None, event_id)


def block_kind(channel: str | None, address_id: int | None, theme: str | None) -> str:
    """Which reason a block yields, from its scope: theme beats address beats channel."""
    if theme is not None:
        return "theme"
    if address_id is not None:
        return "address"
    if channel is not None:
        return "channel"
    return "all"


def decide(
    contact: ContactFacts,
    purpose: PurposeFacts,
    channel: str | None,
    address: int | None,
    theme: ThemeRef | None,
    at: datetime,
) -> Decision:
    """May `contact` be contacted for `purpose` on `channel`/`address` about `theme` at `at`?"""
    if _since(contact.erased_at, at):
        return deny("erased")
    if _since(contact.restricted_at, at):
        return deny("restricted")
    marketing = purpose.kind == "marketing"
    if marketing and _since(contact.objected_at, at):
        return deny("objected")
    resolved = resolve_address(contact.addresses, channel, address)
    resolved_id = resolved.id if resolved is not None else None
    if marketing:
        kind = first_block(contact.blocks, channel, resolved_id, theme, at)
        if kind is not None:
            return deny(f"blocked:{kind}")
    if (channel is not None or address is not None) and resolved is None:
        return deny("undeliverable")
    event = latest_covering(contact.events, purpose.id, channel, resolved_id, theme, at)
    return consent_decision(purpose, event, at)


def _since(moment: datetime | None, at: datetime) -> bool:
    return moment is not None and moment <= at


def resolve_address(
    addresses: Iterable[AddressFacts], channel: str | None, address: int | None
) -> AddressFacts | None:
    """The deliverable address a message would go to: the given one, else the channel's first."""
    usable = [a for a in addresses if a.deliverable and (channel is None or a.channel == channel)]
    if address is not None:
        return next((a for a in usable if a.id == address), None)
    if channel is None:
        return None
    return min(usable, key=lambda a: a.id, default=None)


def first_block(
    blocks: Iterable[BlockFacts],
    channel: str | None,
    address_id: int | None,
    theme: ThemeRef | None,
    at: datetime,
) -> str | None:
    """The first block kind (in reason order) among the active blocks covering the request."""
    kinds = {
        b.kind
        for b in blocks
        if _block_active(b, at) and _block_covers(b, channel, address_id, theme)
    }
    return next((kind for kind in BLOCK_KINDS if kind in kinds), None)


def _block_active(block: BlockFacts, at: datetime) -> bool:
    started = block.created_at is None or block.created_at <= at
    return started and (block.lifted_at is None or block.lifted_at > at)


def _block_covers(
    block: BlockFacts, channel: str | None, address_id: int | None, theme: ThemeRef | None
) -> bool:
    return (
        (block.channel is None or block.channel == channel)
        and (block.address_id is None or block.address_id == address_id)
        and (block.theme is None or (theme is not None and block.theme in theme.scopes()))
    )


def latest_covering(
    events: Iterable[ConsentFacts],
    purpose_id: str,
    channel: str | None,
    address_id: int | None,
    theme: ThemeRef | None,
    at: datetime,
) -> ConsentFacts | None:
    """Among decisive events whose scope covers the request, the latest one wins."""
    scopes = theme.scopes() if theme is not None else ()
    covering = [
        e
        for e in events
        if e.purpose_id == purpose_id
        and e.status in DECISIVE_STATUSES
        and e.occurred_at <= at
        and (e.theme is None or e.theme in scopes)
        and (e.channel is None or e.channel == channel)
        and (e.address_id is None or e.address_id == address_id)
    ]
    return max(covering, key=lambda e: (e.occurred_at, e.id), default=None)


def consent_decision(purpose: PurposeFacts, event: ConsentFacts | None, at: datetime) -> Decision:
    """The outcome once nothing stronger denies: the legal basis and the deciding event."""
    if purpose.legal_basis != "consent":
        if event is not None and event.status in ("refused", "withdrawn"):
            return deny(event.status, event.id)
        return Decision(True, ALLOWED, purpose.legal_basis, None)
    if event is None:
        return deny("not_asked")
    if event.status in ("refused", "withdrawn", "expired"):
        return deny(event.status, event.id)
    if event.status == "pending":
        return deny("doi_pending", event.id)
    if purpose.consent_valid_for is not None and event.occurred_at < subtract(
        at, purpose.consent_valid_for
    ):
        return deny("expired", event.id)
    if event.purpose_version < purpose.reconsent_floor:
        return deny("reconsent_required", event.id)
    return Decision(True, ALLOWED, "consent", event.id)
