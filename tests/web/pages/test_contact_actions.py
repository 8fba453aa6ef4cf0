"""The DPO acts on a contact's record: each form calls one domain verb, in the member's name,
and a declaration taken by phone is evidence naming the member and the call."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from candor.ledger.blocks import list_blocks
from candor.ledger.consents import consent_history
from candor.ledger.contacts import find_by_address, read_contact
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests, erasure_certificates
from candor.store.tables import audit_log, contacts, rectifications

from .conftest import Site

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
CALL = {
    "how": "phone",
    "declared_at": "2026-03-02T08:40",
    "wording": "Yes, please invite me to your events, by SMS too.",
    "note": "called the service line",
}


def _act(site: Site, role: str, action: str, data: dict[str, Any]) -> Any:
    client = site.login(role)
    path = f"/team/contacts/{site.contact_id}"
    return client, site.post_form(client, f"{path}/{action}", data, form_path=path)


def _actors(site: Site, action: str) -> list[str]:
    with reading(site.cx.engine) as conn:
        return list(
            conn.execute(select(audit_log.c.actor).where(audit_log.c.action == action)).scalars()
        )


def test_a_consent_from_a_phone_call_names_the_member_and_the_call(site: Site) -> None:
    _, done = _act(site, "dpo", "consent", {"purpose": "events", "status": "granted", **CALL})
    assert done.status_code == 200 and "Consent event recorded." in done.text
    with reading(site.cx.engine) as conn:
        event = consent_history(conn, site.cx.vault, site.contact_id)[-1]
    assert (event["status"], event["source"], event["purpose"]) == ("granted", "phone", "events")
    evidence = event["evidence"]
    assert evidence["recorded_by"] == "Dpo Member"
    assert evidence["recorded_by_member"] == f"member:{site.members['dpo']}"
    assert evidence["how"] == "phone call"
    assert evidence["wording"] == CALL["wording"]
    assert evidence["declared_at"] == "2026-03-02T08:40:00+00:00"
    assert event["occurred_at"].startswith("2026-03-02T08:40")
    assert _actors(site, "consent.granted") == [f"member:{site.members['dpo']}"]
    assert "allowed" in done.text and CALL["wording"] in done.text
    assert not ISO.search(done.text)  # every time is shown readable, none as raw ISO


def test_a_refusal_needs_the_persons_words_and_a_bad_field_changes_nothing(site: Site) -> None:
    _, missing = _act(
        site, "dpo", "consent", {"purpose": "events", "status": "refused", "how": "phone"}
    )
    assert missing.status_code == 422 and "wording: say what the person declared" in missing.text
    _, unknown = _act(site, "dpo", "consent", {"purpose": "nope", "status": "refused", **CALL})
    assert unknown.status_code in (404, 422) and "Not done" in unknown.text
    _, future = _act(
        site,
        "dpo",
        "consent",
        {"purpose": "events", "status": "refused", **CALL, "declared_at": "2027-01-01T00:00"},
    )
    assert future.status_code == 422 and "declared_at: lies in the future" in future.text
    assert site.events() == []


def test_a_block_is_set_and_lifted_with_evidence_of_each_act(site: Site) -> None:
    client, done = _act(
        site,
        "dpo",
        "block",
        {"channel": "sms", "reason": "no texts please", **CALL, "wording": "No more SMS."},
    )
    assert done.status_code == 200 and "Block recorded." in done.text
    with reading(site.cx.engine) as conn:
        (block,) = list_blocks(conn, site.contact_id, site.cx.vault)
    assert block["channel"] == "sms" and block["evidence"]["wording"] == "No more SMS."
    lifted = site.post_form(
        client,
        f"/team/blocks/{block['id']}/lift",
        {"contact": str(site.contact_id), "reason": "asked again", **CALL, "wording": "SMS ok."},
        form_path=f"/team/contacts/{site.contact_id}",
    )
    assert lifted.status_code == 200 and "Block lifted." in lifted.text
    with reading(site.cx.engine) as conn:
        (block,) = list_blocks(conn, site.contact_id, site.cx.vault)
    assert block["lifted"]["evidence"]["recorded_by_member"] == f"member:{site.members['dpo']}"
    assert _actors(site, "block.lift") == [f"member:{site.members['dpo']}"]


def test_rectifying_corrects_an_address_in_place_and_keeps_the_old_value(site: Site) -> None:
    with reading(site.cx.engine) as conn:
        before = read_contact(conn, site.cx.vault, site.contact_id)
    email = next(a for a in before["addresses"] if a["channel"] == "email")
    _, done = _act(
        site,
        "dpo",
        "rectify",
        {
            "first_name": "Patricia",
            "last_name": "Person",
            "correct_address": str(email["id"]),
            "correct_channel": "email",
            "correct_value": "Patricia.Person@Example.org",
        },
    )
    assert done.status_code == 200 and "Record rectified." in done.text
    with reading(site.cx.engine) as conn:
        after = read_contact(conn, site.cx.vault, site.contact_id)
        assert find_by_address(conn, site.cx.vault, "email", "person@example.org") is None
        found = find_by_address(conn, site.cx.vault, "email", "patricia.person@example.org")
        fields = set(conn.execute(select(rectifications.c.field)).scalars())
    assert found == site.contact_id and after["first_name"] == "Patricia"
    fixed = next(a for a in after["addresses"] if a["id"] == email["id"])
    assert fixed["value"] == "patricia.person@example.org"
    assert fields == {"first_name", "addresses.email"}
    _, clash = _act(
        site,
        "dpo",
        "rectify",
        {"correct_address": str(email["id"]), "correct_channel": "email", "correct_value": "x"},
    )
    assert clash.status_code == 422 and "corrections[0].value" in clash.text


def test_restrict_lift_and_object_act_on_the_gate_at_once(site: Site) -> None:
    client, restricted = _act(site, "dpo", "restrict", {})
    assert (
        "Processing restricted." in restricted.text and "<code>restricted</code>" in restricted.text
    )
    path = f"/team/contacts/{site.contact_id}"
    lifted = site.post_form(client, f"{path}/unrestrict", {}, form_path=path)
    assert "Restriction lifted." in lifted.text and "<code>restricted</code>" not in lifted.text
    objected = site.post_form(client, f"{path}/object", {}, form_path=path)
    assert "Objection recorded." in objected.text and "<code>objected</code>" in objected.text
    with reading(site.cx.engine) as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == site.contact_id)).one()
    assert row.restricted_at is None and row.objected_at is not None
    dpo = f"member:{site.members['dpo']}"
    for action in ("contact.restrict", "contact.restriction_lift", "contact.object"):
        assert _actors(site, action) == [dpo]


def test_erasing_shows_the_certificate_and_the_record_is_gone(site: Site) -> None:
    client, refused = _act(site, "dpo", "erase", {"reason": "requested"})  # not confirmed
    assert refused.status_code == 422 and "confirm the erasure" in refused.text
    path = f"/team/contacts/{site.contact_id}"
    done = site.post_form(
        client, f"{path}/erase", {"reason": "requested", "confirm": "yes"}, form_path=path
    )
    assert done.status_code == 410
    assert f"Contact {site.contact_id} was erased" in done.text
    assert "Erasure certificate #" in done.text and "destroyed" in done.text
    assert "person@example.org" not in done.text and "Pat" not in done.text
    with reading(site.cx.engine) as conn:
        cert = conn.execute(select(erasure_certificates)).one()
    assert cert.actor == f"member:{site.members['dpo']}" and cert.reason == "team:requested"
    assert client.get(path).status_code == 410


def test_a_request_opened_for_the_person_is_carried_out_in_the_members_name(site: Site) -> None:
    _, done = _act(site, "dpo", "request", {"type": "access", "how": "phone"})
    assert done.status_code == 200 and "Request opened and carried out." in done.text
    with reading(site.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).one()
    assert (row.type, row.channel, row.status) == ("access", "phone", "fulfilled")
    assert row.actor == f"member:{site.members['dpo']}"


def test_marketers_and_auditors_cannot_act_on_a_record(site: Site) -> None:
    for role in ("marketer", "auditor"):
        client = site.login(role)
        answer = client.post(f"/team/contacts/{site.contact_id}/restrict", data={})
        assert answer.status_code == 403
    auditor = site.login("auditor")
    record = auditor.get(f"/team/contacts/{site.contact_id}")
    assert record.status_code == 200 and "Act on the person" not in record.text
