"""Inbound events: signature, window, replay, unknown people, each change applied once."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.blocks import list_blocks
from candor.ledger.contacts import read_contact
from candor.ledger.event_data import encode
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.store.engine import reading
from candor.store.tables import audit_log, communications, consent_events, contacts
from candor.sync.inbound import receive
from candor.sync.signing import sign_headers
from tests.journeys.runtime.helpers import add_contact
from tests.web.conftest import Api, api  # noqa: F401  (the fixture)

from .conftest import SECRET, connect, deliveries, hook


def event(
    kind: str, ident: str, data: dict[str, Any] | None = None, id_type: str = "external_id"
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "occurred_at": "2026-03-02T08:59:00+00:00",
        "source": "crm",
        "subject": {"identifier_type": id_type, "identifier": ident},
        "data": data or {},
    }


def signed(
    cx: Candor, body: dict[str, Any], *, sender: str = "crm", secret: str = SECRET, age: int = 0
) -> tuple[dict[str, str], bytes]:
    raw = encode(body)
    ts = int(cx.clock.now().timestamp()) - age
    return sign_headers(secret.encode(), raw, timestamp=ts, event_id=body["id"], sender=sender), raw


def send(cx: Candor, body: dict[str, Any], **kw: Any) -> tuple[int, dict[str, Any]]:
    headers, raw = signed(cx, body, **kw)
    return receive(cx, headers, raw)


def test_signature_window_and_replay(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm")])
    cid = add_contact(cx, 1)
    body = event("contact.restricted", "c1")
    assert send(cx, body, secret="wrong")[0] == 401
    assert send(cx, body, sender="nobody")[0] == 401
    assert send(cx, body, age=301)[0] == 401
    headers, raw = signed(cx, body)
    assert receive(cx, headers, raw.replace(b"c1", b"c2"))[0] == 401  # body changed after signing
    assert send(cx, body) == (200, {"status": "accepted", "id": body["id"]})
    assert send(cx, body) == (200, {"status": "duplicate", "id": body["id"]})
    with reading(cx.engine) as conn:
        assert conn.execute(select(contacts.c.restricted_at).where(contacts.c.id == cid)).scalar()
        actions = conn.execute(
            select(audit_log.c.action, audit_log.c.actor).where(
                audit_log.c.action == "contact.restrict"
            )
        ).all()
    assert actions == [("contact.restrict", "connector:crm")]


def test_unknown_person_is_acknowledged_without_trace(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm")])
    add_contact(cx, 1)
    status, answer = send(cx, event("contact.erased", "nobody-here"))
    assert status == 200 and answer["status"] == "accepted"
    with reading(cx.engine) as conn:
        assert conn.execute(select(contacts.c.erased_at)).scalars().all() == [None]


def test_consent_block_rectify_and_erase_apply_with_the_connector_as_source(
    configured: Candor,
) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("shop")])
    cid = add_contact(cx, 1)
    data = {
        "purpose": "events",
        "theme": None,
        "channel": None,
        "status": "withdrawn",
        "address": False,
    }
    assert send(cx, event("consent.changed", "c1", data))[0] == 200
    assert send(cx, event("consent.changed", "c1", {**data, "purpose": "unknown"}))[0] == 200
    with reading(cx.engine) as conn:
        decision = decide_for(
            conn, cid, purpose_facts(conn, "events"), "email", None, None, cx.clock.now()
        )
        sources = conn.execute(select(consent_events.c.source)).scalars().all()
    assert decision.reason == "withdrawn" and sources == ["connector:crm"]
    block = {"block_id": "77", "channel": "sms", "theme": "no-such-theme", "address": True}
    assert send(cx, event("block.set", "c1", block))[0] == 200
    assert send(cx, event("block.set", "c1", block))[0] == 200  # same remote block: once
    with reading(cx.engine) as conn:
        blocks = list_blocks(conn, cid, cx.vault)
    assert [(b["kind"], b["channel"], b["source"]) for b in blocks] == [
        ("channel", "sms", "connector:crm")
    ]
    assert blocks[0]["evidence"]["connector"] == "connector:crm"
    assert blocks[0]["evidence"]["remote_block"] == "77"
    assert send(cx, event("block.lifted", "c1", {"block_id": "77"}))[0] == 200
    with reading(cx.engine) as conn:
        lifted = list_blocks(conn, cid, cx.vault)[0]["lifted"]
    assert lifted["source"] == "connector:crm" and lifted["evidence"]["remote_block"] == "77"
    changes = {"attributes.country": "AT", "attributes.unknown": 1, "first_name": "Eve"}
    assert send(cx, event("contact.rectified", "c1", {"changes": changes}))[0] == 200
    with reading(cx.engine) as conn:
        contact = read_contact(conn, cx.vault, cid)
    assert contact["attributes"]["country"] == "AT" and contact["first_name"] == "Eve"
    # everything applied here goes on to shop, nothing back to crm
    assert {d["connector"] for d in deliveries(cx)} == {"shop"}
    assert send(cx, event("contact.erased", "c1"))[0] == 200
    with reading(cx.engine) as conn:
        assert conn.execute(select(contacts.c.erased_at).where(contacts.c.id == cid)).scalar()
    assert [d["connector"] for d in deliveries(cx)] == ["shop"]  # the erasure, to shop only


def test_the_endpoint_needs_no_api_key_but_a_signature(api: Api) -> None:  # noqa: F811
    cx = api.cx
    clock = cx.clock
    assert isinstance(clock, ManualClock)
    connect(cx, [hook("crm")])
    add_contact(cx, 1)
    body = event("contact.objected", "c1")
    headers, raw = signed(cx, body)
    assert (
        api.post(
            "/api/v1/sync/events",
            None,
            content=raw,
            headers={**headers, "Candor-Signature": "t=1,v1=00"},
        ).status_code
        == 401
    )
    answer = api.post("/api/v1/sync/events", None, content=raw, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    again = api.post("/api/v1/sync/events", None, content=raw, headers=headers)
    assert again.json()["status"] == "duplicate"
    bad = encode({**body, "id": "x", "type": "nonsense"})
    headers = sign_headers(
        SECRET.encode(), bad, timestamp=int(clock.now().timestamp()), event_id="x", sender="crm"
    )
    assert api.post("/api/v1/sync/events", None, content=bad, headers=headers).status_code == 422
    assert api.get("/api/v1/sync/status", None).status_code == 401
    status = api.get("/api/v1/sync/status", "auditor")
    assert status.status_code == 200 and status.json()["connectors"][0]["connector"] == "crm"
    clock.advance(timedelta(minutes=6))
    late = api.post(
        "/api/v1/sync/events",
        None,
        content=raw,
        headers=signed(cx, body, age=0)[0] | {"Candor-Signature": headers["Candor-Signature"]},
    )
    assert late.status_code == 401


def test_a_lifted_restriction_follows_without_a_second_notice(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm"), hook("shop")])
    cid = add_contact(cx, 1)
    assert send(cx, event("contact.restriction_lifted", "c1"))[1]["status"] == "accepted"
    with reading(cx.engine) as conn:  # not restricted here: nothing to lift, nothing changed
        assert (
            conn.execute(select(contacts.c.restricted_at).where(contacts.c.id == cid)).scalar()
            is None
        )
    assert send(cx, event("contact.restricted", "c1"))[0] == 200
    assert send(cx, event("contact.restriction_lifted", "c1"))[0] == 200
    with reading(cx.engine) as conn:
        assert (
            conn.execute(select(contacts.c.restricted_at).where(contacts.c.id == cid)).scalar()
            is None
        )
        decision = decide_for(
            conn, cid, purpose_facts(conn, "service"), "email", None, None, cx.clock.now()
        )
        notices = conn.execute(
            select(communications.c.id).where(communications.c.content_ref.like("notice:%"))
        ).all()
        lifted_by = (
            conn.execute(
                select(audit_log.c.actor).where(audit_log.c.action == "contact.restriction_lift")
            )
            .scalars()
            .all()
        )
    assert decision.reason == "allowed"  # processing may go on again
    assert notices == [] and lifted_by == ["connector:crm"]  # crm told the person, not us
    assert [d["connector"] for d in deliveries(cx)][-2:] == ["shop", "shop"]  # never back to crm


def test_malformed_data_is_refused_naming_the_field_never_a_500(configured: Candor) -> None:
    cx = configured
    connect(cx, [hook("crm")])
    cid = add_contact(cx, 1)
    withdraw = {"purpose": "events", "status": "withdrawn"}
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {**event("consent.changed", "c1", withdraw), "occurred_at": "2026-03-02T08:59:00"},
            "occurred_at",
        ),
        (event("consent.changed", "c1", {**withdraw, "theme": {"a": 1}}), "data.theme"),
        (event("consent.changed", "c1", {**withdraw, "channel": ["sms"]}), "data.channel"),
        (
            event("consent.changed", "c1", {"purpose": "events", "status": ["withdrawn"]}),
            "data.status",
        ),
        (event("block.set", "c1", {"block_id": "1", "theme": ["events"]}), "data.theme"),
        (event("block.set", "c1", {"block_id": "a\x00b"}), "data.block_id"),
        (event("block.lifted", "c1", {"block_id": {"x": 1}}), "data.block_id"),
        (
            event("contact.rectified", "c1", {"changes": {"first_name": ["Eve"]}}),
            "data.changes.first_name",
        ),
        (event("contact.rectified", "c1", {"changes": {"language": 5}}), "data.changes.language"),
        (
            event("contact.rectified", "c1", {"changes": {"timezone": "Mars/Base"}}),
            "data.changes.timezone",
        ),
        (event("contact.rectified", "c1", {"changes": "x"}), "data.changes"),
        ({**event("contact.objected", "c1"), "id": "x\x00"}, "id"),
        (event("contact.objected", "c1\x00"), "subject.identifier"),
    ]
    for body, field in cases:
        status, answer = send(cx, body)
        assert (status, answer["errors"][0]["field"]) == (422, field), body
    with reading(cx.engine) as conn:
        assert conn.execute(select(consent_events.c.id)).first() is None
        assert list_blocks(conn, cid) == []
        contact = conn.execute(select(contacts).where(contacts.c.id == cid)).mappings().one()
    assert contact["objected_at"] is None and contact["language"] == "en"
    # the same shapes, well formed: block ids may be numbers, a null language changes nothing
    assert send(cx, event("block.set", "c1", {"block_id": 7, "channel": "sms"}))[0] == 200
    assert send(cx, event("block.lifted", "c1", {"block_id": 7}))[0] == 200
    rectify = {"changes": {"language": None, "last_name": None, "timezone": "Europe/Berlin"}}
    assert send(cx, event("contact.rectified", "c1", rectify))[0] == 200
    with reading(cx.engine) as conn:
        (made,) = list_blocks(conn, cid)
        contact = read_contact(conn, cx.vault, cid)
    assert made["lifted"]["source"] == "connector:crm"
    assert contact["language"] == "en" and contact["timezone"] == "Europe/Berlin"


def test_refusals_answer_in_the_apis_one_error_shape(api: Api) -> None:  # noqa: F811
    connect(api.cx, [hook("crm")])
    add_contact(api.cx, 1)
    headers, raw = signed(api.cx, event("contact.objected", "c1"))
    forged = {**headers, "Candor-Signature": "t=1,v1=00"}
    unknown = {**headers, "Candor-Connector": "nobody"}
    for sent, field in ((forged, "Candor-Signature"), (unknown, "Candor-Connector")):
        answer = api.post("/api/v1/sync/events", None, content=raw, headers=sent)
        assert answer.status_code == 401
        (problem,) = answer.json()["errors"]
        assert set(answer.json()) == {"errors"} and problem["field"] == field, answer.json()
        assert problem["problem"]
