"""The access copy (Art. 15) and portability export (Art. 20): everything held about one person.

Sections follow rights.data_map (a test checks every registry section appears), plus the
Art. 15 information: purposes and legal bases with the wordings agreed to, categories,
recipients, retention, sources, automated decision logic, rights and the right to complain.
The JSON shape is documented in docs/access-copy.schema.json (rights.copy_schema).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, func, select, type_coerce

from candor.core.errors import NotFound
from candor.ledger.blocks import list_blocks
from candor.ledger.external_ids import external_value
from candor.rights.bulk import gc_paused
from candor.rights.decisions import decision_views
from candor.rights.information import information
from candor.rights.records import list_business_records
from candor.rights.requests_view import requests_of
from candor.store.engine import is_sqlite
from candor.store.journey_tables import (
    journey_contacts,
    journey_events,
    journey_transitions,
    journeys,
    outbox,
)
from candor.store.rights_tables import legal_holds
from candor.store.tables import (
    addresses,
    attributes,
    communications,
    consent_events,
    contacts,
    rectifications,
)
from candor.store.vault import Vault

FORMAT = "candor.access-copy"
VERSION = 1


def _json(vault: Vault, key_id: str, field: str, blob: bytes | None) -> Any:
    raw = vault.decrypt(key_id, field, blob)
    return json.loads(raw) if raw is not None else None


def compile_access_copy(
    conn: Connection,
    vault: Vault,
    contact_id: int,
    *,
    kind: str = "access",
    at: datetime | None = None,
) -> dict[str, Any]:
    """The whole copy as JSON-ready data (decrypted); NotFound for unknown or erased contacts."""
    with gc_paused():  # tens of thousands of acyclic dicts: see rights.bulk
        return _compile(conn, vault, contact_id, kind, at)


def _compile(
    conn: Connection, vault: Vault, contact_id: int, kind: str, at: datetime | None
) -> dict[str, Any]:
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).mappings().first()
    if row is None or row["erased_at"] is not None:
        raise NotFound("contact", contact_id)
    key_id = row["key_id"]
    vault.load([key_id])
    identity = _json(vault, key_id, "identity", row["identity"]) or {}
    consents = _consents(conn, vault, contact_id, key_id)
    copy: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "generated_at": _iso(at) or "",
        "contact": {
            "id": row["id"],
            "external_id": external_value(vault, key_id, row["external_id"]),
            "first_name": identity.get("first_name"),
            "last_name": identity.get("last_name"),
            "language": row["language"],
            "timezone": row["timezone"],
            "source": row["source"],
            "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
            "restricted_at": _iso(row["restricted_at"]),
            "objected_at": _iso(row["objected_at"]),
        },
        "addresses": _addresses(conn, vault, contact_id, key_id),
        "attributes": _attributes(conn, row["attributes"]),
        "consents": consents,
        "blocks": list_blocks(conn, contact_id, vault),
        "communications": _communications(conn, contact_id),
        "messages_pending": _outbox(conn, contact_id),
        "journeys": _journeys(conn, contact_id),
        "requests": requests_of(conn, contact_id),
        "automated_decisions": decision_views(conn, vault, contact_id, key_id),
        "rectifications": _rectifications(conn, vault, contact_id, key_id),
        "business_records": list_business_records(conn, vault, contact_id),
        "legal_holds": _holds(conn, contact_id),
    }
    copy["information"] = information(conn, row["source"], consents)
    return copy


def _addresses(
    conn: Connection, vault: Vault, contact_id: int, key_id: str
) -> list[dict[str, Any]]:
    out = []
    for a in conn.execute(
        select(addresses).where(addresses.c.contact_id == contact_id).order_by(addresses.c.id)
    ).mappings():
        plain = vault.decrypt(key_id, f"address:{a['channel']}", a["value"])
        out.append(
            {
                "id": a["id"],
                "channel": a["channel"],
                "value": plain.decode() if plain else None,
                "deliverable": a["deliverable"],
                "created_at": _iso(a["created_at"]),
            }
        )
    return out


def _attributes(conn: Connection, values: dict[str, Any]) -> list[dict[str, Any]]:
    declared = {r.name: r for r in conn.execute(select(attributes))}
    out = []
    for name in sorted(values):
        spec = declared.get(name)
        out.append(
            {
                "name": name,
                "value": values[name],
                "category": spec.category if spec else "undeclared",
                "description": spec.description if spec else "",
            }
        )
    return out


def _stamp(column: Any, sqlite: bool) -> Any:
    """A timestamp column read as text, without the UTC type's per-row datetime conversion.

    Stored naive UTC. SQLite hands back its text ('YYYY-MM-DD HH:MM:SS.ffffff', reshaped by
    _sqlite_iso: Python slicing beats SQLite's substr); PostgreSQL writes the final ISO text,
    leaving out a zero fraction as datetime.isoformat() does (cheaper than datetimes here).
    """
    if sqlite:
        return type_coerce(column, String).label(column.name)
    text = func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    return func.replace(text, ".000000+", "+").label(column.name)


def _text_iso(sqlite: bool) -> Callable[[str | None], str | None]:
    """What turns a _stamp() value into the ISO text that _iso() gives for the aware value."""
    return _sqlite_iso if sqlite else _as_is


def _as_is(value: str | None) -> str | None:
    return value


def _sqlite_iso(value: str | None) -> str | None:
    """SQLite's stored 'YYYY-MM-DD HH:MM:SS[.ffffff]' as datetime.isoformat() writes it in UTC."""
    if value is None:
        return None
    fraction = value[19:]
    if fraction.strip(".0"):
        return f"{value[:10]}T{value[11:]}+00:00"
    return f"{value[:10]}T{value[11:19]}+00:00"


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, as datetime.isoformat() writes it."""
    return value.isoformat() if value is not None else None


def _consents(conn: Connection, vault: Vault, contact_id: int, key_id: str) -> list[dict[str, Any]]:
    e = consent_events
    lite = is_sqlite(conn.engine)
    rows = conn.execute(
        select(
            e.c.id,
            e.c.seq,
            e.c.purpose_id,
            e.c.purpose_version,
            e.c.theme,
            e.c.channel,
            e.c.address_id,
            e.c.status,
            e.c.source,
            _stamp(e.c.occurred_at, lite),
            _stamp(e.c.recorded_at, lite),
            e.c.evidence,
            e.c.communication_id,
            e.c.confirms_event_id,
            e.c.hash,
        )
        .where(e.c.contact_id == contact_id)
        .order_by(e.c.seq)
    ).all()
    iso = _text_iso(lite)
    plain = vault.decrypt_many(key_id, "evidence", [r[11] for r in rows])
    # One json.loads for all evidence: a shredded key yields null for every event.
    evidence = json.loads(b"[" + b",".join(p or b"null" for p in plain) + b"]")
    return [
        {
            "id": r[0],
            "seq": r[1],
            "purpose": r[2],
            "purpose_version": r[3],
            "theme": r[4],
            "channel": r[5],
            "address_id": r[6],
            "status": r[7],
            "source": r[8],
            "occurred_at": iso(r[9]),
            "recorded_at": iso(r[10]),
            "evidence": proof,
            "communication_id": r[12],
            "confirms_event_id": r[13],
            "hash": r[14],
        }
        for r, proof in zip(rows, evidence, strict=True)
    ]


def _communications(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    c = communications
    lite = is_sqlite(conn.engine)
    iso = _text_iso(lite)
    rows = conn.execute(
        select(
            c.c.id,
            c.c.channel,
            c.c.direction,
            c.c.address_id,
            c.c.theme,
            c.c.purpose_id,
            _stamp(c.c.occurred_at, lite),
            c.c.content_ref,
            c.c.decision_reason,
            c.c.decision_basis,
            c.c.decision_event_id,
        )
        .where(c.c.contact_id == contact_id)
        .order_by(c.c.id)
    ).all()
    return [
        {
            "id": r[0],
            "channel": r[1],
            "direction": r[2],
            "address_id": r[3],
            "theme": r[4],
            "purpose": r[5],
            "occurred_at": iso(r[6]),
            "content_ref": r[7],
            "decision": None if r[8] is None else {"reason": r[8], "basis": r[9], "event": r[10]},
        }
        for r in rows
    ]


def _outbox(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(outbox).where(outbox.c.contact_id == contact_id).order_by(outbox.c.id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "journey": r["journey_id"],
            "step": r["step_id"],
            "channel": r["channel"],
            "template": r["template_id"],
            "purpose": r["purpose_id"],
            "theme": r["theme"],
            "kind": r["kind"],
            "status": r["status"],
            "created_at": _iso(r["created_at"]),
            "sent_at": _iso(r["sent_at"]),
            "decision": {
                "reason": r["decision_reason"],
                "basis": r["decision_basis"],
                "event": r["decision_event_id"],
            },
        }
        for r in rows
    ]


def _journeys(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    jc, jt = journey_contacts, journey_transitions
    moves: dict[str, list[dict[str, Any]]] = {}
    for t in conn.execute(
        select(jt).where(jt.c.contact_id == contact_id).order_by(jt.c.id)
    ).mappings():
        moves.setdefault(t["journey_id"], []).append(
            {
                "from": t["from_step"],
                "to": t["to_step"],
                "outcome": t["outcome"],
                "at": t["at"].isoformat(),
            }
        )
    heard: dict[str, list[dict[str, Any]]] = {}
    je = journey_events
    for e in conn.execute(
        select(je).where(je.c.contact_id == contact_id, je.c.status == "entered").order_by(je.c.id)
    ).mappings():
        heard.setdefault(e["journey_id"], []).append(
            {
                "on": e["kind"],
                "name": e["name"],
                "occurred_at": e["occurred_at"].isoformat(),
                "properties": e["properties"],
            }
        )
    rows = conn.execute(
        select(jc, journeys.c.name, journeys.c.purpose_id)
        .join(journeys, journeys.c.id == jc.c.journey_id)
        .where(jc.c.contact_id == contact_id)
        .order_by(jc.c.entered_at, jc.c.journey_id)
    ).mappings()
    out = []
    for r in rows:
        out.append(
            {
                "journey": r["journey_id"],
                "name": r["name"],
                "purpose": r["purpose_id"],
                "step": r["step_id"],
                "status": r["status"],
                "entered_at": _iso(r["entered_at"]),
                "data": r["data"],
                "events": heard.get(r["journey_id"], []),
                "transitions": moves.pop(r["journey_id"], []),
            }
        )
    for journey_id, transitions in moves.items():  # archived journeys keep no contact row
        out.append(
            {
                "journey": journey_id,
                "name": None,
                "purpose": None,
                "step": None,
                "status": "left",
                "entered_at": None,
                "data": {},
                "events": [],
                "transitions": transitions,
            }
        )
    return out


def _rectifications(
    conn: Connection, vault: Vault, contact_id: int, key_id: str
) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(rectifications)
        .where(rectifications.c.contact_id == contact_id)
        .order_by(rectifications.c.id)
    ).mappings()
    return [
        {
            "at": r["at"].isoformat(),
            "actor": r["actor"],
            "field": r["field"],
            "old_value": _json(vault, key_id, f"rect:{r['field']}", r["old_value"]),
            "new_value": _json(vault, key_id, f"rect:{r['field']}", r["new_value"]),
        }
        for r in rows
    ]


def _holds(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(legal_holds).where(legal_holds.c.contact_id == contact_id)
    ).mappings()
    return [
        {
            "id": r["id"],
            "category": r["category"],
            "reason": r["reason"],
            "until": _iso(r["until"]),
            "created_at": _iso(r["created_at"]),
            "released_at": _iso(r["released_at"]),
        }
        for r in rows
    ]
