"""The consent ledger: append-only events with evidence, a hash chain, and a projection.

Every change of permission is a new event; nothing is updated in place. A grant on a channel
that needs double opt-in is recorded as `pending` and comes with a signed, expiring,
single-use confirmation token; confirming it is a new `confirmed` event with its own evidence.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from candor.core import tokens
from candor.core.errors import Conflict, InvalidInput
from candor.ledger import audit, triggers
from candor.ledger.addresses import CHANNELS
from candor.ledger.bulk import project as project_events
from candor.ledger.chain import event_hash
from candor.ledger.communications import check_communication
from candor.ledger.contacts import address_id_for, contact_row, lock_contact
from candor.ledger.events import publish_consents
from candor.ledger.registry import purpose_facts, theme_scope
from candor.policy.decide import DECISIVE_STATUSES
from candor.store.tables import consent_events, doi_tokens, ledger_heads
from candor.store.vault import Vault

RECORDABLE = ("granted", "refused", "withdrawn", "requested", "expired")
DOI_TOKEN_PURPOSE = "doi"
DOI_VALID_FOR = timedelta(days=7)


@dataclass
class ConsentInput:
    purpose: str
    status: str
    source: str
    theme: str | None = None
    channel: str | None = None
    address: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    communication_id: int | None = None
    occurred_at: datetime | None = None


@dataclass
class RecordedConsent:
    event: dict[str, Any]
    confirmation_token: str | None = None


def record_consent(
    conn: Connection, vault: Vault, contact_id: int, data: ConsentInput, *, actor: str, at: datetime
) -> RecordedConsent:
    """Append one consent event; a DOI grant becomes `pending` with a confirmation token."""
    if data.status not in RECORDABLE:
        raise InvalidInput("status", f"must be one of {', '.join(RECORDABLE)}")
    if data.channel is not None and data.channel not in CHANNELS:
        raise InvalidInput("channel", f"unknown channel {data.channel!r}")
    if not data.source:
        raise InvalidInput("source", "is required")
    row = lock_contact(conn, contact_id)
    check_communication(conn, contact_id, data.communication_id)
    purpose = purpose_facts(conn, data.purpose)
    theme = theme_scope(conn, data.theme)
    address_id = address_id_for(conn, vault, contact_id, data.channel, data.address)
    status = data.status
    needs_doi = (
        status == "granted"
        and purpose.double_opt_in
        and (data.channel is None or data.channel in purpose.double_opt_in)
    )
    if needs_doi:
        status = "pending"
    event = append_event(
        conn,
        vault,
        row,
        {
            "purpose_id": purpose.id,
            "purpose_version": purpose.current_version,
            "theme": theme,
            "channel": data.channel,
            "address_id": address_id,
            "status": status,
            "source": data.source,
            "occurred_at": data.occurred_at or at,
            "communication_id": data.communication_id,
            "confirms_event_id": None,
        },
        data.evidence,
        at,
    )
    token = issue_doi_token(conn, vault, event, at) if needs_doi else None
    audit.record(
        conn,
        actor=actor,
        action=f"consent.{status}",
        object_type="consent_event",
        object_id=event["id"],
        at=at,
        contact=contact_id,
        purpose=purpose.id,
    )
    return RecordedConsent(event=event, confirmation_token=token)


def append_event(
    conn: Connection,
    vault: Vault,
    contact: Any,
    values: dict[str, Any],
    evidence: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """Chain, store and project one event; the caller holds the contact's lock."""
    contact_id = contact["id"]
    head = (
        conn.execute(select(ledger_heads).where(ledger_heads.c.contact_id == contact_id))
        .mappings()
        .first()
    )
    sealed = vault.encrypt_json(contact["key_id"], "evidence", evidence)
    full = {
        **values,
        "contact_id": contact_id,
        "seq": (head["event_count"] if head else 0) + 1,
        "recorded_at": at,
        "evidence": sealed,
        "prev_hash": head["last_hash"] if head else "",
    }
    full["hash"] = event_hash(full)
    event_id = int(
        conn.execute(
            insert(consent_events).values(full).returning(consent_events.c.id)
        ).scalar_one()
    )
    head_values = {"last_event_id": event_id, "last_hash": full["hash"], "event_count": full["seq"]}
    if head is None:
        conn.execute(insert(ledger_heads).values(contact_id=contact_id, **head_values))
    else:
        conn.execute(
            update(ledger_heads).where(ledger_heads.c.contact_id == contact_id).values(head_values)
        )
    if full["status"] in DECISIVE_STATUSES:
        project(conn, {**full, "id": event_id})
    publish_consents(conn, [full], at)  # connectors hear of it in this transaction
    triggers.consents_changed(conn, [full], at)  # and triggered journeys
    return {**full, "id": event_id, "evidence": evidence}


def project(conn: Connection, event: dict[str, Any]) -> None:
    """Keep the latest event per exact scope in consent_state (ties broken by event id)."""
    project_events(conn, [event])


