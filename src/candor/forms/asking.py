"""Asking for a batch of sign-ups: the gate per box, the pending events, the confirmations.

Set-based: one twin query per (purpose, channel, theme) the batch's boxes name, one bulk
append of pending events, one statement of tokens, one of outbox rows. The confirmation
message is no advertising: it obeys erasure, restriction and an unusable address, not blocks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from candor.channels.recheck import gate_facts
from candor.ledger.bulk import NewEvent, append_events
from candor.ledger.consents import issue_doi_tokens
from candor.ledger.form_specs import Box, FormSpec
from candor.ledger.registry import purpose_facts
from candor.policy.decide import ALLOWED, Decision
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.twin import decisions
from candor.rights.messages import ensure_template, language_of, message_row
from candor.store.engine import is_sqlite
from candor.store.journey_tables import outbox
from candor.store.sql import in_batch
from candor.store.tables import audit_log, consent_events, contacts, themes
from candor.store.vault import Vault

# A box already agreed to, or a person the gate keeps out entirely, is not asked.
NOT_ASKED: frozenset[str] = frozenset({ALLOWED, "erased", "restricted"})

Question = tuple[str, str, str | None]  # purpose, channel, theme


class Asking(Protocol):
    """What asking needs of a submission under way (forms.process.Taken)."""

    row: Any
    sub: Any
    form: FormSpec | None
    contact_id: int | None
    held: dict[str, int] | None


def ask_boxes(
    conn: Connection, vault: Vault, batch: Sequence[Asking], resend_after: timedelta, at: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Per submission (by row id), the pending events written for its boxes: those on a
    channel the person holds, not agreed to, and not asked within `resend_after`."""
    wanted: list[tuple[Asking, Box]] = [
        (t, box)
        for t in batch
        for box in (t.form.boxes() if t.form else [])
        if box.value in t.sub.boxes and box.channel in (t.held or {})
    ]
    gate = _gate(conn, wanted, at)
    lately = _asked_lately(conn, [d.event_id for d in gate.values()], resend_after, at)
    asking: list[tuple[Asking, Box, PurposeFacts]] = []
    facts: dict[str, PurposeFacts] = {}
    seen: set[tuple[int, Box]] = set()  # the same box twice in one batch is asked once
    for t, box in wanted:
        d = gate[(t.contact_id or 0, box)]
        if d.reason in NOT_ASKED or (d.reason == "doi_pending" and d.event_id in lately):
            continue
        if (t.contact_id or 0, box) in seen:
            continue
        seen.add((t.contact_id or 0, box))
        if box.purpose not in facts:
            facts[box.purpose] = purpose_facts(conn, box.purpose)
        asking.append((t, box, facts[box.purpose]))
    ids = append_events(conn, vault, [_event(t, box, p) for t, box, p in asking], at)
    out: dict[int, list[dict[str, Any]]] = {t.row.id: [] for t in batch}
    for (t, box, _), event_id in zip(asking, ids, strict=True):
        out[t.row.id].append(
            {"id": event_id, "contact_id": t.contact_id, "purpose_id": box.purpose,
             "channel": box.channel}
        )  # fmt: skip
    return out


def _gate(
    conn: Connection, wanted: list[tuple[Asking, Box]], at: datetime
) -> dict[tuple[int, Box], Decision]:
    """decide() for every (person, box), one twin query per distinct question."""
    groups: dict[Question, set[int]] = defaultdict(set)
    for t, box in wanted:
        groups[(box.purpose, box.channel, box.theme)].add(t.contact_id or 0)
    grouped = {r.id: r.group_id for r in conn.execute(select(themes.c.id, themes.c.group_id))}
    answers: dict[tuple[int, Question], Decision] = {}
    for (purpose, channel, theme), people in groups.items():
        ref = ThemeRef(theme, grouped.get(theme)) if theme else None
        query = decisions(
            purpose_facts(conn, purpose), channel, ref, at, dialect=conn.dialect.name,
            ids=sorted(people),
        )  # fmt: skip
        for row in conn.execute(query):
            answers[(row.contact_id, (purpose, channel, theme))] = Decision(
                row.reason == ALLOWED, row.reason, row.basis, row.event_id
            )
    return {
        (t.contact_id or 0, box): answers.get(
            (t.contact_id or 0, (box.purpose, box.channel, box.theme)), Decision(False, "erased")
        )
        for t, box in wanted
    }


