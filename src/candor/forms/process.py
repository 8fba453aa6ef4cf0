"""The worker's side of a sign-up form: sealed submissions become pending consents and one
double opt-in message each, at once (a submission's commit wakes the worker).

Only here are addresses told apart. An erased (suppressed) address is dropped, nothing
written, nothing sent. A known address gets pending consents for the boxes it has not
agreed to yet; its profile is left alone, since nobody has shown the address is theirs. A
new address becomes a contact with the form's answers. A box still pending from a
submission within RESEND_AFTER is not asked again, so resubmitting sends no second message.
One token confirms every box of a submission; `form.submitted` (and `contact.created` for a
new person) reaches the triggered journeys. A batch is set-based (a statement per step, not
per submission); should a domain rule refuse it, its submissions are taken one at a time
and each refused one is dropped with its audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, delete, insert, select

from candor.core.context import Candor
from candor.core.errors import CandorError
from candor.forms.asking import ask_boxes, confirmations
from candor.forms.intake import SEALED_FIELD, Submission
from candor.ledger import triggers
from candor.ledger.contacts import NewAddress, NewContact, create_contacts
from candor.ledger.form_specs import FormSpec, declared_forms
from candor.ledger.suppression import suppressed
from candor.store.engine import is_sqlite
from candor.store.sql import in_batch
from candor.store.tables import addresses, audit_log, contacts, form_submissions
from candor.store.vault import Vault

RESEND_AFTER: Final = timedelta(hours=1)
BATCH: Final = 100


@dataclass
class Taken:
    """One submission under way: what was sent, whose it turned out to be, what came of it."""

    row: Any
    sub: Submission | None
    form: FormSpec | None
    outcome: str = "taken"
    contact_id: int | None = None
    held: dict[str, int] | None = None  # channel -> address id the person holds
    asked: int = 0


def process_submissions(cx: Candor, *, batch_size: int = BATCH) -> int:
    """Process every queued submission, a batch per transaction; returns how many."""
    done = 0
    while True:
        now = cx.clock.now()
        with cx.engine.begin() as conn:
            rows = _claim(conn, batch_size)
            if rows:
                _take(conn, cx.vault, rows, now)
                ids = [row.id for row in rows]
                conn.execute(delete(form_submissions).where(in_batch(form_submissions.c.id, ids)))
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


def _take(conn: Connection, vault: Vault, rows: list[Any], at: datetime) -> None:
    """The batch at once; a domain refusal makes it one at a time (each in a savepoint)."""
    vault.load(row.key_id for row in rows)
    forms = declared_forms(conn)
    try:
        with conn.begin_nested():
            taken = _opened(vault, rows, forms)
            _process(conn, vault, taken, at)
    except CandorError:
        taken = []
        for row in rows:
            (one,) = _opened(vault, [row], forms)
            try:
                with conn.begin_nested():
                    _process(conn, vault, [one], at)
            except CandorError as exc:
                one.outcome = f"refused:{type(exc).__name__}"
            taken.append(one)
    _audit(conn, taken, at)


def _opened(vault: Vault, rows: list[Any], forms: dict[str, FormSpec]) -> list[Taken]:
    out = []
    for row in rows:
        raw = vault.decrypt_json(row.key_id, SEALED_FIELD, row.payload)
        sub = Submission(**{**raw, "boxes": tuple(raw["boxes"])}) if raw else None
        form = forms.get(row.form_id)
        outcome = "unreadable" if sub is None else "form_removed" if form is None else "taken"
        out.append(Taken(row, sub, form, outcome))
    return out


def _process(conn: Connection, vault: Vault, taken: list[Taken], at: datetime) -> None:
    live = [t for t in taken if t.outcome == "taken"]
    indexes = {t.row.id: _indexes(vault, t) for t in live}
    hit = suppressed(conn, [i for found in indexes.values() for i in found.values()])
    for t in live:
        if hit & set(indexes[t.row.id].values()):
            t.outcome = "suppressed"
    live = [t for t in live if t.outcome == "taken"]
    _people(conn, vault, live, indexes, at)
    events = ask_boxes(conn, vault, live, RESEND_AFTER, at)
    confirmations(conn, vault, [(t, events[t.row.id]) for t in live if events[t.row.id]], at)
    for t in live:
        t.asked = len(events[t.row.id])
    heard = [triggers.Heard(t.contact_id or 0, t.row.form_id, t.row.received_at) for t in live]
    triggers.signal(conn, "form.submitted", heard, at)


def _indexes(vault: Vault, t: Taken) -> dict[str, str]:
    assert t.sub is not None
    return {channel: vault.blind_index(channel, v) for channel, v in t.sub.addresses.items()}


def _people(
    conn: Connection,
    vault: Vault,
    live: list[Taken],
    indexes: dict[int, dict[str, str]],
    at: datetime,
) -> None:
    """Each submission's person: found by its first address, else created (the batch's new
    people in one go; a second submission of the same new address finds the first's)."""
    owners = _owners(conn, [i for found in indexes.values() for i in found.values()])
    new: dict[str, tuple[NewContact, list[Taken]]] = {}
    for t in live:
        sub, found = t.sub, indexes[t.row.id]
        assert sub is not None
        first = found[next(iter(sub.addresses))]
        owner = next((o for (_, index), o in owners.items() if index == first), None)
        if owner is not None:
            t.contact_id, t.outcome = owner[0], "known"
            t.held = {ch: owners[(ch, found[ch])][1] for ch in sub.addresses
                      if owners.get((ch, found[ch]), (None, 0))[0] == owner[0]}  # fmt: skip
            continue
        if first in new:
            new[first][1].append(t)
            continue
        free = [
            NewAddress(ch, value)
            for ch, value in sub.addresses.items()
            if not any(index == found[ch] for (_, index) in owners)
        ]
        person = NewContact(
            first_name=sub.identity.get("first_name"),
            last_name=sub.identity.get("last_name"),
            addresses=free,
            attributes=sub.attributes,
            language=sub.language,
            source="form",
        )
        new[first] = (person, [t])
    ids = create_contacts(conn, vault, [p for p, _ in new.values()], actor="form", at=at)
    held = _held(conn, ids)
    for contact_id, (_, group) in zip(ids, new.values(), strict=True):
        for n, t in enumerate(group):
            t.contact_id, t.held = contact_id, held.get(contact_id, {})
            t.outcome = "new" if n == 0 else "known"


