"""Team pages: login sessions, roles, CSRF, contacts, the DSR queue, journeys, Mission Control."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from candor.journeys.definition import build_journey
from candor.journeys.runtime.enroll import launch, save_draft
from candor.ledger.blocks import lift_block, set_block
from candor.ledger.consents import ConsentInput, record_consent
from candor.rights.requests import NewRequest, open_subject_request
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests
from candor.store.sync_tables import sync_events
from candor.store.tables import audit_log, contacts
from candor.sync.delivery import deliver_due
from candor.web.deps import figures_cache
from tests.sync.conftest import SECRET, Receiver, connect, hook

from .conftest import PASSWORD, Site, csrf_of, email_of

JOURNEY = {
    "id": "welcome",
    "name": "Welcome",
    "purpose": "events",
    "fields": ["country"],
    "target": {"field": "country", "op": "eq", "value": "DE"},
    "steps": [
        {"id": "pause", "type": "wait", "duration": "P1D"},
        {
            "id": "ask",
            "type": "branch",
            "default": "done",
            "cases": [{"when": {"field": "country", "op": "eq", "value": "DE"}, "next": "done"}],
        },
        {"id": "done", "type": "end"},
    ],
}


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(site: Site) -> None:
    client = TestClient(site.client.app)
    assert client.get("/team/mission-control", follow_redirects=False).headers["location"] == (
        "/team/login"
    )
    bad = site.try_login(client, email_of("marketer"), "not the password at all")
    assert bad.status_code == 401 and "Wrong e-mail or password." in bad.text
    good = site.try_login(client, email_of("marketer"), PASSWORD)
    assert good.status_code == 303
    cookie = next(c for c in good.headers.get_list("set-cookie") if "candor_session" in c)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert PASSWORD not in cookie
    home = client.get("/team/mission-control")
    assert home.status_code == 200 and "Mission Control" in home.text
    nav = home.text.split("</nav>")[0]
    assert "/team/requests" not in nav and "/team/members" not in nav  # a marketer sees neither
    out = client.post("/team/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/team/mission-control", follow_redirects=False).status_code == 303


def test_login_and_logout_need_csrf(site: Site) -> None:
    client = TestClient(site.client.app)
    refused = client.post("/team/login", data={"email": email_of("admin"), "password": PASSWORD})
    assert refused.status_code == 403
    logged = site.login("admin")
    assert logged.post("/team/logout", data={}).status_code == 403


def test_roles_that_may_not_see_a_page_get_403(site: Site) -> None:
    marketer, auditor, dpo = site.login("marketer"), site.login("auditor"), site.login("dpo")
    assert marketer.get(f"/team/contacts/{site.contact_id}").status_code == 403
    assert marketer.get("/team/requests").status_code == 403
    assert marketer.get("/team/members").status_code == 403
    assert dpo.get("/team/members").status_code == 403
    assert dpo.get("/team/contacts").status_code == 200
    assert dpo.get("/team/requests").status_code == 200
    assert auditor.get("/team/journeys").status_code == 200
    assert auditor.get("/team/requests").status_code == 200  # reads, but may not act
    refused = auditor.post("/team/journeys/welcome/launch", data={})
    assert refused.status_code == 403
    for path in (f"/team/contacts/{site.contact_id}/restrict", "/team/requests/1/deny"):
        assert auditor.post(path, data={}).status_code == 403


def test_contact_search_by_post_and_the_record(site: Site) -> None:
    with site.cx.engine.begin() as conn:
        record_consent(
            conn,
            site.cx.vault,
            site.contact_id,
            ConsentInput(
                purpose="events",
                status="granted",
                source="form",
                channel="email",
                evidence={"ip": "203.0.113.9"},
            ),
            actor="test",
            at=site.cx.clock.now(),
        )
        block = set_block(
            conn,
            site.cx.vault,
            site.contact_id,
            reason="asked on the page",
            source="preference_center",
            evidence={"ip": "203.0.113.41", "user_agent": "BlockBrowser/7"},
            actor="test",
            at=site.cx.clock.now(),
        )
        lift_block(
            conn,
            site.cx.vault,
            block,
            reason="asked again",
            source="preference_center",
            evidence={"ip": "203.0.113.42", "user_agent": "LiftBrowser/8"},
            actor="test",
            at=site.cx.clock.now(),
        )
    dpo = site.login("dpo")
    found = site.post_form(
        dpo,
        "/team/contacts",
        {"kind": "email", "address": "person@example.org"},
        follow_redirects=False,
    )
    assert found.status_code == 303
    assert found.headers["location"] == f"/team/contacts/{site.contact_id}"
    assert "example.org" not in found.headers["location"]
    record = dpo.get(found.headers["location"])
    assert record.status_code == 200
    assert "203.0.113.9" in record.text  # evidence
    # the block history shows each act's evidence: who asked, from where, with which browser
    assert "203.0.113.41" in record.text and "BlockBrowser/7" in record.text
    assert "203.0.113.42" in record.text and "LiftBrowser/8" in record.text
    assert "Why this person may or may not be contacted now" in record.text
    assert "not_asked" in record.text and "allowed" in record.text
    missing = site.post_form(
        dpo, "/team/contacts", {"kind": "email", "address": "nobody@example.org"}
    )
    assert missing.status_code == 404
    with reading(site.cx.engine) as conn:
        actions = set(conn.execute(select(audit_log.c.action)).scalars())
    assert {"contact.search", "contact.view", "session.login"} <= actions


def _subject_request(site: Site, kind: str = "access") -> int:
    with site.cx.engine.begin() as conn:
        open_subject_request(
            conn,
            site.cx.vault,
            NewRequest(type=kind, email="person@example.org", channel="web"),
            at=site.cx.clock.now(),
        )
        return int(conn.execute(select(dsr_requests.c.id)).scalar_one())


def test_dsr_queue_verify_extend_fulfil_and_download(site: Site) -> None:
    request_id = _subject_request(site)
    dpo = site.login("dpo")
    queue = dpo.get("/team/requests")
    assert f"#{request_id} access" in queue.text and "days left" in queue.text
    extended = site.post_form(
        dpo,
        f"/team/requests/{request_id}/extend",
        {"months": "1", "reason": "many systems to search"},
        form_path="/team/requests",
        follow_redirects=False,
    )
    assert extended.status_code == 303
    no_note = site.post_form(
        dpo, f"/team/requests/{request_id}/verify", {"reason": " "}, form_path="/team/requests"
    )
    assert no_note.status_code == 409
    verified = site.post_form(
        dpo,
        f"/team/requests/{request_id}/verify",
        {"reason": "called back on the number on file"},
        form_path="/team/requests",
        follow_redirects=False,
    )
    assert verified.status_code == 303
    with reading(site.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).mappings().one()
    assert row["status"] == "fulfilled" and row["extended_months"] == 1
    download = dpo.get(f"/team/requests/{request_id}/result")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert json.loads(download.text)["data"]["contact"]["id"] == site.contact_id
    assert site.login("marketer").get(f"/team/requests/{request_id}/result").status_code == 403


def test_team_forms_refuse_a_missing_csrf_token(site: Site) -> None:
    request_id = _subject_request(site)
    dpo = site.login("dpo")
    refused = dpo.post(f"/team/requests/{request_id}/deny", data={"reason": "x"})
    assert refused.status_code == 403
    with reading(site.cx.engine) as conn:
        assert conn.execute(select(dsr_requests.c.status)).scalar() == "verifying"


def test_journeys_list_drawing_simulate_and_launch(site: Site) -> None:
    with site.cx.engine.begin() as conn:
        save_draft(conn, build_journey(JOURNEY), actor="test", at=site.cx.clock.now())
    marketer = site.login("marketer")
    listing = marketer.get("/team/journeys")
    assert "Welcome" in listing.text and "draft" in listing.text
    page = marketer.get("/team/journeys/welcome")
    assert "<svg" in page.text and 'data-fig="journeys/welcome/steps/pause/here"' in page.text
    simulated = site.post_form(
        marketer, "/team/journeys/welcome/simulate", {}, form_path="/team/journeys/welcome"
    )
    assert "would enter" in simulated.text
    launched = site.post_form(
        marketer, "/team/journeys/welcome/launch", {}, form_path="/team/journeys/welcome"
    )
    assert "entered" in launched.text and "state-running" in launched.text
    auditor = site.login("auditor")
    assert "Launch" not in auditor.get("/team/journeys/welcome").text


def test_mission_control_json_and_stream_agree(site: Site) -> None:
    with site.cx.engine.begin() as conn:
        record_consent(
            conn,
            site.cx.vault,
            site.contact_id,
            ConsentInput(purpose="newsletter", status="granted", source="form", channel="email"),
            actor="test",
            at=site.cx.clock.now(),
        )
    answer = site.client.get(
        "/api/v1/mission-control", headers={"Authorization": f"Bearer {site.keys['auditor']}"}
    )
    assert answer.status_code == 200
    figures = answer.json()
    purposes = {p["id"]: p for p in figures["purposes"]}
    assert purposes["newsletter"]["pending_doi"] == 1
    assert purposes["newsletter"]["not_asked"] == 0
    assert purposes["events"]["not_asked"] == 1
    assert "soft_optin" not in purposes  # not a consent purpose
    assert set(figures) >= {"journeys", "purposes", "blocks", "sends", "requests"}
    assert site.client.get("/api/v1/mission-control").status_code == 401
    client = site.login("marketer")
    stream = client.get("/team/mission-control/stream?once=true")
    assert stream.headers["content-type"].startswith("text/event-stream")
    data = next(line for line in stream.text.splitlines() if line.startswith("data: "))
    streamed = json.loads(data.removeprefix("data: "))
    assert streamed["purposes"] == figures["purposes"]
    anonymous = TestClient(site.client.app)
    assert anonymous.get("/team/mission-control/stream?once=true").status_code == 401


def test_mission_control_counts_running_journeys_blocks_and_requests(site: Site) -> None:
    with site.cx.engine.begin() as conn:
        save_draft(conn, build_journey(JOURNEY), actor="test", at=site.cx.clock.now())
        conn.execute(update(contacts).values(attributes={"country": "DE"}))
    launch(site.cx, journey_id="welcome", actor="test")
    _subject_request(site)
    admin = site.login("admin")
    site.post_form(site.client, f"/preferences/{site.pref_token()}", {"action": "block"})
    figures = figures_cache(site.client.app.state).get(site.cx, fresh=True)[1]  # type: ignore[attr-defined]
    (journey,) = figures["journeys"]
    assert journey["steps"]["pause"]["here"] == 1
    assert journey["steps"]["(enter)"]["passed"] == 1
    assert figures["blocks"]["all"] == 1
    assert figures["requests"]["by_status"] == {"verifying": 1}
    assert figures["requests"]["open"][0]["days_left"] >= 27
    page = admin.get("/team/mission-control")
    assert 'data-fig="journeys/welcome/steps/pause/here">1<' in page.text


def test_mission_control_lists_the_dead_letters_per_connector(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_SECRET", SECRET)
    refusing = Receiver(answer=lambda n, r: 400).start()
    try:
        connect(site.cx, [hook("crm", url=refusing.url, identifier="email")])
        with site.cx.engine.begin() as conn:
            record_consent(
                conn,
                site.cx.vault,
                site.contact_id,
                ConsentInput(purpose="events", status="withdrawn", source="form"),
                actor="test",
                at=site.cx.clock.now(),
            )
        assert deliver_due(site.cx) == 1  # refused: a dead letter at once
    finally:
        refusing.stop()
    with reading(site.cx.engine) as conn:
        (event_id,) = conn.execute(select(sync_events.c.event_id)).scalars()
    figures_cache(site.client.app.state).get(site.cx, fresh=True)  # type: ignore[attr-defined]
    page = site.login("marketer").get("/team/mission-control").text
    section = page.split('id="mc-sync"')[1]
    assert "<code>crm</code>" in section and f'data-dead-letter="{event_id}"' in section
    assert "consent.changed" in section and "400 refused" in section
    assert "example" not in section  # no address or name of the person


def test_nul_in_a_form_field_or_journey_id_is_a_4xx_naming_it(site: Site) -> None:
    # PostgreSQL text cannot hold NUL: refused up front, never a driver error (a 500).
    request_id = _subject_request(site)
    dpo = site.login("dpo")
    for action in ("extend", "verify", "deny"):
        refused = site.post_form(
            dpo,
            f"/team/requests/{request_id}/{action}",
            {"months": "1", "reason": "busy\x00"},
            form_path="/team/requests",
        )
        assert refused.status_code == 422, (action, refused.text)
        assert "reason" in refused.text
    searched = site.post_form(dpo, "/team/contacts", {"kind": "email", "address": "a\x00@b.org"})
    assert searched.status_code == 422 and "address" in searched.text
    with reading(site.cx.engine) as conn:
        row = conn.execute(select(dsr_requests)).mappings().one()
    assert (row["status"], row["extended_months"]) == ("verifying", 0)
    marketer = site.login("marketer")
    for path in ("/team/journeys/%00", "/team/journeys/a%00b"):
        answer = marketer.get(path)
        assert answer.status_code == 422 and "journey_id" in answer.text
    posted = site.post_form(marketer, "/team/journeys/%00/simulate", {}, form_path="/team/journeys")
    assert posted.status_code == 422


def test_the_oldest_open_request_stays_in_the_queue_behind_many_newer(site: Site) -> None:
    oldest = _subject_request(site)
    with site.cx.engine.begin() as conn:
        for _ in range(205):
            open_subject_request(
                conn,
                site.cx.vault,
                NewRequest(type="erasure", email="person@example.org", channel="web"),
                at=site.cx.clock.now(),
            )
        conn.execute(
            update(dsr_requests).where(dsr_requests.c.id != oldest).values(status="denied")
        )
    queue = site.login("dpo").get("/team/requests")
    open_part = queue.text.split("<h2>Open, by deadline</h2>")[1].split("<h2")[0]
    assert f"#{oldest} access" in open_part
    assert "No open requests" not in open_part
