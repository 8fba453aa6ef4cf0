"""Applying an event a connector sent: verify, refuse replays, map the person, apply.

The signature and a five-minute timestamp window are checked first (401 otherwise), then the
format (sync.wire: 422 naming the field). An event id seen before from that connector is
answered `duplicate` and applied once only. The shared identifier is mapped to a local
contact; an unknown person is acknowledged like any other event (nothing applied, nothing
disclosed). Each change goes through the ordinary verbs with
the connector as actor and source, and the events they publish are never echoed back to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from candor.core.context import Candor
from candor.core.errors import Conflict, InvalidInput
from candor.ledger.addresses import CHANNELS
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.connector_settings import WebhookConnector, load_settings
from candor.ledger.consents import ConsentInput, append_event, lock_contact, record_consent
from candor.ledger.contacts import find_by_address
from candor.ledger.events import origin
from candor.ledger.external_ids import find_by_external_id
from candor.ledger.profile import attribute_types
from candor.ledger.rectification import rectify_contact
from candor.ledger.registry import purpose_facts, theme_scope
from candor.rights.erasure import erase_in
from candor.rights.restriction import lift_restriction, object_contact, restrict_contact
from candor.store.engine import reading
from candor.store.sync_tables import sync_block_links, sync_received
from candor.sync.event_format import InboundEvent, checked, errors
from candor.sync.signing import (
    CONNECTOR_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    SignatureError,
    verify,
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return headers.get(name) or headers.get(name.lower())


def receive(cx: Candor, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    """(HTTP status, answer) for one delivery from a connector."""
    sender = _header(headers, CONNECTOR_HEADER) or ""
    with reading(cx.engine) as conn:
        connector = load_settings(conn).webhook(sender)
    secret = connector.secret() if connector is not None else None
    if connector is None or secret is None:
        return 401, _problem(CONNECTOR_HEADER, "unknown connector or signature")
    try:
        verify(secret, headers, body, now=cx.clock.now().timestamp())
    except SignatureError as exc:
        return 401, _problem(SIGNATURE_HEADER, str(exc))
    try:
        event = InboundEvent.model_validate_json(body)
    except ValidationError as exc:
        return 422, errors(exc)
    try:
        event = checked(event)
    except ValidationError as exc:
        return 422, errors(exc, ("data",))
    header_id = _header(headers, EVENT_ID_HEADER)
    if header_id is not None and header_id != event.id:
        return 422, _problem("id", f"differs from {EVENT_ID_HEADER}")
    if event.subject.identifier_type != connector.identifier:
        problem = f"this connector shares {connector.identifier}"
        return 422, _problem("subject.identifier_type", problem)
    try:
        with cx.engine.begin() as conn:
            if _seen(conn, connector.id, event.id):
                return 200, {"status": "duplicate", "id": event.id}
            outcome = _apply(cx, conn, connector, event)
            conn.execute(
                insert(sync_received).values(
                    connector=connector.id,
                    event_id=event.id,
                    type=event.type,
                    received_at=cx.clock.now(),
                    outcome=outcome,
                )
            )
    except IntegrityError:  # the same event arrived twice at once: the other one applied it
        return 200, {"status": "duplicate", "id": event.id}
    except InvalidInput as exc:
        return 422, _problem(f"data.{exc.field}" if exc.field else "data", exc.problem)
    except Conflict as exc:
        return 422, _problem("data", str(exc))
    return 200, {"status": "accepted", "id": event.id}


def _problem(field: str, problem: str) -> dict[str, Any]:
    """The API's one error shape: {"errors": [{"field", "problem"}]}."""
    return {"errors": [{"field": field, "problem": problem}]}


def _seen(conn: Connection, connector: str, event_id: str) -> bool:
    found = conn.execute(
        select(sync_received.c.event_id).where(
            sync_received.c.connector == connector, sync_received.c.event_id == event_id
        )
    ).first()
    return found is not None


def local_contact(conn: Connection, cx: Candor, kind: str, identifier: str) -> int | None:
    """The (not erased) local contact the shared identifier names, if any."""
    if kind == "email":
        try:
            return find_by_address(conn, cx.vault, "email", identifier)
        except InvalidInput:
            return None
    return find_by_external_id(conn, cx.vault, identifier)


def _apply(cx: Candor, conn: Connection, connector: WebhookConnector, event: InboundEvent) -> str:
    contact_id = local_contact(conn, cx, event.subject.identifier_type, event.subject.identifier)
    if contact_id is None:
        return "unknown_subject"
    actor = f"connector:{connector.id}"
    now = cx.clock.now()
    data = event.data
    with origin(connector.id):
        if event.type == "contact.erased":
            erase_in(conn, cx.vault, [contact_id], actor=actor, reason=actor, at=now)
        elif event.type == "contact.restricted":
            try:
                restrict_contact(conn, contact_id, actor=actor, at=now)
            except Conflict:
                return "already"
        elif event.type == "contact.restriction_lifted":
            try:  # the sending system told the person already (Art. 18(3))
                lift_restriction(conn, contact_id, actor=actor, at=now, notify=False)
            except Conflict:
                return "already"
        elif event.type == "contact.objected":
            object_contact(conn, contact_id, actor=actor, at=now)
        elif event.type == "contact.rectified":
            return _rectify(cx, conn, contact_id, data, actor, now)
        elif event.type == "consent.changed":
            return _consent(cx, conn, contact_id, event, actor, now)
        elif event.type == "block.set":
            return _block(cx, conn, connector, contact_id, event, actor, now)
        else:
            return _lift(cx, conn, connector, event, actor, now)
    return "applied"