def _owners(conn: Connection, indexes: Sequence[str]) -> dict[tuple[str, str], tuple[int, int]]:
    """(channel, blind index) -> (contact, address id) of live contacts holding them."""
    a = addresses
    query = (
        select(a.c.channel, a.c.blind_index, a.c.contact_id, a.c.id)
        .join(contacts, contacts.c.id == a.c.contact_id)
        .where(in_batch(a.c.blind_index, sorted(set(indexes))), contacts.c.erased_at.is_(None))
    )
    return {(r.channel, r.blind_index): (int(r.contact_id), int(r.id)) for r in conn.execute(query)}


def _held(conn: Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    a = addresses
    out: dict[int, dict[str, int]] = {}
    if ids:
        query = select(a.c.contact_id, a.c.channel, a.c.id).where(in_batch(a.c.contact_id, ids))
        for r in conn.execute(query.order_by(a.c.id)):
            out.setdefault(int(r.contact_id), {}).setdefault(r.channel, int(r.id))
    return out


def _audit(conn: Connection, taken: list[Taken], at: datetime) -> None:
    """One audit entry per submission (codes and ids, never an address): one statement."""
    conn.execute(
        insert(audit_log),
        [
            {
                "at": at,
                "actor": f"form:{t.row.form_id}",
                "action": "form.submission",
                "object_type": "form",
                "object_id": t.row.form_id,
                "details": {"outcome": t.outcome, "contact": t.contact_id, "asked": t.asked},
            }
            for t in taken
        ],
    )
