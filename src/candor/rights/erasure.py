"""Erasure (Art. 17): the person leaves every table in the registry, then their key is destroyed.

One data transaction per batch: journeys and queued messages go, registry rows are deleted
except what a retention rule or legal hold still requires (re-sealed under a retention key,
restricted, with retain_until), each address leaves a hashed suppression entry, the contact
row becomes a tombstone (id only, so decide says `erased`), the consent chain's final digest
goes into the certificate, and checks along indexes prove nothing else names them (the
substring sweep of free text follows for all erasures of a period at once, rights.sweep).
The contact key is destroyed last (crypto-shredding: old backups become unreadable too).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, update

from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.figures import consent_tallies as tallies
from candor.figures import erasure_counts as counted
from candor.ledger import audit
from candor.ledger.contacts import contact_row
from candor.ledger.events import erasure_subjects, publish_erasures
from candor.ledger.external_ids import external_index, external_value
from candor.ledger.suppression import kind_of, suppress
from candor.rights import records
from candor.rights.certificates import store_certificates
from candor.rights.data_map import PLACES, Place
from candor.rights.scan import Identifiers, index_checks
from candor.rights.sweep import seal_pending, verification
from candor.store.engine import is_sqlite, reading
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.rights_tables import business_records, legal_holds
from candor.store.sql import in_batch
from candor.store.tables import addresses, contacts, ledger_heads, retention_rules
from candor.store.vault import Vault

BATCH = 5000


def erase_contact(
    cx: Candor, contact_id: int, *, actor: str, reason: str, request_id: int | None = None
) -> dict[str, Any]:
    """Erase one contact in one transaction; returns its certificate (Erased when it was
    erased before, NotFound when it never existed)."""
    with cx.engine.begin() as conn:
        certificates = erase_in(
            conn,
            cx.vault,
            [contact_id],
            actor=actor,
            reason=reason,
            at=cx.clock.now(),
            request_id=request_id,
        )
    if not certificates:
        with reading(cx.engine) as conn:
            contact_row(conn, contact_id)  # raises Erased for a contact erased before
        raise NotFound("contact", contact_id)
    return certificates[0]


def erase_contacts(
    cx: Candor, contact_ids: list[int], *, actor: str, reason: str, batch: int = BATCH
) -> list[dict[str, Any]]:
    """Erase many contacts set-based, one transaction per batch; unknown or erased ids skip."""
    out: list[dict[str, Any]] = []
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), batch):
        with cx.engine.begin() as conn:
            out += erase_in(
                conn,
                cx.vault,
                ids[start : start + batch],
                actor=actor,
                reason=reason,
                at=cx.clock.now(),
            )
    return out


def erase_in(
    conn: Connection,
    vault: Vault,
    contact_ids: list[int],
    *,
    actor: str,
    reason: str,
    at: datetime,
    request_id: int | None = None,
    journey_counted: str | None = None,
) -> list[dict[str, Any]]:
    """Erase the contacts in the caller's transaction (a DSR fulfils inside its own).

    `journey_counted`: the journey whose batch erases them (forget) and counts its own
    members leaving their step; their rows in other journeys are subtracted here.
    """
    people = _lock_people(conn, contact_ids)
    if not people:
        return []
    ids = [p.id for p in people]
    keys = {p.id: p.key_id for p in people}
    before = _read_before(conn, vault, people, journey_counted)
    kept = _retain(conn, vault, ids, keys, at)
    retained = {k["record"] for ks in kept.values() for k in ks}
    deleted, scrubbed = _delete_rows(conn, ids, retained, at)
    suppressed = suppress(conn, [e for items in before.per_contact.values() for e in items], at)
    _tombstone(conn, ids, at)
    tallies.write(
        conn, tallies.changed(before.consents, tallies.pairs_of(conn, ids)), live=-len(ids)
    )
    counted.remove(conn, before.figures)
    checks = index_checks(conn, before.identifiers)
    notified = publish_erasures(conn, vault, before.shared, at)  # contact.erased, sealed
    certificates = [
        {
            "contact": contact_id,
            "issued_at": at.isoformat(),
            "actor": actor,
            "reason": reason,
            "request": request_id,
            "deleted": deleted.get(contact_id, {}),
            "scrubbed": scrubbed.get(contact_id, {}),
            "tombstone": {
                "table": "contacts",
                "kept_columns": ["id", "key_id", "created_at", "erased_at"],
            },
            "kept": kept.get(contact_id, []),
            "journeys_left": before.journeys_left.get(contact_id, 0),
            "outbox_cancelled": before.cancelled.get(contact_id, 0),
            "suppression_entries": len({i for _, i in before.per_contact.get(contact_id, [])}),
            "ledger": before.ledger(contact_id),
            "key": {"destroyed": True, "method": "crypto-shredding (AES-GCM data key deleted)"},
            "connectors_notified": notified.get(contact_id, []),
            "scan": verification(checks, len(ids), at),
        }
        for contact_id in ids
    ]
    store_certificates(conn, certificates, request_id=request_id, actor=actor, at=at)
    swept = {c["id"]: before.people[c["contact"]] for c in certificates}
    seal_pending(conn, vault, swept, at)
    _audit(conn, certificates, actor=actor, at=at, request_id=request_id, suppressed=suppressed)
    vault.destroy(keys.values())  # last: from here on every copy of their data is unreadable
    return certificates


@dataclass
class _Before:
    """What must be read about the people before their rows go."""

    identifiers: Identifiers  # of the whole batch
    people: dict[int, Identifiers]  # of each person
    per_contact: dict[int, list[tuple[str, str]]]
    shared: dict[int, dict[str, str]]  # the connectors' identifiers of each person
    heads: dict[int, Any]
    cancelled: dict[int, int]
    journeys_left: dict[int, int]
    consents: Any  # their pairs in Mission Control's consent tallies
    figures: counted.Counted  # and their counted rows

    def ledger(self, contact_id: int) -> dict[str, Any]:
        head = self.heads.get(contact_id)
        return {
            "events": head.event_count if head else 0,
            "final_digest": head.last_hash if head else "",
        }


def _lock_people(conn: Connection, contact_ids: list[int]) -> list[Any]:
    """The contacts not yet erased, locked in id order (PostgreSQL)."""
    query = select(
        contacts.c.id, contacts.c.key_id, contacts.c.identity, contacts.c.external_id
    ).where(in_batch(contacts.c.id, contact_ids), contacts.c.erased_at.is_(None))
    if not is_sqlite(conn.engine):
        query = query.with_for_update()
    return list(conn.execute(query.order_by(contacts.c.id)).all())


def _read_before(
    conn: Connection, vault: Vault, people: Sequence[Any], journey_counted: str | None
) -> _Before:
    ids = [p.id for p in people]
    idents, each, per_contact = _identifiers(conn, vault, people)
    heads = conn.execute(select(ledger_heads).where(in_batch(ledger_heads.c.contact_id, ids)))
    return _Before(
        identifiers=idents,
        people=each,
        per_contact=per_contact,
        shared=erasure_subjects(conn, vault, ids),
        heads={h.contact_id: h for h in heads},
        cancelled=_count(
            conn,
            select(outbox.c.contact_id, func.count())
            .where(in_batch(outbox.c.contact_id, ids), outbox.c.status == "queued")
            .group_by(outbox.c.contact_id),
        ),
        journeys_left=_count(
            conn,
            select(journey_contacts.c.contact_id, func.count())
            .where(
                in_batch(journey_contacts.c.contact_id, ids),
                journey_contacts.c.status.in_(("active", "waiting")),
            )
            .group_by(journey_contacts.c.contact_id),
        ),
        consents=tallies.pairs_of(conn, ids),
        figures=counted.read(conn, ids, skip_journey=journey_counted),
    )


def _tombstone(conn: Connection, ids: list[int], at: datetime) -> None:
    """The contact rows keep only their id, key id, creation and erasure times."""
    conn.execute(
        update(contacts)
        .where(in_batch(contacts.c.id, ids))
        .values(
            identity=None,
            attributes={},
            external_id=None,
            external_index=None,
            language="en",
            timezone="UTC",
            source="erased",
            restricted_at=None,
            objected_at=None,
            erased_at=at,
            updated_at=at,
        )
    )


def _audit(
    conn: Connection,
    certificates: list[dict[str, Any]],
    *,
    actor: str,
    at: datetime,
    request_id: int | None,
    suppressed: int,
) -> None:
    """One audit entry: per contact for one, per batch for several."""
    first = certificates[0]
    if len(certificates) == 1:
        audit.record(
            conn,
            actor=actor,
            action="contact.erase",
            object_type="contact",
            object_id=first["contact"],
            at=at,
            certificate=first["id"],
            request=request_id,
            suppressed=suppressed,
        )
        return
    audit.record(
        conn,
        actor=actor,
        action="contacts.erase",
        object_type="contact_batch",
        object_id=first["contact"],
        at=at,
        contacts=len(certificates),
        first_certificate=first["id"],
        suppressed=suppressed,
    )


def _count(conn: Connection, query: Any) -> dict[int, int]:
    return {int(contact): int(n) for contact, n in conn.execute(query)}


def _identifiers(
    conn: Connection, vault: Vault, people: Sequence[Any]
) -> tuple[Identifiers, dict[int, Identifiers], dict[int, list[tuple[str, str]]]]:
    """Blind indexes and plaintext values, of the batch and of each person, read before
    anything is deleted; and each person's suppression entries."""
    vault.load(p.key_id for p in people)
    keys = {p.id: p.key_id for p in people}
    each = {p.id: Identifiers(contact_ids=[p.id]) for p in people}
    for p in people:
        ids = each[p.id]
        raw = vault.decrypt(p.key_id, "identity", p.identity)
        for value in (json.loads(raw) if raw else {}).values():
            if isinstance(value, str):
                ids.names.add(value)
        external = external_value(vault, p.key_id, p.external_id)
        if external:
            ids.distinctive.add(external)
            ids.blind_indexes.add(external_index(vault, external))
    per_contact: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = conn.execute(
        select(
            addresses.c.contact_id, addresses.c.channel, addresses.c.blind_index, addresses.c.value
        ).where(in_batch(addresses.c.contact_id, list(each)))
    )
    for r in rows:
        each[r.contact_id].blind_indexes.add(r.blind_index)
        per_contact[r.contact_id].append((kind_of(r.channel), r.blind_index))
        plain = vault.decrypt(keys[r.contact_id], f"address:{r.channel}", r.value)
        if plain is not None:
            each[r.contact_id].distinctive.add(plain.decode())
    batch = Identifiers()
    for ids in each.values():
        batch.add(ids)
    return batch, each, per_contact


