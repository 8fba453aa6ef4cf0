"""What providers and mail servers report back about a message, in one shape for all channels.

A status callback (Twilio, Meta, the generic adapter), a delivery status notification
(RFC 3464) and an abuse feedback report (RFC 5965) all become a Report: the delivery state
it leads to, whether the address is now known to be unusable, and the report's own words
as evidence. channels.delivery applies Reports; nothing else changes delivery state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

# Delivery states of an outbound communication, by how far they got. A report never moves a
# message back (a late `sent` after `delivered`); a complaint comes after delivery.
STATES: Final = ("queued", "sent", "delivered", "failed", "undelivered", "bounced", "complained")
RANK: Final[Mapping[str, int]] = {
    "queued": 0,
    "sent": 1,
    "delivered": 2,
    "failed": 3,
    "undelivered": 3,
    "bounced": 3,
    "complained": 4,
}
ReportKind = Literal["status", "bounce", "complaint"]
EVIDENCE: Final = "delivery_evidence"  # the vault's associated data of a report's evidence
RAW_FIELD: Final = "delivery_report_raw"  # ... and of a held report's raw message
# What a report does to the address besides the message's state.
Effect = Literal["none", "undeliverable", "soft_bounce", "block"]


@dataclass(frozen=True)
class Report:
    """One report about one message, found by our message id, the provider's id, or the token.

    `evidence` holds the report's machine-readable fields (status codes, diagnostic text,
    reporting server, feedback type); it is sealed with the person's key when stored.
    """

    channel: str
    kind: ReportKind
    state: str  # one of STATES: what the message's delivery state becomes
    effect: Effect = "none"
    detail: str | None = None  # a short code: 5.1.1, twilio_30005, meta_131026, abuse
    outbox_id: int | None = None
    message_id: str | None = None  # our id of the message (SMS/WhatsApp), checked if given
    provider_ref: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    raw: bytes | None = field(default=None, repr=False)  # kept only if it matches no message

    def __post_init__(self) -> None:
        if self.state not in RANK:
            raise ValueError(f"unknown delivery state {self.state!r}")


@dataclass(frozen=True)
class Unreadable:
    """A report that could not be read or matched: kept for review with the raw message."""

    channel: str
    problem: str  # what went wrong, for the reviewer (no personal data)
    raw: bytes


def advances(current: str | None, new: str) -> bool:
    """Whether `new` may replace `current` (never backwards; the same rank replaces)."""
    return current is None or RANK[new] >= RANK.get(current, -1)
