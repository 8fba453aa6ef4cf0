"""Rights steps end to end: reference -> transfer over real SMTP -> download; forget; score."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from candor.channels.links import preferences_token
from candor.channels.mailsink import MailSink
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import NotFound
from candor.journeys.runtime import default_dispatch, run_until_idle
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.rights.access import compile_access_copy
from candor.rights.certificates import certificate_of
from candor.rights.data_map import PLACES
from candor.rights.decisions import FACTORS_FIELD
from candor.rights.messages import ensure_template
from candor.rights.requests_view import read_request, request_result
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, outbox
from candor.store.rights_tables import automated_decisions, dsr_requests
from candor.store.tables import audit_log, contacts
from candor.web import create_app
from tests.channels.test_dispatch_support import PUBLIC_URL, configure_channels

from .helpers import add_contact, consent, positions, start, stats

LINK = re.compile(re.escape(PUBLIC_URL) + r"/download/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
COPY_MAIL = {
    "email": {
        "subject": "Your data, {{ first_name }}",
        "text": "Hello {{ first_name }}, fetch your copy: {{ download_url }}",
    }
}
COPY_FLOW = [
    {"id": "compile", "type": "reference"},
    {"id": "deliver", "type": "transfer", "channel": "email", "template": "copy_mail"},
    {"id": "done", "type": "end"},
]


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=0) as running:
        yield running


def _text(message: Any) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _send_copies(cx: Candor, sink: MailSink, flow: list[dict[str, Any]]) -> None:
    configure_channels(cx, smtp_port=sink.port)
    start(cx, flow, purpose="service", templates={"copy_mail": COPY_MAIL})
    run_until_idle(cx, default_dispatch())


def test_reference_and_transfer_deliver_a_link_never_the_data(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    alice = add_contact(cx, 1, attributes={"customer_value": 4321.5})
    consent(cx, alice, "events")
    _send_copies(cx, sink, COPY_FLOW)

    assert positions(cx) == {alice: ("done", "done")}
    assert stats(cx)[("compile", "compiled")] == 1
    assert stats(cx)[("deliver", "delivered")] == 1
    (mail,) = sink.messages()
    assert mail["To"] == "person1@example.com" and mail["List-Unsubscribe"] is None
    text = _text(mail)
    (link,) = LINK.findall(text)
    prose = text.replace(link, "")  # the random token may spell anything
    assert "4321.5" not in prose and "Invite me to events" not in prose and "DE" not in prose

    with reading(cx.engine) as conn:
        (request,) = conn.execute(select(dsr_requests)).mappings().all()
        assert request["contact_id"] == alice and request["status"] == "fulfilled"
        assert request["opened_by"] == "journey" and request["actor"] == "journey:promo"
        assert b"4321.5" not in request["result"]  # sealed with the person's key
        row = conn.execute(select(outbox)).mappings().one()
        assert (row["kind"], row["purpose_id"], row["status"]) == ("service", "service", "sent")
        history = read_request(conn, request["id"])["history"]
    assert [h["status"] for h in history] == ["received", "fulfilled", "delivered"]
    assert history[-1]["note"] == f"delivered: communication {row['communication_id']}"
    with reading(cx.engine) as conn:
        data = conn.execute(select(journey_contacts.c.data)).scalar_one()
    assert data["dsr_id"] == request["id"]

    http = TestClient(create_app(cx))
    page = http.get(link.removeprefix(PUBLIC_URL))
    assert page.status_code == 200 and "Name1" in page.text and "4321.5" in page.text
    assert (
        "<style>" not in page.text
        and "script-src 'self'" in page.headers["content-security-policy"]
    )
    assert page.headers["cache-control"] == "no-store"
    machine = http.get(link.removeprefix(PUBLIC_URL), params={"format": "json"})
    copy = machine.json()
    assert copy["format"] == "candor.access-copy" and copy["contact"]["first_name"] == "Name1"
    assert "attachment" in machine.headers["content-disposition"]
    assert any(c["purpose"] == "events" for c in copy["consents"])
    with reading(cx.engine) as conn:
        notes = [h["status"] for h in read_request(conn, request["id"])["history"]]
        downloads = conn.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "dsr.download")
        ).scalar_one()
    assert notes[-2:] == ["downloaded", "downloaded"] and downloads == 2


def test_download_refuses_forged_foreign_and_expired_links(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    add_contact(cx, 1)
    _send_copies(cx, sink, COPY_FLOW)
    (link,) = LINK.findall(_text(sink.messages()[0]))
    path = link.removeprefix(PUBLIC_URL)
    http = TestClient(create_app(cx))
    body, _, mac = path.rpartition(".")
    forged = http.get(f"{body}.{'A' * len(mac)}")
    assert forged.status_code == 400 and "Name1" not in forged.text
    wrong_kind = preferences_token(cx.vault.signing_key, contact_id=1, issued_at=cx.clock.now())
    assert http.get(f"/download/{wrong_kind}").status_code == 400
    assert isinstance(cx.clock, ManualClock)
    cx.clock.advance(timedelta(days=15))
    expired = http.get(path)
    assert expired.status_code == 400 and "Name1" not in expired.text


def test_transfer_without_reference_uses_the_builtin_template_in_the_persons_language(
    configured: Candor, sink: MailSink
) -> None:
    cx = configured
    english = add_contact(cx, 1)
    german = add_contact(cx, 2)
    with cx.engine.begin() as conn:
        conn.execute(contacts.update().where(contacts.c.id == german).values(language="de"))
        ensure_template(conn, "data-copy", "en", cx.clock.now())  # validate needs it stored
    flow = [
        {"id": "deliver", "type": "transfer", "channel": "email", "template": "data-copy"},
        {"id": "done", "type": "end"},
    ]
    _send_copies(cx, sink, flow)
    mails = {m["To"]: m for m in sink.messages()}
    assert mails["person1@example.com"]["Subject"] == "Your copy of your data is ready"
    assert mails["person2@example.com"]["Subject"] == "Ihre Kopie Ihrer Daten liegt bereit"
    assert all(LINK.search(_text(m)) for m in mails.values())
    with reading(cx.engine) as conn:
        rows = conn.execute(select(dsr_requests.c.contact_id, dsr_requests.c.id)).all()
        results = {cid: request_result(conn, cx.vault, rid)["data"] for cid, rid in rows}
    assert results[german]["contact"]["first_name"] == "Name2"
    assert positions(cx) == {english: ("done", "done"), german: ("done", "done")}


def test_forget_erases_the_batch_everywhere(configured: Candor) -> None:
    cx = configured
    gone = [add_contact(cx, n, sms=True) for n in (1, 2)]
    stays = add_contact(cx, 3, attributes={"country": "AT"})
    for cid in gone:
        consent(cx, cid, "events")
    start(
        cx,
        [{"id": "hold", "type": "wait", "duration": "P14D"}, {"id": "e", "type": "end"}],
        id="other",
    )
    start(cx, [{"id": "erase", "type": "forget"}, {"id": "done", "type": "end"}])
    run_until_idle(cx)

    assert stats(cx)[("erase", "erased")] == 2
    assert positions(cx) == {} and set(positions(cx, "other")) == set()
    events = purpose_facts
    with reading(cx.engine) as conn:
        for cid in gone:
            certificate = certificate_of(conn, cid)
            assert certificate["scan"]["clean"] and certificate["actor"] == "journey:promo"
            assert certificate["deleted"]["consent_events"] == 1
            assert certificate["journeys_left"] == 2
            decision = decide_for(
                conn, cid, events(conn, "service"), "email", None, None, cx.clock.now()
            )
            assert decision.reason == "erased"
        for place in PLACES:
            column = place.contact_column
            if column is None or place.erase == "scrub" or place.name == "contacts":
                continue
            left = conn.execute(
                select(func.count()).select_from(place.table).where(place.table.c[column].in_(gone))
            ).scalar_one()
            assert left == 0, place.name
        tombstones = conn.execute(
            select(contacts.c.identity, contacts.c.erased_at).where(contacts.c.id.in_(gone))
        ).all()
        assert all(t.identity is None and t.erased_at is not None for t in tombstones)
        assert (
            conn.execute(select(contacts.c.erased_at).where(contacts.c.id == stays)).scalar()
            is None
        )
    with reading(cx.engine) as conn, pytest.raises(NotFound):  # nothing left to copy
        compile_access_copy(conn, cx.vault, gone[0])


MODEL: dict[str, Any] = {
    "threshold": 3,
    "features": [
        {"field": "customer_value", "weight": 0.01},
        {"field": "vip", "weight": 2},
    ],
}
SCORE_FLOW: list[dict[str, Any]] = [
    {"id": "rate", "type": "score", "model": MODEL, "on_below": "low"},
    {"id": "high", "type": "end"},
    {"id": "low", "type": "end"},
]


def test_score_decides_only_with_consent_stores_factors_and_routes(configured: Candor) -> None:
    cx = configured
    top = add_contact(cx, 1, attributes={"customer_value": 250.0, "vip": True})
    low = add_contact(cx, 2, attributes={"customer_value": 100.0, "vip": False})
    never_asked = add_contact(cx, 3, attributes={"customer_value": 900.0, "vip": True})
    refused = add_contact(cx, 4, attributes={"customer_value": 900.0, "vip": True})
    for cid in (top, low):
        consent(cx, cid, "profiling")
    consent(cx, refused, "profiling", status="refused")
    start(cx, SCORE_FLOW, purpose="profiling", fields=["customer_value", "vip", "country"])
    run_until_idle(cx)

    assert positions(cx) == {
        top: ("high", "done"),
        low: ("low", "done"),
        never_asked: ("low", "done"),
        refused: ("low", "done"),
    }
    figures = stats(cx)
    assert figures[("rate", "above")] == 1 and figures[("rate", "below")] == 1
    assert figures[("rate", "not_asked")] == 1 and figures[("rate", "refused")] == 1
    with reading(cx.engine) as conn:
        rows = conn.execute(select(automated_decisions)).mappings().all()
        data = dict(
            conn.execute(select(journey_contacts.c.contact_id, journey_contacts.c.data)).all()
        )
        key = conn.execute(select(contacts.c.key_id).where(contacts.c.id == top)).scalar_one()
        copy = compile_access_copy(conn, cx.vault, top)
    assert sorted(r["contact_id"] for r in rows) == [top, low]  # nobody scored without consent
    best = next(r for r in rows if r["contact_id"] == top)
    assert (best["outcome"], best["score"], best["purpose_id"]) == ("above", 4.5, "profiling")
    factors = json.loads(cx.vault.decrypt(key, FACTORS_FIELD, best["factors"]) or b"[]")
    assert [(f["field"], f["contribution"]) for f in factors] == [
        ("customer_value", 2.5),
        ("vip", 2.0),
    ]
    assert data[top]["score"] == 4.5 and data[top]["outcome"] == "above"
    assert data[top]["decision_id"] == best["id"]
    assert (data[never_asked]["score"], data[never_asked]["outcome"]) == (None, "not_asked")
    assert data[refused]["outcome"] == "refused"
    (explained,) = copy["automated_decisions"]
    assert "threshold 3" in explained["explanation"] and explained["outcome"] == "above"


def test_an_undispatched_copy_moves_on_when_its_link_expires(configured: Candor) -> None:
    cx = configured
    alice = add_contact(cx, 1)
    start(cx, COPY_FLOW, purpose="service", templates={"copy_mail": COPY_MAIL})
    run_until_idle(cx)  # no dispatcher: the message stays queued, the contact waits
    assert positions(cx) == {alice: ("deliver", "waiting")}
    assert isinstance(cx.clock, ManualClock)
    cx.clock.advance(timedelta(days=15))
    run_until_idle(cx)

    assert positions(cx) == {alice: ("done", "done")}
    assert stats(cx)[("deliver", "undelivered")] == 1
    with reading(cx.engine) as conn:
        row = conn.execute(select(outbox)).mappings().one()
        request_id = conn.execute(select(dsr_requests.c.id)).scalar_one()
        last = read_request(conn, request_id)["history"][-1]
    assert (row["status"], row["error"]) == ("cancelled", "link_expired")
    assert (last["status"], last["note"]) == ("undelivered", "not delivered: queued")