def issue_doi_token(conn: Connection, vault: Vault, event: dict[str, Any], at: datetime) -> str:
    """A signed, expiring token for the pending event; its row makes it single-use."""
    return issue_doi_tokens(conn, vault, [[event]], at)[0]


def issue_doi_tokens(
    conn: Connection,
    vault: Vault,
    groups: Sequence[Sequence[dict[str, Any]]],
    at: datetime,
    claims: Sequence[dict[str, Any]] | None = None,
) -> list[str]:
    """Per group of pending events one signed, expiring token confirming them all (a row per
    event, each single-use; one statement for every group); `claims` ride along per group
    (a form names itself, for its confirmed page)."""
    expires = at + DOI_VALID_FOR
    named = [[secrets.token_hex(16) for _ in group] for group in groups]
    rows = [
        {"id": token_id, "event_id": e["id"], "contact_id": e["contact_id"], "expires_at": expires}
        for group, ids in zip(groups, named, strict=True)
        for e, token_id in zip(group, ids, strict=True)
    ]
    if rows:
        conn.execute(insert(doi_tokens), rows)
    extra = claims or [{} for _ in groups]
    return [
        tokens.sign(
            vault.signing_key,
            DOI_TOKEN_PURPOSE,
            {"t": ids[0] if len(ids) == 1 else ids, **more},
            expires,
        )
        for ids, more in zip(named, extra, strict=True)
    ]


def doi_token_ids(claims: dict[str, Any]) -> list[str]:
    """The token rows a verified double opt-in token names (one, or a form's several)."""
    named = claims.get("t")
    if isinstance(named, str):
        return [named]
    if isinstance(named, list):
        return [t for t in named if isinstance(t, str)][:50]
    return []


def confirm_doi(
    conn: Connection,
    vault: Vault,
    token: str,
    evidence: dict[str, Any],
    *,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Confirm the pending grants a token names: a new `confirmed` event pointing at each
    pending one; returns the first. Conflict when every one was confirmed already."""
    try:
        claims = tokens.verify(vault.signing_key, token, DOI_TOKEN_PURPOSE, at)
    except tokens.TokenError as exc:
        raise InvalidInput("token", str(exc)) from None
    rows = (
        conn.execute(
            select(doi_tokens)
            .where(doi_tokens.c.id.in_(doi_token_ids(claims)))
            .order_by(doi_tokens.c.event_id)
        )
        .mappings()
        .all()
    )
    if not rows:
        raise InvalidInput("token", "token is not known")
    unused = [row for row in rows if row["used_at"] is None]
    if not unused:
        raise Conflict("token: already used")
    confirmed = [_confirm_one(conn, vault, row, evidence, actor=actor, at=at) for row in unused]
    return confirmed[0]


def _confirm_one(
    conn: Connection, vault: Vault, row: Any, evidence: dict[str, Any], *, actor: str, at: datetime
) -> dict[str, Any]:
    pending = (
        conn.execute(select(consent_events).where(consent_events.c.id == row["event_id"]))
        .mappings()
        .one()
    )
    contact = lock_contact(conn, pending["contact_id"])
    conn.execute(update(doi_tokens).where(doi_tokens.c.id == row["id"]).values(used_at=at))
    values = {
        name: pending[name]
        for name in ("purpose_id", "purpose_version", "theme", "channel", "address_id")
    }
    event = append_event(
        conn,
        vault,
        contact,
        {
            **values,
            "status": "confirmed",
            "source": "double_opt_in",
            "occurred_at": at,
            "communication_id": pending["communication_id"],
            "confirms_event_id": pending["id"],
        },
        {**evidence, "confirmation_of": pending["id"]},
        at,
    )
    audit.record(
        conn,
        actor=actor,
        action="consent.confirmed",
        object_type="consent_event",
        object_id=event["id"],
        at=at,
        contact=contact["id"],
    )
    return event


def consent_history(
    conn: Connection, vault: Vault, contact_id: int, *, identifying: bool = True
) -> list[dict[str, Any]]:
    """Every event of the contact, oldest first, with its evidence (decrypted when allowed)."""
    contact = contact_row(conn, contact_id)
    rows = conn.execute(
        select(consent_events)
        .where(consent_events.c.contact_id == contact_id)
        .order_by(consent_events.c.seq)
    ).mappings()
    return [event_view(vault, contact["key_id"], r, identifying=identifying) for r in rows]


def event_view(vault: Vault, key_id: str, row: Any, *, identifying: bool = True) -> dict[str, Any]:
    evidence: Any = None
    if identifying:
        evidence = vault.decrypt_json(key_id, "evidence", row["evidence"])
    return {
        "id": row["id"],
        "contact": row["contact_id"],
        "seq": row["seq"],
        "purpose": row["purpose_id"],
        "purpose_version": row["purpose_version"],
        "theme": row["theme"],
        "channel": row["channel"],
        "address_id": row["address_id"],
        "status": row["status"],
        "source": row["source"],
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["recorded_at"].isoformat(),
        "evidence": evidence,
        "communication_id": row["communication_id"],
        "confirms_event_id": row["confirms_event_id"],
        "hash": row["hash"],
        "prev_hash": row["prev_hash"],
    }