def _retain(
    conn: Connection, vault: Vault, ids: list[int], keys: dict[int, str], at: datetime
) -> dict[int, list[dict[str, Any]]]:
    """Re-seal what retention still requires under a retention key; restrict it; say why."""
    plan = records.keep_plan(conn, ids, at)
    if not plan:
        return {}
    basis = {
        r.category: r.basis
        for r in conn.execute(select(retention_rules.c.category, retention_rules.c.basis))
    }
    rows = (
        conn.execute(select(business_records).where(business_records.c.id.in_(list(plan))))
        .mappings()
        .all()
    )
    owners = sorted({r["contact_id"] for r in rows})
    retention_keys = dict(zip(owners, vault.create_keys(len(owners)), strict=True))
    updates, kept = [], defaultdict(list)
    for r in rows:
        keep = plan[r["id"]]
        new_key = retention_keys[r["contact_id"]]
        plain = vault.decrypt(keys[r["contact_id"]], records.RECORD_FIELD, r["data"])
        data = vault.encrypt(new_key, records.RECORD_FIELD, plain if plain is not None else b"null")
        updates.append({"rid": r["id"], "k": new_key, "d": data, "u": keep.until, "w": keep.under})
        kept[r["contact_id"]].append(
            {
                "table": "business_records",
                "record": r["id"],
                "category": r["category"],
                "under": keep.under,
                "basis": basis.get(r["category"], "legal hold"),
                "until": keep.until.isoformat() if keep.until else None,
            }
        )
    br = business_records
    conn.execute(
        update(br)
        .where(br.c.id == bindparam("rid"))
        .values(
            key_id=bindparam("k"),
            data=bindparam("d"),
            retain_until=bindparam("u"),
            retained_under=bindparam("w"),
            restricted_at=at,
        ),
        updates,
    )
    return dict(kept)


