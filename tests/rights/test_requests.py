"""The DSR lifecycle: deadlines, extension, verification without disclosure, approval, results."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from candor.core.clock import ManualClock
from candor.rights.requests import due_date
from candor.store.rights_tables import dsr_requests
from candor.store.tables import communications
from tests.rights.conftest import Api, set_setting, when


def test_due_dates_follow_the_calendar() -> None:
    assert due_date(when(2026, 1, 31), 0) == when(2026, 2, 28)
    assert due_date(when(2026, 1, 31), 2) == when(2026, 4, 30)
    assert due_date(when(2026, 3, 2), 1) == when(2026, 5, 2)


def test_staff_access_request_is_fulfilled_at_once_with_the_copy(api: Api) -> None:
    contact = api.create_contact()
    response = api.post(
        "/api/v1/requests", "dpo", json={"type": "access", "email": "alice@EXAMPLE.com"}
    )
    assert response.status_code == 201, response.text
    req = response.json()
    assert req["status"] == "fulfilled" and req["contact"] == contact["id"]
    assert [h["status"] for h in req["history"]] == ["received", "in_progress", "fulfilled"]
    assert req["due_at"] == "2026-04-02T09:00:00+00:00"
    result = api.get(f"/api/v1/requests/{req['id']}/result", "dpo").json()
    assert result["data"]["contact"]["first_name"] == "Alice"
    assert result["data"]["requests"][0]["id"] == req["id"]  # the copy lists the request itself
    page = api.get(f"/api/v1/requests/{req['id']}/result", "dpo", params={"format": "html"})
    assert "Ihre Daten" in page.text and "alice@example.com" in page.text
    with api.cx.engine.connect() as conn:  # the stored result is ciphertext
        blob = conn.execute(select(dsr_requests.c.result)).scalar_one()
    assert b"Alice" not in blob
    assert (
        api.post("/api/v1/requests", "marketer", json={"type": "access", "contact": 1}).status_code
        == 403
    )


def test_unknown_and_known_identities_get_the_same_answer(api: Api) -> None:
    api.create_contact()
    known = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    unknown = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "nobody@example.com"}
    )
    bad = api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "phone": "not a number"}
    )
    assert known.status_code == unknown.status_code == bad.status_code == 202
    assert known.json() == unknown.json() == bad.json()
    assert set(known.headers) == set(unknown.headers)
    with api.cx.engine.connect() as conn:
        rows = conn.execute(select(dsr_requests)).mappings().all()
    assert len(rows) == 1 and rows[0]["status"] == "verifying" and rows[0]["verification_token"]


def test_verification_then_fulfilment_and_no_reuse(api: Api) -> None:
    api.create_contact()
    api.post(
        "/api/v1/subject/requests", None, json={"type": "portability", "phone": "+49 151 23456789"}
    )
    with api.cx.engine.connect() as conn:
        req_id, token = conn.execute(
            select(dsr_requests.c.id, dsr_requests.c.verification_token)
        ).one()
    assert (
        api.post(f"/api/v1/requests/{req_id}/verify", None, json={"token": token + "x"}).status_code
        == 422
    )
    assert (
        api.get(f"/api/v1/requests/{req_id}/result", "dpo").status_code == 404
    )  # nothing before it
    done = api.post(f"/api/v1/requests/{req_id}/verify", None, json={"token": token})
    assert done.status_code == 200 and done.json()["status"] == "fulfilled"
    assert set(done.json()) == {"id", "type", "status", "awaiting_approval", "due_at"}
    assert (
        api.post(f"/api/v1/requests/{req_id}/verify", None, json={"token": token}).status_code
        == 409
    )
    result = api.get(f"/api/v1/requests/{req_id}/result", "admin").json()
    assert result["data"]["kind"] == "portability"


def test_person_erasure_waits_for_dpo_approval_when_configured(api: Api) -> None:
    set_setting(api.cx, "rights", {"erasure_review": True})
    contact = api.create_contact()
    api.post(
        "/api/v1/subject/requests", None, json={"type": "erasure", "email": "alice@example.com"}
    )
    with api.cx.engine.connect() as conn:
        req_id, token = conn.execute(
            select(dsr_requests.c.id, dsr_requests.c.verification_token)
        ).one()
    verified = api.post(f"/api/v1/requests/{req_id}/verify", None, json={"token": token}).json()
    assert verified["status"] == "in_progress" and verified["awaiting_approval"]
    assert api.get(f"/api/v1/contacts/{contact['id']}").status_code == 200  # not yet erased
    assert api.post(f"/api/v1/requests/{req_id}/approve", "admin").status_code == 403
    approved = api.post(f"/api/v1/requests/{req_id}/approve", "dpo").json()
    assert approved["status"] == "fulfilled" and approved["approved_by"].startswith("key:")
    cert = approved["summary"]["certificate"]
    assert cert["request"] == req_id and cert["scan"]["clean"]
    assert api.get(f"/api/v1/contacts/{contact['id']}").status_code == 410
    assert api.get(f"/api/v1/requests/{req_id}/result", "dpo").json()["data"] is None


def test_extension_is_recorded_and_noticed_and_capped(api: Api) -> None:
    clock = api.cx.clock
    assert isinstance(clock, ManualClock)
    clock.set(
        when(
            2026,
            1,
            31,
        )
    )
    api.create_contact()
    api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    req_id = 1
    assert (
        api.get(f"/api/v1/requests/{req_id}", "dpo").json()["due_at"] == "2026-02-28T00:00:00+00:00"
    )
    assert (
        api.post(
            f"/api/v1/requests/{req_id}/extend", "dpo", json={"months": 3, "reason": "x"}
        ).status_code
        == 422
    )
    extended = api.post(
        f"/api/v1/requests/{req_id}/extend",
        "dpo",
        json={"months": 2, "reason": "many systems to search"},
    ).json()
    assert extended["due_at"] == "2026-04-30T00:00:00+00:00" and extended["extended_months"] == 2
    entry = extended["history"][-1]
    assert entry["status"] == "extended" and entry["note"].startswith("many systems to search")
    with api.cx.engine.connect() as conn:
        notice = (
            conn.execute(
                select(communications).where(
                    communications.c.content_ref == f"notice:dsr_extended:{req_id}"
                )
            )
            .mappings()
            .one()
        )
    assert notice["direction"] == "out" and notice["purpose_id"] == "service"
    again = api.post(
        f"/api/v1/requests/{req_id}/extend", "dpo", json={"months": 1, "reason": "more"}
    )
    assert again.status_code == 409


def test_overdue_requests_are_listed(api: Api) -> None:
    api.create_contact()
    api.post(
        "/api/v1/subject/requests", None, json={"type": "access", "email": "alice@example.com"}
    )
    assert api.get("/api/v1/requests", "dpo", params={"overdue": "true"}).json()["items"] == []
    clock = api.cx.clock
    assert isinstance(clock, ManualClock)
    clock.advance(timedelta(days=32))
    items = api.get("/api/v1/requests", "auditor", params={"overdue": "true"}).json()["items"]
    assert [(i["id"], i["overdue"], i["contact"]) for i in items] == [(1, True, None)]
    assert api.get("/api/v1/requests", "marketer").status_code == 403


def test_rectification_restriction_objection_and_denial_requests(api: Api) -> None:
    contact = api.create_contact()
    cid = contact["id"]
    rect = api.post(
        "/api/v1/requests",
        "dpo",
        json={
            "type": "rectification",
            "contact": cid,
            "details": {"changes": {"last_name": "Muster"}},
        },
    ).json()
    assert rect["summary"] == {"kind": "rectification", "changed": ["last_name"]}
    assert api.get(f"/api/v1/contacts/{cid}").json()["last_name"] == "Muster"
    assert (
        api.post(
            "/api/v1/requests", "dpo", json={"type": "rectification", "contact": cid}
        ).status_code
        == 422
    )
    api.post("/api/v1/requests", "admin", json={"type": "objection", "contact": cid})
    assert api.decide(cid, "events", channel="email")["reason"] == "objected"
    api.post("/api/v1/requests", "admin", json={"type": "restriction", "contact": cid})
    assert api.decide(cid, "service", channel="email")["reason"] == "restricted"
    api.post(
        "/api/v1/subject/requests", None, json={"type": "erasure", "email": "alice@example.com"}
    )
    pending = api.get("/api/v1/requests", "dpo", params={"status": "verifying"}).json()["items"][0]
    denied = api.post(
        f"/api/v1/requests/{pending['id']}/deny", "dpo", json={"reason": "identity doubtful"}
    ).json()
    assert denied["status"] == "denied" and denied["history"][-1]["note"] == "identity doubtful"
    copy = api.get(f"/api/v1/contacts/{cid}/copy").json()
    assert copy["rectifications"][0]["old_value"] == "Example" and len(copy["requests"]) == 4
