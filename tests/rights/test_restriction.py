"""Restriction, objection and re-consent, as decide() sees them and journeys feel them."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from candor.core.context import Candor
from candor.core.errors import Conflict
from candor.journeys import check, load_journey
from candor.ledger.config import apply_config, load_config_file, parse_config
from candor.ledger.consents import ConsentInput, record_consent
from candor.ledger.registry import purpose_facts
from candor.policy.load import decide_for
from candor.rights.restriction import lift_restriction, object_contact, restrict_contact
from candor.store.journey_tables import journey_contacts, journey_transitions, journeys, outbox
from candor.store.tables import communications, purposes
from tests.conftest import FIXTURES
from tests.journeys import make_registry
from tests.rights.conftest import Api

EXAMPLE = Path(__file__).parents[2] / "examples" / "journeys" / "reconsent.yaml"


def _reason(cx: Candor, contact_id: int, purpose: str, channel: str | None = "email") -> str:
    with cx.engine.connect() as conn:
        return decide_for(
            conn, contact_id, purpose_facts(conn, purpose), channel, None, None, cx.clock.now()
        ).reason


def _in_two_journeys(cx: Candor, contact_id: int) -> None:
    at = cx.clock.now()
    with cx.engine.begin() as conn:
        for jid, purpose in (("promo", "events"), ("orders", "service")):
            conn.execute(
                insert(journeys).values(
                    id=jid,
                    version=1,
                    name=jid,
                    purpose_id=purpose,
                    definition={},
                    state="running",
                    created_at=at,
                    entered=1,
                )
            )
            conn.execute(
                insert(journey_contacts).values(
                    journey_id=jid,
                    contact_id=contact_id,
                    step_id="s1",
                    status="active",
                    due_at=at,
                    entered_at=at,
                    step_entered_at=at,
                    data={},
                )
            )
            conn.execute(
                insert(outbox).values(
                    idempotency_key=f"{jid}:{contact_id}",
                    journey_id=jid,
                    step_id="s1",
                    contact_id=contact_id,
                    channel="email",
                    template_id="t",
                    purpose_id=purpose,
                    kind="marketing",
                    context={},
                    decision_reason="allowed",
                    status="queued",
                    next_attempt_at=at,
                    created_at=at,
                )
            )


def _states(cx: Candor) -> dict[str, tuple[str, str]]:
    with cx.engine.connect() as conn:
        jc = {r.journey_id: r.status for r in conn.execute(select(journey_contacts))}
        ob = {r.journey_id: r.status for r in conn.execute(select(outbox))}
    return {j: (jc[j], ob[j]) for j in jc}


def test_restriction_stops_everything_and_lifting_it_notifies(
    configured: Candor, alice: int
) -> None:
    _in_two_journeys(configured, alice)
    at = configured.clock.now()
    assert _reason(configured, alice, "events") == "allowed"
    with configured.engine.begin() as conn:
        assert restrict_contact(conn, alice, actor="t", at=at)["journeys_left"] == 2
        with pytest.raises(Conflict):
            restrict_contact(conn, alice, actor="t", at=at)
    assert _reason(configured, alice, "events") == "restricted"
    assert _reason(configured, alice, "service") == "restricted"
    assert _states(configured) == {
        "promo": ("exited", "cancelled"),
        "orders": ("exited", "cancelled"),
    }
    with configured.engine.connect() as conn:
        outcomes = {r.outcome for r in conn.execute(select(journey_transitions))}
    assert outcomes == {"restricted"}
    with configured.engine.begin() as conn:
        lifted = lift_restriction(conn, alice, actor="t", at=at)
        notice = (
            conn.execute(
                select(communications).where(communications.c.id == lifted["notice_communication"])
            )
            .mappings()
            .one()
        )
    assert (
        notice["content_ref"] == "notice:restriction_lifted" and notice["purpose_id"] == "service"
    )
    assert notice["decision_reason"] == "allowed" and notice["decision_basis"] == "contract"
    assert _reason(configured, alice, "events") == "allowed"


def test_objection_stops_marketing_and_profiling_on_every_channel(
    configured: Candor, alice: int
) -> None:
    _in_two_journeys(configured, alice)
    with configured.engine.begin() as conn:
        assert (
            object_contact(conn, alice, actor="t", at=configured.clock.now())["journeys_left"] == 1
        )
    for channel in ("email", "sms", None):
        assert _reason(configured, alice, "events", channel) == "objected"
    assert _reason(configured, alice, "profiling", None) == "objected"
    assert _reason(configured, alice, "soft_optin") == "objected"
    assert _reason(configured, alice, "service") == "allowed"
    assert _states(configured) == {"promo": ("exited", "cancelled"), "orders": ("active", "queued")}


def test_restriction_and_objection_over_http(api: Api) -> None:
    cid = api.create_contact()["id"]
    assert api.post(f"/api/v1/contacts/{cid}/restriction", "marketer").status_code == 403
    assert api.post(f"/api/v1/contacts/{cid}/restriction", "dpo").status_code == 200
    assert api.get(f"/api/v1/contacts/{cid}").json()["restricted"] is True
    assert api.post(f"/api/v1/contacts/{cid}/restriction", "dpo").status_code == 409
    lifted = api.delete(f"/api/v1/contacts/{cid}/restriction", "dpo").json()
    assert lifted["notice_communication"] is not None
    assert api.post(f"/api/v1/contacts/{cid}/objection", "admin").json()["objected_at"]
    assert api.decide(cid, "newsletter", channel="email")["reason"] == "objected"


def test_a_material_purpose_change_asks_for_consent_again(configured: Candor, alice: int) -> None:
    assert _reason(configured, alice, "events") == "allowed"
    text = (
        (FIXTURES / "candor.yaml")
        .read_text()
        .replace(
            'wording: "Invite me to events by e-mail, SMS or WhatsApp."',
            'wording: "Invite me to events and partner events."\n    reconsent: true',
        )
    )
    with configured.engine.begin() as conn:
        apply_config(conn, parse_config(text, "candor.yaml"), actor="t", at=configured.clock.now())
        assert (
            conn.execute(
                select(purposes.c.reconsent_floor).where(purposes.c.id == "events")
            ).scalar_one()
            == 2
        )
    assert _reason(configured, alice, "events") == "reconsent_required"
    with configured.engine.begin() as conn:
        record_consent(
            conn,
            configured.vault,
            alice,
            ConsentInput(purpose="events", status="granted", source="form"),
            actor="t",
            at=configured.clock.now(),
        )
    assert _reason(configured, alice, "events") == "allowed"
    with configured.engine.begin() as conn:  # an unchanged re-apply asks nothing again
        apply_config(
            conn, load_config_file(FIXTURES / "candor.yaml"), actor="t", at=configured.clock.now()
        )


def test_the_reconsent_journey_template_is_sound() -> None:
    journey = load_journey(EXAMPLE.read_text(), EXAMPLE.name)
    assert [s.type for s in journey.steps] == ["inform", "end"]
    assert check(journey, make_registry()) == []