def _delete_rows(
    conn: Connection, ids: list[int], kept_records: set[int], at: datetime
) -> tuple[dict[int, dict[str, int]], dict[int, dict[str, int]]]:
    """Walk the registry (children first): delete or scrub, counting rows per contact."""
    deleted: dict[int, dict[str, int]] = defaultdict(dict)
    scrubbed: dict[int, dict[str, int]] = defaultdict(dict)
    for place in PLACES:
        if place.erase == "tombstone":
            continue
        condition = place.owned_by(ids)
        if place.erase == "scrub":
            scrub = {c: None for c in place.scrub}
            for contact_id, n in _changed(conn, place, ids, condition, scrub).items():
                scrubbed[contact_id][place.name] = n
            continue
        if place.table is business_records and kept_records:
            condition = condition & business_records.c.id.not_in(kept_records)
        if place.table is legal_holds:
            # Active holds stay with the records they keep; released or expired ones go.
            ended = legal_holds.c.released_at.is_not(None) | (legal_holds.c.until <= at)
            condition = condition & ended
        for contact_id, n in _changed(conn, place, ids, condition, None).items():
            deleted[contact_id][place.name] = n
    return dict(deleted), dict(scrubbed)


def _changed(
    conn: Connection,
    place: Place,
    ids: list[int],
    condition: Any,
    scrub: dict[str, None] | None,
) -> dict[int, int]:
    """Delete (scrub None) or scrub the rows; returns how many per contact (zeros left out).

    A table with its own contact column says which rows went (RETURNING): no count query.
    """
    table = place.table
    change = delete(table) if scrub is None else update(table).values(scrub)
    if place.contact_column is None or scrub == {}:  # via a parent, or nothing to clear
        counts = _count(conn, place.counts(ids))
        if counts and scrub != {}:
            conn.execute(change.where(condition))
        return counts
    owner = table.c[place.contact_column]
    return dict(Counter(conn.execute(change.where(condition).returning(owner)).scalars()))