def _rectify(
    cx: Candor, conn: Connection, contact_id: int, data: dict[str, Any], actor: str, now: datetime
) -> str:
    """Declared attributes, language, time zone; names and e-mail addresses when sent."""
    raw = data["changes"]  # shape checked on receipt (RectifyChanges)
    declared = attribute_types(conn)
    changes: dict[str, Any] = {}
    attributes = {
        k.removeprefix("attributes."): v
        for k, v in raw.items()
        if k.startswith("attributes.") and k.removeprefix("attributes.") in declared
    }
    if attributes:
        changes["attributes"] = attributes
    for name in ("language", "timezone", "first_name", "last_name"):
        if name in raw and (raw[name] is not None or name.endswith("_name")):
            changes[name] = raw[name]  # a name may be cleared; language and zone may not
    emails = raw.get("addresses.email") or []
    if emails:
        changes["addresses"] = [{"channel": "email", "value": v} for v in emails]
    if not changes:
        return "ignored"
    rectify_contact(conn, cx.vault, contact_id, changes, actor=actor, at=now)
    return "applied"


def _consent(
    cx: Candor,
    conn: Connection,
    contact_id: int,
    event: InboundEvent,
    actor: str,
    now: datetime,
) -> str:
    """A denial is recorded (an address scope widens to the channel); a grant only as sent."""
    data = event.data
    status, channel = data.get("status"), data.get("channel")
    if channel is not None and channel not in CHANNELS:
        return "ignored"
    try:
        purpose = purpose_facts(conn, str(data.get("purpose")))
        theme = theme_scope(conn, data.get("theme"))
    except InvalidInput:
        return "ignored"  # a purpose or theme this instance does not have
    granting = status in ("granted", "confirmed")
    if status not in ("granted", "confirmed", "refused", "withdrawn", "expired"):
        return "ignored"
    if granting and data.get("address"):
        return "ignored"  # the address is not shared: a grant must not widen
    at = min(event.occurred_at, now)
    evidence = {"connector": actor, "event": event.id, "remote_status": status}
    if status == "confirmed":  # the double opt-in happened there, with its own evidence
        row = lock_contact(conn, contact_id)
        values = {
            "purpose_id": purpose.id,
            "purpose_version": purpose.current_version,
            "theme": theme,
            "channel": channel,
            "address_id": None,
            "status": "confirmed",
            "source": actor,
            "occurred_at": at,
            "communication_id": None,
            "confirms_event_id": None,
        }
        append_event(conn, cx.vault, row, values, evidence, now)
        return "applied"
    record_consent(
        conn,
        cx.vault,
        contact_id,
        ConsentInput(
            purpose=purpose.id,
            status=status,
            source=actor,
            theme=theme,
            channel=channel,
            evidence=evidence,
            occurred_at=at,
        ),
        actor=actor,
        at=now,
    )
    return "applied"


def _block(
    cx: Candor,
    conn: Connection,
    connector: WebhookConnector,
    contact_id: int,
    event: InboundEvent,
    actor: str,
    now: datetime,
) -> str:
    """The same block here; an unshared address or unknown theme widens it (never narrows)."""
    data = event.data
    remote = str(data.get("block_id", ""))[:64]
    channel = data.get("channel")
    if not remote or (channel is not None and channel not in CHANNELS):
        return "ignored"
    if conn.execute(
        select(sync_block_links.c.block_id).where(
            sync_block_links.c.connector == connector.id, sync_block_links.c.remote_block == remote
        )
    ).first():
        return "already"
    theme = data.get("theme")
    try:
        theme = theme_scope(conn, theme)
    except InvalidInput:
        theme = None
    address = None
    if data.get("address") and channel == "email" and connector.identifier == "email":
        address = event.subject.identifier
    block_id = set_block(
        conn,
        cx.vault,
        contact_id,
        reason=f"set at {actor}",
        source=actor,
        channel=channel,
        address=address,
        theme=theme,
        evidence={"connector": actor, "event": event.id, "remote_block": remote},
        actor=actor,
        at=now,
    )
    conn.execute(
        insert(sync_block_links).values(
            connector=connector.id, remote_block=remote, block_id=block_id
        )
    )
    return "applied"


def _lift(
    cx: Candor,
    conn: Connection,
    connector: WebhookConnector,
    event: InboundEvent,
    actor: str,
    now: datetime,
) -> str:
    """Lift the block that connector's block set here (blocks set otherwise stay)."""
    remote = str(event.data.get("block_id", ""))[:64]
    block_id = conn.execute(
        select(sync_block_links.c.block_id).where(
            sync_block_links.c.connector == connector.id, sync_block_links.c.remote_block == remote
        )
    ).scalar()
    if block_id is None:
        return "ignored"
    try:
        lift_block(
            conn,
            cx.vault,
            int(block_id),
            reason=f"lifted at {actor}",
            source=actor,
            evidence={"connector": actor, "event": event.id, "remote_block": remote},
            actor=actor,
            at=now,
        )
    except Conflict:
        return "already"
    return "applied"
