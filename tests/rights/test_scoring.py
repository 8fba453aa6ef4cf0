"""Automated decisions: transparent scores, only under agreed profiling, contestable."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from candor.core.context import Candor
from candor.core.errors import Conflict, InvalidInput
from candor.ledger.consents import ConsentInput, record_consent
from candor.rights.decisions import record_automated_decision, score_contact
from candor.rights.restriction import object_contact
from candor.rights.scoring import parse_model, score
from candor.store.rights_tables import automated_decisions
from tests.rights.conftest import Api
from tests.rights.test_access import MODEL

YAML_MODEL = """
id: upsell
threshold: 3
features:
  - {field: customer_value, weight: 0.01, description: spend}
  - {field: vip, weight: 2}
  - {field: country, op: in, value: [DE, AT], weight: 1}
  - {field: birth_year, op: lt, value: 1970, weight: -5}
"""


def test_score_explains_every_factor() -> None:
    model = parse_model(YAML_MODEL)
    outcome, factors = score(model, {"customer_value": 150, "vip": False, "country": "AT"})
    assert outcome == "below"
    assert [f["contribution"] for f in factors] == [1.5, 0.0, 1.0, 0.0]
    outcome, _ = score(
        model, {"customer_value": 150, "vip": True, "country": "AT", "birth_year": 1990}
    )
    assert outcome == "above"
    with pytest.raises(InvalidInput, match=r"model\.features"):
        parse_model({"threshold": 1, "features": []})


def test_only_under_a_profiling_purpose_the_person_agreed_to(
    configured: Candor, alice: int
) -> None:
    at = configured.clock.now()
    outcome, factors = score(parse_model(MODEL), {"customer_value": 250.0})
    with configured.engine.begin() as conn:
        with pytest.raises(InvalidInput, match="profiling purpose"):
            record_automated_decision(
                conn,
                configured.vault,
                alice,
                None,
                MODEL,
                factors,
                outcome,
                purpose="events",
                actor="t",
                at=at,
            )
        record_consent(
            conn,
            configured.vault,
            alice,
            ConsentInput(purpose="profiling", status="withdrawn", source="form"),
            actor="t",
            at=at,
        )
        with pytest.raises(Conflict, match="withdrawn"):
            record_automated_decision(
                conn,
                configured.vault,
                alice,
                "welcome",
                MODEL,
                factors,
                outcome,
                purpose="profiling",
                actor="t",
                at=at,
            )


def test_objection_stops_profiling_decisions(configured: Candor, alice: int) -> None:
    at = configured.clock.now()
    with configured.engine.begin() as conn:
        decision_id = score_contact(
            conn, configured.vault, alice, MODEL, purpose="profiling", actor="t", at=at
        )
        blob = conn.execute(
            select(automated_decisions.c.factors).where(automated_decisions.c.id == decision_id)
        ).scalar_one()
        assert b"customer_value" not in blob  # the factors are sealed with the contact's key
        object_contact(conn, alice, actor="t", at=at)
        with pytest.raises(Conflict, match="objected"):
            score_contact(
                conn, configured.vault, alice, MODEL, purpose="profiling", actor="t", at=at
            )


def test_decide_contest_and_review_over_http(api: Api) -> None:
    cid = api.create_contact()["id"]
    api.post(
        f"/api/v1/contacts/{cid}/consents",
        json={"purpose": "profiling", "status": "granted", "source": "form"},
    )
    made = api.post(
        f"/api/v1/contacts/{cid}/decisions", "dpo", json={"purpose": "profiling", "model": MODEL}
    )
    assert made.status_code == 201, made.text
    decision = made.json()
    assert decision["outcome"] == "above" and decision["status"] == "decided"
    assert {f["field"]: f["contribution"] for f in decision["factors"]} == {
        "customer_value": 0.0,
        "vip": 2.0,
        "country": 1.0,
    }
    contested = api.post(
        f"/api/v1/decisions/{decision['id']}/contest", "dpo", json={"reason": "I disagree"}
    )
    assert contested.json() == {"id": decision["id"], "status": "contested"}
    assert (
        api.post(f"/api/v1/decisions/{decision['id']}/contest", "dpo", json={}).status_code == 409
    )
    assert (
        api.post(
            f"/api/v1/decisions/{decision['id']}/review", "admin", json={"outcome": "below"}
        ).status_code
        == 403
    )
    reviewed = api.post(
        f"/api/v1/decisions/{decision['id']}/review",
        "dpo",
        json={"outcome": "below", "note": "checked by hand"},
    ).json()
    assert reviewed["outcome"] == "below"
    shown = api.get(f"/api/v1/decisions/{decision['id']}", "dpo").json()
    assert [h["status"] for h in shown["history"]] == ["decided", "contested", "reviewed"]
    copy = api.get(f"/api/v1/contacts/{cid}/copy").json()
    assert copy["automated_decisions"][0]["status"] == "reviewed"