def _asked_lately(
    conn: Connection, event_ids: list[int | None], resend_after: timedelta, at: datetime
) -> set[int]:
    """The pending events among these recorded less than `resend_after` ago."""
    ids = sorted({e for e in event_ids if e is not None})
    if not ids:
        return set()
    ce = consent_events
    query = select(ce.c.id).where(
        in_batch(ce.c.id, ids), ce.c.status == "pending", ce.c.recorded_at > at - resend_after
    )
    return set(conn.execute(query).scalars())


def _event(t: Asking, box: Box, purpose: PurposeFacts) -> NewEvent:
    """The pending event of one box, with the submission's evidence and the wording shown."""
    sub = t.sub
    version = min(
        int(sub.versions.get(box.purpose, purpose.current_version)), purpose.current_version
    )
    evidence = {
        **sub.evidence,
        "form": sub.form_id,
        "box": box.value,
        "wording_version": version,
        "language": sub.language,
    }
    return NewEvent(
        t.contact_id or 0,
        box.purpose,
        version,
        "pending",
        "form",
        t.row.received_at,
        theme=box.theme,
        channel=box.channel,
        evidence=evidence,
    )


def confirmations(
    conn: Connection,
    vault: Vault,
    asked: Sequence[tuple[Asking, list[dict[str, Any]]]],
    at: datetime,
) -> int:
    """Per submission one token for all its pending events and one confirmation message, to
    the address it gave (e-mail first); returns how many were queued."""
    if not asked:
        return 0
    claims = [{"f": t.form.id if t.form else ""} for t, _ in asked]
    signed = issue_doi_tokens(conn, vault, [events for _, events in asked], at, claims)
    people = sorted({t.contact_id or 0 for t, _ in asked})
    languages = dict(
        conn.execute(
            select(contacts.c.id, contacts.c.language).where(in_batch(contacts.c.id, people))
        ).all()
    )
    gate = _confirmation_gate(conn, asked, at)
    rows = []
    for (t, events), token in zip(asked, signed, strict=True):
        channels = [e["channel"] for e in events]
        channel = "email" if "email" in channels else channels[0]
        decision = gate[(events[0]["purpose_id"], channel)].get(t.contact_id or 0)
        if decision is None or not decision.allowed:
            continue
        template = (t.form.doi_template if t.form else None) or ensure_template(
            conn, "doi-confirm", language_of(languages.get(t.contact_id)), at
        )
        key = f"form-doi:{token.rsplit('.', 1)[1][:40]}"
        address = (channel, (t.held or {})[channel])
        context = {"doi_token": token}
        rows.append(
            message_row(key, t.contact_id or 0, address, template, events[0]["purpose_id"],
                        "confirmation", context, decision, at)
        )  # fmt: skip
    if rows:
        upsert = (sqlite_insert if is_sqlite(conn.engine) else pg_insert)(outbox)
        conn.execute(upsert.on_conflict_do_nothing(index_elements=["idempotency_key"]), rows)
        conn.execute(insert(audit_log), [_queued(row, at) for row in rows])
    return len(rows)


def _confirmation_gate(
    conn: Connection, asked: Sequence[tuple[Asking, list[dict[str, Any]]]], at: datetime
) -> dict[tuple[str, str], dict[int, Decision]]:
    """The confirmation's gate per (purpose, channel): one twin query each."""
    groups: dict[tuple[str, str], set[int]] = defaultdict(set)
    for t, events in asked:
        channels = [e["channel"] for e in events]
        groups[(events[0]["purpose_id"], "email" if "email" in channels else channels[0])].add(
            t.contact_id or 0
        )
    out: dict[tuple[str, str], dict[int, Decision]] = {}
    for (purpose, channel), people in groups.items():
        facts = gate_facts(purpose_facts(conn, purpose), "confirmation")
        query = decisions(facts, channel, None, at, dialect=conn.dialect.name, ids=sorted(people))
        out[(purpose, channel)] = {
            r.contact_id: Decision(r.reason == ALLOWED, r.reason, r.basis, r.event_id)
            for r in conn.execute(query)
        }
    return out


def _queued(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {
        "at": at,
        "actor": "system",
        "action": "message.queue",
        "object_type": "outbox",
        "object_id": row["idempotency_key"],
        "details": {"contact": row["contact_id"], "template": row["template_id"],
                    "kind": "confirmation"},
    }  # fmt: skip
