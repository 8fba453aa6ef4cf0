"""The access copy: every section filled from the registry, decrypted, in a documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from candor.core.context import Candor
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.rectification import rectify_contact
from candor.rights.access import compile_access_copy
from candor.rights.copy_schema import AccessCopy, schema_text
from candor.rights.decisions import score_contact
from candor.rights.notices import record_notice
from candor.rights.records import add_business_record
from candor.rights.render import render_copy
from candor.store.engine import reading
from candor.store.journey_tables import journey_contacts, journey_transitions, journeys
from tests.rights.conftest import Api, set_setting, when

DOCS = Path(__file__).parents[2] / "docs" / "access-copy.schema.json"
MODEL = {
    "id": "upsell",
    "threshold": 3,
    "features": [
        {"field": "customer_value", "weight": 0.01},
        {"field": "vip", "weight": 2},
        {"field": "country", "op": "in", "value": ["DE", "AT"], "weight": 1},
    ],
}


def _fill(cx: Candor, contact_id: int) -> None:
    """Give the contact something in every section."""
    at = cx.clock.now()
    set_setting(
        cx, "connectors", [{"id": "shop", "name": "Web shop", "kind": "webhook", "country": "DE"}]
    )
    set_setting(cx, "rights", {"supervisory_authority": "BfDI, Bonn"})
    with cx.engine.begin() as conn:
        block = set_block(
            conn,
            cx.vault,
            contact_id,
            reason="asked by phone",
            source="phone",
            channel="sms",
            evidence={"ip": "203.0.113.8", "user_agent": "Phone app/1"},
            actor="test",
            at=at,
        )
        lift_block(
            conn,
            cx.vault,
            block,
            reason="asked again",
            source="phone",
            evidence={"ip": "203.0.113.9", "wording": "Allow advertising again"},
            actor="test",
            at=at,
        )
        rectify_contact(conn, cx.vault, contact_id, {"last_name": "Beispiel"}, actor="test", at=at)
        record_notice(conn, contact_id, "test", actor="test", at=at)
        add_business_record(
            conn,
            cx.vault,
            contact_id,
            category="financial",
            occurred_at=when(2025, 5, 1),
            data={"invoice": "R-1", "total": 99.5},
            actor="test",
            at=at,
        )
        score_contact(conn, cx.vault, contact_id, MODEL, purpose="profiling", actor="test", at=at)
        conn.execute(
            insert(journeys).values(
                id="welcome",
                version=1,
                name="Welcome",
                purpose_id="events",
                definition={"fields": ["country"]},
                state="running",
                created_at=at,
                entered=1,
            )
        )
        conn.execute(
            insert(journey_contacts).values(
                journey_id="welcome",
                contact_id=contact_id,
                step_id="mail",
                status="active",
                due_at=at,
                entered_at=at,
                step_entered_at=at,
                data={"clicked_topic": "shoes"},
            )
        )
        conn.execute(
            insert(journey_transitions).values(
                journey_id="welcome",
                contact_id=contact_id,
                from_step=None,
                to_step="mail",
                outcome="entered",
                at=at,
            )
        )


def _copy(cx: Candor, contact_id: int) -> dict[str, Any]:
    with reading(cx.engine) as conn:
        return compile_access_copy(conn, cx.vault, contact_id, at=cx.clock.now())


def test_the_copy_holds_everything_decrypted(configured: Candor, alice: int) -> None:
    _fill(configured, alice)
    copy = _copy(configured, alice)
    assert copy["contact"]["first_name"] == "Alice" and copy["contact"]["last_name"] == "Beispiel"
    assert {a["value"] for a in copy["addresses"]} == {"alice@example.com", "+4915123456789"}
    attrs = {a["name"]: (a["value"], a["category"]) for a in copy["attributes"]}
    assert attrs["customer_value"] == (250.0, "financial") and attrs["country"] == (
        "DE",
        "demographic",
    )
    events = [e for e in copy["consents"] if e["purpose"] == "events"]
    assert events[0]["evidence"] == {"ip": "203.0.113.7", "user_agent": "Firefox"}
    assert events[0]["communication_id"] == copy["communications"][0]["id"]
    page_block, phone_block = copy["blocks"]
    assert page_block["evidence"] == {"ip": "203.0.113.7", "user_agent": "Firefox"}
    assert page_block["lifted"] is None
    assert phone_block["channel"] == "sms" and phone_block["lifted"]["reason"] == "asked again"
    # the evidence of both acts, decrypted for the person it is about
    assert phone_block["evidence"] == {"ip": "203.0.113.8", "user_agent": "Phone app/1"}
    assert phone_block["lifted"]["evidence"] == {
        "ip": "203.0.113.9",
        "wording": "Allow advertising again",
    }
    notice = next(c for c in copy["communications"] if c["content_ref"] == "notice:test")
    assert notice["decision"] == {"reason": "allowed", "basis": "contract", "event": None}
    assert copy["rectifications"] == [
        {
            "at": copy["rectifications"][0]["at"],
            "actor": "test",
            "field": "last_name",
            "old_value": "Example",
            "new_value": "Beispiel",
        }
    ]
    assert copy["business_records"][0]["data"] == {"invoice": "R-1", "total": 99.5}
    (decision,) = copy["automated_decisions"]
    assert decision["outcome"] == "above" and decision["score"] == 5.5
    assert "customer_value" in decision["explanation"] and "threshold 3" in decision["explanation"]
    (journey,) = copy["journeys"]
    assert journey["name"] == "Welcome" and journey["data"] == {"clicked_topic": "shoes"}
    assert journey["transitions"][0]["outcome"] == "entered"
    info = copy["information"]
    events_purpose = next(p for p in info["purposes"] if p["id"] == "events")
    assert events_purpose["agreed_versions"][0]["wording"].startswith("Invite me to events")
    assert next(p for p in info["purposes"] if p["id"] == "newsletter")["agreed_versions"] == []
    assert info["recipients"] == [
        {"id": "shop", "name": "Web shop", "kind": "webhook", "country": "DE"}
    ]
    assert {
        "category": "financial",
        "period": "P8Y",
        "from": "end_of_year",
        "basis": "German HGB §257 / AO §147: invoices 8 years",
    } in info["retention"]
    assert info["sources"] == {"contact": "api", "consents": ["form"]}
    assert {r["right"] for r in info["rights"]} >= {"access", "erasure", "objection", "portability"}
    assert info["complaint"]["authority"] == "BfDI, Bonn"


def test_the_copy_matches_its_documented_schema(configured: Candor, alice: int) -> None:
    _fill(configured, alice)
    copy = json.loads(json.dumps(_copy(configured, alice)))
    AccessCopy.model_validate(copy)  # extra keys or wrong types fail here
    assert DOCS.read_text() == schema_text(), (
        "regenerate: python -m candor.rights.copy_schema > docs/..."
    )
    schema = json.loads(DOCS.read_text())
    assert set(schema["required"]) == set(copy)


def test_html_in_the_persons_language_and_escaped(configured: Candor, alice: int) -> None:
    with configured.engine.begin() as conn:
        rectify_contact(
            conn,
            configured.vault,
            alice,
            {"first_name": "<script>x</script>"},
            actor="t",
            at=configured.clock.now(),
        )
    copy = _copy(configured, alice)
    german = render_copy(copy)  # the contact's language is de
    assert "Ihre Daten: Auskunft nach Art. 15 DSGVO" in german and "Widerspruch" in german
    assert "&lt;script&gt;x&lt;/script&gt;" in german and "<script>x" not in german
    english = render_copy(copy, "en")
    assert "Your data: copy under Art. 15 GDPR" in english and "alice@example.com" in english


def test_copy_over_http_json_and_html(api: Api) -> None:
    contact = api.create_contact()
    body = api.get(f"/api/v1/contacts/{contact['id']}/copy").json()
    assert body["contact"]["first_name"] == "Alice" and body["kind"] == "access"
    page = api.get(f"/api/v1/contacts/{contact['id']}/copy", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html") and "Ihre Daten" in page.text
    page = api.get(
        f"/api/v1/contacts/{contact['id']}/copy", params={"format": "html", "lang": "en"}
    )
    assert "Your data" in page.text
    assert api.get(f"/api/v1/contacts/{contact['id']}/copy", "marketer").status_code == 403
