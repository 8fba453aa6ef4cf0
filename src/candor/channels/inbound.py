"""Inbound messages and delivery receipts: recorded as communications, acted on.

STOP-style keywords set an address block with the inbound message as evidence (its id, and
its words sealed with the contact's key); START lifts
the blocks set by keyword (never one set another way). Unknown senders are not stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select, update

from candor.channels.compose import outbox_id_of
from candor.channels.delivery import apply_reports, find_targets
from candor.channels.keywords import KeywordConfig, classify_inbound
from candor.channels.reports import Report
from candor.channels.sms import DeliveryReceipt
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.communications import record_communication
from candor.store.tables import addresses, block_lifts, blocks, contacts
from candor.store.vault import Vault

KEYWORD_SOURCE = "keyword"
STOP_REASON = "STOP keyword"
EVIDENCE_TEXT = 160  # the person's own words kept (sealed) as the evidence of a keyword


@dataclass(frozen=True)
class InboundResult:
    """What an inbound message did (ids and codes only)."""

    recorded: bool
    keyword: str = "none"
    communication_id: int | None = None
    block_ids: tuple[int, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "keyword": self.keyword,
            "communication": self.communication_id,
            "blocks": list(self.block_ids),
        }


class Sender(NamedTuple):
    """Who wrote: the contact, their address on this channel (value and id) if they have one
    there, and their language."""

    contact_id: int
    address: str | None
    address_id: int | None
    language: str


def _sender(conn: Connection, vault: Vault, channel: str, sender: str) -> Sender | None:
    """The sender, found via the blind index."""
    try:
        value = normalize(channel, sender)
    except AddressError:
        return None
    index = vault.blind_index(channel, value)
    phone_channels = ("sms", "whatsapp") if channel in ("sms", "whatsapp") else (channel,)
    rows = conn.execute(
        select(addresses.c.id, addresses.c.contact_id, addresses.c.channel, contacts.c.language)
        .join(contacts, contacts.c.id == addresses.c.contact_id)
        .where(
            addresses.c.channel.in_(phone_channels),
            addresses.c.blind_index == index,
            contacts.c.erased_at.is_(None),
        )
        .order_by(addresses.c.id)
    ).all()
    if not rows:
        return None
    exact = next((r for r in rows if r.channel == channel), None)
    chosen = exact or rows[0]
    return Sender(
        int(chosen.contact_id),
        value if exact else None,
        int(exact.id) if exact else None,
        chosen.language,
    )


def receive_inbound(
    conn: Connection,
    vault: Vault,
    channel: str,
    sender: str,
    text: str,
    *,
    keywords: KeywordConfig | None = None,
    provider_message_id: str | None = None,
    at: datetime,
) -> InboundResult:
    """Record an inbound message and apply STOP/START; unknown senders leave no trace."""
    found = _sender(conn, vault, channel, sender)
    if found is None:
        return InboundResult(recorded=False)
    contact_id, address, address_id, language = found
    if address_id is not None:  # opens (or renews) WhatsApp's 24-hour service window
        conn.execute(
            update(addresses).where(addresses.c.id == address_id).values(last_inbound_at=at)
        )
    kind = classify_inbound(text or "", language, keywords)
    ref = f"inbound:{kind}" + (f":{provider_message_id[:100]}" if provider_message_id else "")
    comm = record_communication(
        conn,
        vault,
        contact_id,
        channel=channel,
        direction="in",
        address=address,
        content_ref=ref,
        actor="inbound",
        at=at,
    )
    changed: list[int] = []
    proof = {
        "signal": "inbound keyword",
        "keyword": kind,
        "channel": channel,
        "text": (text or "")[:EVIDENCE_TEXT],
        "provider_message_id": provider_message_id[:100] if provider_message_id else None,
        "time": at.isoformat(),
    }
    if kind == "stop" and not _keyword_blocks(conn, contact_id, channel, at):
        changed.append(
            set_block(
                conn,
                vault,
                contact_id,
                reason=STOP_REASON,
                source=KEYWORD_SOURCE,
                channel=channel,
                address=address,
                communication_id=comm,
                evidence=proof,
                actor="inbound",
                at=at,
            )
        )
    elif kind == "start":
        for block_id in _keyword_blocks(conn, contact_id, channel, at):
            lift_block(
                conn,
                vault,
                block_id,
                reason="START keyword",
                source=KEYWORD_SOURCE,
                communication_id=comm,
                evidence=proof,
                actor="inbound",
                at=at,
            )
            changed.append(block_id)
    return InboundResult(True, kind, comm, tuple(changed))


def _keyword_blocks(conn: Connection, contact_id: int, channel: str, at: datetime) -> list[int]:
    """Active blocks a keyword set on this channel for this contact."""
    query = (
        select(blocks.c.id)
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(
            blocks.c.contact_id == contact_id,
            blocks.c.channel == channel,
            blocks.c.source == KEYWORD_SOURCE,
            blocks.c.created_at <= at,
            block_lifts.c.block_id.is_(None),
        )
        .order_by(blocks.c.id)
    )
    return [int(b) for b in conn.execute(query).scalars()]


def apply_receipt(
    conn: Connection, vault: Vault, channel: str, receipt: DeliveryReceipt, *, at: datetime
) -> str:
    """Apply the generic adapter's delivery receipt: `undeliverable` makes the address unusable.

    Returns what happened: unknown, delivered, failed or undeliverable.
    """
    outbox_id = outbox_id_of(receipt.message_id)
    if outbox_id is None:
        return "unknown"
    report = Report(
        channel,
        "status",
        {"delivered": "delivered", "failed": "failed"}.get(receipt.status, "undelivered"),
        "undeliverable" if receipt.permanent else "none",
        receipt.error[:64] if receipt.error else None,
        outbox_id=outbox_id,
        message_id=receipt.message_id,
        evidence={"provider": "http", "status": receipt.status, "error": receipt.error},
    )
    if not find_targets(conn, [report]):
        return "unknown"
    apply_reports(conn, vault, [report], at=at, actor="receipt")
    return receipt.status
