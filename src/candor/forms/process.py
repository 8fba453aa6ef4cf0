"""The worker's side of a sign-up form: a sealed submission becomes pending consents and one
double opt-in message at once (the submission's commit wakes the worker).

Only here are addresses told apart. An erased (suppressed) address is dropped, nothing
written, nothing sent. A known address gets pending consents for the boxes it has not
agreed to yet; its profile is left alone, since nobody has shown the address is theirs. A
new address becomes a contact with the form's answers. A box still pending from a
submission within RESEND_AFTER is not asked again, so resubmitting sends no second message.
One token confirms every box of a submission; `form.submitted` (and `contact.created` for a
new person) reaches the triggered journeys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, delete, select

from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.forms.intake import SEALED_FIELD, Submission
from candor.ledger import audit, triggers
from candor.ledger.consents import append_event, issue_doi_tokens
from candor.ledger.contacts import NewAddress, NewContact, create_contact, lock_contact
from candor.ledger.form_specs import Box, FormSpec, load_form
from candor.ledger.registry import purpose_facts
from candor.ledger.suppression import suppressed
from candor.policy.facts import PurposeFacts, ThemeRef
from candor.policy.load import decide_for
from candor.rights.messages import queue_message
from candor.store.engine import is_sqlite
from candor.store.tables import addresses, consent_events, contacts, form_submissions, themes
from candor.store.vault import Vault

RESEND_AFTER: Final = timedelta(hours=1)
BATCH: Final = 50
NOT_ASKED_AGAIN: Final = frozenset({"allowed", "erased", "restricted"})


def process_submissions(cx: Candor, *, batch_size: int = BATCH) -> int:
    """Process every queued submission, a batch per transaction; returns how many."""
    done = 0
    while True:
        now = cx.clock.now()
        with cx.engine.begin() as conn:
            rows = _claim(conn, batch_size)
            for row in rows:
                _take(conn, cx.vault, row, now)
            if rows:
                ids = [row.id for row in rows]
                conn.execute(delete(form_submissions).where(form_submissions.c.id.in_(ids)))
        if rows:  # the sealed payloads are gone: their keys go too
            cx.vault.destroy([row.key_id for row in rows])
        done += len(rows)
        if len(rows) < batch_size:
            return done


def _claim(conn: Connection, limit: int) -> list[Any]:
    fs = form_submissions
    query = select(fs).order_by(fs.c.id).limit(limit)
    if not is_sqlite(conn.engine):
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query))


def _take(conn: Connection, vault: Vault, row: Any, at: datetime) -> None:
    """One submission in a savepoint: a domain refusal drops it (audited), the batch goes on."""
    try:
        with conn.begin_nested():
            outcome = _process(conn, vault, row, at)
    except CandorError as exc:
        outcome = Outcome(f"refused:{type(exc).__name__}")
    audit.record(
        conn,
        actor=f"form:{row.form_id}",
        action="form.submission",
        object_type="form",
        object_id=row.form_id,
        at=at,
        outcome=outcome.what,
        contact=outcome.contact_id,
        asked=outcome.asked,
    )


@dataclass(frozen=True)
class Outcome:
    """What a submission came to (for the audit: codes and ids, never an address)."""

    what: str
    contact_id: int | None = None
    asked: int = 0


def _process(conn: Connection, vault: Vault, row: Any, at: datetime) -> Outcome:
    raw = vault.decrypt_json(row.key_id, SEALED_FIELD, row.payload)
    form = load_form(conn, row.form_id)
    if raw is None or form is None:
        return Outcome("unreadable" if raw is None else "form_removed")
    sub = Submission(**{**raw, "boxes": tuple(raw["boxes"])})
    indexes = {channel: vault.blind_index(channel, v) for channel, v in sub.addresses.items()}
    if suppressed(conn, indexes.values()):
        return Outcome("suppressed")
    contact_id, held, new = _person(conn, vault, sub, indexes, at)
    boxes = [b for b in form.boxes() if b.value in sub.boxes and b.channel in held]
    events = _ask(conn, vault, contact_id, sub, boxes, row.received_at, at)
    if events:
        _send_confirmation(conn, vault, form, contact_id, events, held, at)
    heard = triggers.Heard(contact_id, form.id, row.received_at)
    triggers.signal(conn, "form.submitted", [heard], at)
    return Outcome("new" if new else "known", contact_id, len(events))


def _person(
    conn: Connection, vault: Vault, sub: Submission, indexes: dict[str, str], at: datetime
) -> tuple[int, dict[str, int], bool]:
    """The contact (found by the first address, else created), the address id it holds per
    submitted channel, and whether it is new."""
    a = addresses
    owners = {
        (r.channel, r.blind_index): (int(r.contact_id), int(r.id))
        for r in conn.execute(
            select(a.c.channel, a.c.blind_index, a.c.contact_id, a.c.id)
            .join(contacts, contacts.c.id == a.c.contact_id)
            .where(
                a.c.blind_index.in_(sorted(set(indexes.values()))), contacts.c.erased_at.is_(None)
            )
        )
    }
    first = next(iter(sub.addresses))
    owner = next((cid for (_, index), (cid, _) in owners.items() if index == indexes[first]), None)
    if owner is not None:
        held = {
            channel: owners[(channel, indexes[channel])][1]
            for channel in sub.addresses
            if owners.get((channel, indexes[channel]), (None,))[0] == owner
        }
        return owner, held, False
    free = [
        NewAddress(channel, value)
        for channel, value in sub.addresses.items()
        if not any(index == indexes[channel] for (_, index) in owners)
    ]
    new = NewContact(
        first_name=sub.identity.get("first_name"),
        last_name=sub.identity.get("last_name"),
        addresses=free,
        attributes=sub.attributes,
        language=sub.language,
        source="form",
    )
    contact_id = create_contact(conn, vault, new, actor=f"form:{sub.form_id}", at=at)
    held = {
        r.channel: int(r.id)
        for r in conn.execute(select(a.c.channel, a.c.id).where(a.c.contact_id == contact_id))
    }
    return contact_id, held, True


def _ask(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    sub: Submission,
    boxes: list[Box],
    occurred_at: datetime,
    at: datetime,
) -> list[dict[str, Any]]:
    """A pending event per box not agreed to and not asked within RESEND_AFTER."""
    contact = lock_contact(conn, contact_id)
    facts: dict[str, PurposeFacts] = {}
    events = []
    for box in boxes:
        purpose = facts.setdefault(box.purpose, purpose_facts(conn, box.purpose))
        theme = _theme(conn, box.theme)
        decision = decide_for(conn, contact_id, purpose, box.channel, None, theme, at)
        if decision.reason in NOT_ASKED_AGAIN or _asked_lately(conn, decision, at):
            continue
        shown = sub.versions.get(box.purpose, purpose.current_version)
        version = min(int(shown), purpose.current_version)
        values = {
            "purpose_id": box.purpose,
            "purpose_version": version,
            "theme": box.theme,
            "channel": box.channel,
            "address_id": None,
            "status": "pending",
            "source": "form",
            "occurred_at": occurred_at,
            "communication_id": None,
            "confirms_event_id": None,
        }
        evidence = {
            **sub.evidence,
            "form": sub.form_id,
            "box": box.value,
            "wording_version": version,
            "language": sub.language,
        }
        events.append(append_event(conn, vault, contact, values, evidence, at))
    return events


def _theme(conn: Connection, theme: str | None) -> ThemeRef | None:
    if theme is None:
        return None
    group = conn.execute(select(themes.c.group_id).where(themes.c.id == theme)).scalar()
    return ThemeRef(theme, group)


def _asked_lately(conn: Connection, decision: Any, at: datetime) -> bool:
    """Pending since a submission less than RESEND_AFTER ago (its message is on its way)."""
    if decision.reason != "doi_pending" or decision.event_id is None:
        return False
    asked = conn.execute(
        select(consent_events.c.recorded_at).where(consent_events.c.id == decision.event_id)
    ).scalar()
    return asked is not None and at - asked < RESEND_AFTER


def _send_confirmation(
    conn: Connection,
    vault: Vault,
    form: FormSpec,
    contact_id: int,
    events: list[dict[str, Any]],
    held: dict[str, int],
    at: datetime,
) -> None:
    """One token for all the submission's pending events, in one confirmation message."""
    token = issue_doi_tokens(conn, vault, events, at, f=form.id)
    channels = [e["channel"] for e in events]
    channel = "email" if "email" in channels else channels[0]
    queue_message(
        conn,
        contact_id,
        "doi-confirm",
        {"doi_token": token},
        key=f"form-doi:{token.rsplit('.', 1)[1][:40]}",
        at=at,
        kind="confirmation",
        purpose_id=events[0]["purpose_id"],
        template=form.doi_template,
        address=(channel, held[channel]),
    )
