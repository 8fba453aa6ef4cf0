"""The preference center's model: purposes x themes x channels, each box decided by decide().

Boxes are ticked only where decide() allows contact right now (privacy by default); saving
records one ledger event per changed box, with the page's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, select

from candor.ledger.addresses import MESSAGE_CHANNELS
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.contacts import contact_row
from candor.ledger.registry import facts_from_row
from candor.policy.decide import Decision, decide
from candor.policy.facts import ContactFacts, PurposeFacts, ThemeRef
from candor.policy.load import contact_facts
from candor.rights.messages import queue_doi_confirmation
from candor.store.tables import addresses, block_lifts, blocks, purpose_versions, purposes, themes
from candor.store.vault import Vault
from candor.web.pages.i18n import translator

# DPV terms that mark a purpose as profiling or sharing: one box, no channels.
PROFILING_TERMS: Final = ("Profiling", "Sharing", "SellData", "PersonalisedAdvertising")
PAGE_SOURCE: Final = "preference_center"
BLOCK_REASON: Final = "complete advertising block asked for in the preference center"


@dataclass
class Box:
    """One checkbox: a consent scope and whether decide() allows it now."""

    key: str
    purpose: str
    theme: str | None
    channel: str | None
    decision: Decision

    @property
    def ticked(self) -> bool:
        return self.decision.allowed

    @property
    def pending(self) -> bool:
        return self.decision.reason == "doi_pending"


@dataclass
class Row:
    label: str
    group: str | None
    boxes: list[Box]


@dataclass
class Section:
    """One purpose: its current wording and version, and its rows of boxes."""

    purpose: PurposeFacts
    name: str
    wording: str
    version: int
    dpv: str
    rows: list[Row] = field(default_factory=list)

    @property
    def boxes(self) -> list[Box]:
        return [b for r in self.rows for b in r.boxes]


@dataclass
class Preferences:
    contact_id: int
    channels: list[str]
    sections: list[Section]
    complete_block: int | None  # id of the active complete block, if any

    def box(self, key: str) -> Box | None:
        return next((b for s in self.sections for b in s.boxes if b.key == key), None)


def box_key(purpose: str, theme: str | None, channel: str | None) -> str:
    return f"{purpose}|{theme or ''}|{channel or ''}"


def _channels(conn: Connection, contact_id: int) -> list[str]:
    held = set(
        conn.execute(
            select(addresses.c.channel).where(addresses.c.contact_id == contact_id)
        ).scalars()
    )
    return [c for c in MESSAGE_CHANNELS if c in held] or ["email"]


def _theme_rows(conn: Connection) -> list[tuple[str | None, str, str | None]]:
    """(theme id or None for all topics, label, group) in display order: grouped first."""
    rows = conn.execute(select(themes).order_by(themes.c.group_id, themes.c.id)).mappings().all()
    grouped = [r for r in rows if r["group_id"]]
    single = [r for r in rows if not r["group_id"]]
    out: list[tuple[str | None, str, str | None]] = [(None, "", None)]
    out += [(r["id"], r["name"], r["group_id"]) for r in grouped]
    out += [(r["id"], r["name"], None) for r in single]
    return out


def active_complete_block(conn: Connection, contact_id: int) -> int | None:
    """The id of an active complete (kind all) advertising block, if there is one."""
    found = conn.execute(
        select(blocks.c.id)
        .outerjoin(block_lifts, block_lifts.c.block_id == blocks.c.id)
        .where(
            blocks.c.contact_id == contact_id,
            blocks.c.kind == "all",
            block_lifts.c.block_id.is_(None),
        )
        .order_by(blocks.c.id.desc())
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None


def load_preferences(conn: Connection, contact_id: int, at: datetime) -> Preferences:
    """Every marketing and analytics purpose with its current wording, and a decided box per
    scope (profiling and analytics: one box for the whole purpose)."""
    contact_row(conn, contact_id)
    channels = _channels(conn, contact_id)
    theme_rows = _theme_rows(conn)
    query = (
        select(purposes, purpose_versions.c.wording, purpose_versions.c.name.label("vname"))
        .join(
            purpose_versions,
            (purpose_versions.c.purpose_id == purposes.c.id)
            & (purpose_versions.c.version == purposes.c.current_version),
        )
        .where(purposes.c.kind.in_(("marketing", "analytics")))
        .order_by(purposes.c.id)
    )
    sections = []
    for row in conn.execute(query).mappings():
        facts = facts_from_row(row)
        section = Section(
            facts, row["vname"], row["wording"], row["current_version"], row["dpv"] or ""
        )
        cf = contact_facts(conn, contact_id, facts.id)
        if facts.kind == "analytics" or any(term in section.dpv for term in PROFILING_TERMS):
            section.rows.append(Row("", None, [_box(cf, facts, None, None, None, at)]))
        else:
            for theme, label, group in theme_rows:
                boxes = [_box(cf, facts, theme, group, ch, at) for ch in channels]
                section.rows.append(Row(label, group, boxes))
        sections.append(section)
    return Preferences(contact_id, channels, sections, active_complete_block(conn, contact_id))


def _box(
    cf: ContactFacts,
    purpose: PurposeFacts,
    theme: str | None,
    group: str | None,
    channel: str | None,
    at: datetime,
) -> Box:
    ref = ThemeRef(theme, group) if theme is not None else None
    decision = decide(_ignoring_blocks(cf), purpose, channel, None, ref, at)
    return Box(box_key(purpose.id, theme, channel), purpose.id, theme, channel, decision)


def _ignoring_blocks(cf: ContactFacts) -> ContactFacts:
    # The boxes show the person's permissions; a complete block is shown (and lifted) apart.
    return ContactFacts(
        cf.id, cf.erased_at, cf.restricted_at, cf.objected_at, cf.addresses, (), cf.events
    )


def save_preferences(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    ticked: set[str],
    evidence: dict[str, Any],
    *,
    at: datetime,
) -> list[dict[str, Any]]:
    """Record a grant or withdrawal for each box the person changed from what decide() showed.

    Changed boxes are applied in display order against fresh facts, so ticking or unticking
    "all topics" together with the topics below it records one event, not one per topic.
    """
    prefs = load_preferences(conn, contact_id, at)
    events = []
    for section in prefs.sections:
        cf = contact_facts(conn, contact_id, section.purpose.id)
        groups = {b.theme: r.group for r in section.rows for b in r.boxes}
        for box in section.boxes:
            wanted = box.key in ticked
            if wanted == box.ticked:
                continue  # untouched by the person (as shown to them)
            now = _box(cf, section.purpose, box.theme, groups[box.theme], box.channel, at)
            if wanted == now.ticked or (wanted and now.pending):
                continue  # an earlier box of this save already covers it
            recorded = record_consent(
                conn,
                vault,
                contact_id,
                ConsentInput(
                    purpose=box.purpose,
                    status="granted" if wanted else "withdrawn",
                    source=PAGE_SOURCE,
                    theme=box.theme,
                    channel=box.channel,
                    evidence={**evidence, "wording_version": section.version},
                ),
                actor="subject",
                at=at,
            )
            if recorded.confirmation_token:  # double opt-in: the confirmation goes out now
                queue_doi_confirmation(conn, contact_id, recorded, box.channel, at=at)
            events.append(recorded.event)
            cf = contact_facts(conn, contact_id, section.purpose.id)
    return events


def block_evidence(page: dict[str, Any], lang: str, action: str) -> dict[str, Any]:
    """The page's evidence for a block or lift, with the exact wording the button carried."""
    t = translator(lang)
    shown = ("block_text", "block_button") if action == "block" else ("unblock_button",)
    return {**page, "action": action, "language": lang, "wording": [t(key) for key in shown]}


def set_complete_block(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    evidence: dict[str, Any] | None = None,
    at: datetime,
) -> int | None:
    """One click: a complete advertising block (nothing new when one is already active)."""
    contact_row(conn, contact_id)
    if active_complete_block(conn, contact_id) is not None:
        return None
    return set_block(
        conn,
        vault,
        contact_id,
        reason=BLOCK_REASON,
        source=PAGE_SOURCE,
        evidence=evidence,
        actor="subject",
        at=at,
    )


def lift_complete_block(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    evidence: dict[str, Any] | None = None,
    at: datetime,
) -> bool:
    """Lift the person's active complete block (a new recorded act)."""
    block_id = active_complete_block(conn, contact_id)
    if block_id is None:
        return False
    lift_block(
        conn,
        vault,
        block_id,
        reason="lifted by the person in the preference center",
        source=PAGE_SOURCE,
        evidence=evidence,
        actor="subject",
        at=at,
    )
    return True
