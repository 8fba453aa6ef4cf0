"""Customer pages: the preference center, double opt-in, requests, GPC, tokens and CSRF."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from candor.channels.links import download_token, unsubscribe_token
from candor.core.tokens import sign
from candor.ledger.blocks import list_blocks
from candor.ledger.consents import ConsentInput, record_consent
from candor.store.engine import reading
from candor.store.rights_tables import dsr_requests
from candor.store.tables import block_lifts, blocks, doi_tokens

from .conftest import Site, csrf_of, make_person, ticked


def _save(site: Site, token: str, boxes: list[str], keep: bool = True, **headers: str) -> None:
    """Submit the form as a person would: what is ticked now, plus `boxes`."""
    if keep:
        boxes = sorted(ticked(site.client.get(f"/preferences/{token}").text) | set(boxes))
    answer = site.post_form(
        site.client,
        f"/preferences/{token}",
        {"action": "save", "box": boxes},
        headers=headers,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def test_boxes_start_unticked_and_name_the_wording(site: Site) -> None:
    page = site.client.get(f"/preferences/{site.pref_token()}")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    # Privacy by default: only what decide() allows now is ticked (the legitimate-interest
    # offers to customers, which the person can object to here); no consent purpose is.
    assert ticked(page.text) == {"soft_optin||email", "soft_optin||sms"} | {
        f"soft_optin|{t}|{c}"
        for t in ("weekly", "offers", "events", "surveys")
        for c in ("email", "sms")
    }
    assert "Invite me to events by e-mail, SMS or WhatsApp." in page.text
    assert "version 1" in page.text
    assert 'value="events|weekly|email"' in page.text and 'value="events||sms"' in page.text
    assert 'value="profiling||"' in page.text  # profiling: one box, no channel
    assert page.headers["cache-control"] == "no-store"


def test_tick_records_event_with_page_evidence_and_untick_withdraws(site: Site) -> None:
    token = site.pref_token()
    _save(site, token, ["events||email"], True, **{"User-Agent": "pref-test/1"})
    (event,) = site.events()
    assert (event["purpose_id"], event["status"], event["channel"], event["theme"]) == (
        "events",
        "granted",
        "email",
        None,
    )
    assert event["source"] == "preference_center"
    from candor.ledger.consents import consent_history

    with reading(site.cx.engine) as conn:
        evidence = consent_history(conn, site.cx.vault, site.contact_id)[0]["evidence"]
    assert evidence["page"] == "preferences"
    assert evidence["wording_version"] == 1
    assert evidence["user_agent"] == "pref-test/1"
    assert evidence["ip"] and evidence["time"]
    page = site.client.get(f"/preferences/{token}?done=saved")
    assert {"events||email", "events|weekly|email"} <= ticked(page.text)
    assert "events||sms" not in ticked(page.text)
    # Theme rows are covered by the general grant: shown ticked, nothing extra recorded.
    _save(site, token, sorted(ticked(page.text)), keep=False)
    assert len(site.events()) == 1
    # Withdrawing takes one untick, like agreeing took one tick.
    _save(
        site, token, sorted(b for b in ticked(page.text) if not b.startswith("events|")), keep=False
    )
    events = site.events()
    assert [e["status"] for e in events] == ["granted", "withdrawn"]
    assert (events[1]["channel"], events[1]["theme"]) == ("email", None)


def test_engagement_analytics_is_one_box_the_person_can_tick_and_untick(site: Site) -> None:
    token = site.pref_token()
    page = site.client.get(f"/preferences/{token}")
    assert 'value="engagement||"' in page.text and "engagement||" not in ticked(page.text)
    assert "Note which of your messages I open" in page.text
    _save(site, token, ["engagement||"])
    assert "engagement||" in ticked(site.client.get(f"/preferences/{token}").text)
    kept = ticked(site.client.get(f"/preferences/{token}").text) - {"engagement||"}
    _save(site, token, sorted(kept), keep=False)
    statuses = [(e["purpose_id"], e["status"]) for e in site.events()]
    assert statuses == [("engagement", "granted"), ("engagement", "withdrawn")]


def test_unchanged_save_records_nothing(site: Site) -> None:
    token = site.pref_token()
    _save(site, token, sorted(ticked(site.client.get(f"/preferences/{token}").text)))
    assert site.events() == []


def test_double_opt_in_purpose_is_pending_until_confirmed(site: Site) -> None:
    token = site.pref_token()
    _save(site, token, ["newsletter||email"])
    (event,) = site.events()
    assert event["status"] == "pending"
    page = site.client.get(f"/preferences/{token}")
    assert "Waiting for your confirmation" in page.text


def test_complete_block_in_one_click_and_lift(site: Site) -> None:
    token = site.pref_token()
    answer = site.post_form(
        site.client,
        f"/preferences/{token}",
        {"action": "block"},
        headers={"User-Agent": "block-test/1"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with reading(site.cx.engine) as conn:
        rows = conn.execute(select(blocks).where(blocks.c.contact_id == site.contact_id)).all()
    assert [(r.kind, r.source) for r in rows] == [("all", "preference_center")]
    page = site.client.get(f"/preferences/{token}")
    assert "a complete advertising block is in place" in page.text
    site.post_form(
        site.client,
        f"/preferences/{token}?lang=de",
        {"action": "unblock"},
        headers={"User-Agent": "lift-test/2"},
    )
    with reading(site.cx.engine) as conn:
        assert len(conn.execute(select(block_lifts)).all()) == 1
        (block,) = list_blocks(conn, site.contact_id, site.cx.vault)
        sealed = [rows[0].evidence, conn.execute(select(block_lifts.c.evidence)).scalar_one()]
    # Each act keeps the page's evidence: page, time, IP, browser and the words on the button.
    proof, lift = block["evidence"], block["lifted"]["evidence"]
    assert (proof["page"], proof["action"], proof["user_agent"]) == (
        "preferences",
        "block",
        "block-test/1",
    )
    assert proof["ip"] and proof["time"] == block["created_at"]
    assert proof["wording"] == [
        "One click and we send you no advertising at all, on any channel.",
        "Stop all advertising",
    ]
    assert (lift["action"], lift["user_agent"], lift["language"]) == (
        "unblock",
        "lift-test/2",
        "de",
    )
    assert lift["wording"] == ["Werbung wieder erlauben (gemäß den Häkchen oben)"]
    assert all(blob and b"block-test" not in blob and b"lift-test" not in blob for blob in sealed)


def test_post_without_or_with_wrong_csrf_is_refused(site: Site) -> None:
    token = site.pref_token()
    site.client.get(f"/preferences/{token}")
    missing = site.client.post(f"/preferences/{token}", data={"box": ["events||email"]})
    assert missing.status_code == 403
    wrong = site.client.post(
        f"/preferences/{token}", data={"box": ["events||email"], "csrf": "0" * 64}
    )
    assert wrong.status_code == 403
    assert site.events() == []


def test_tokens_of_another_purpose_or_tampered_are_refused(site: Site) -> None:
    key, now = site.cx.vault.signing_key, site.cx.clock.now()
    unsubscribe = unsubscribe_token(
        key,
        contact_id=site.contact_id,
        purpose_id="events",
        theme=None,
        channel="email",
        address_id=None,
        outbox_id=None,
        issued_at=now,
    )
    download = download_token(
        key, contact_id=site.contact_id, ref="x", expires_at=now + timedelta(days=1)
    )
    for token in (unsubscribe, download, "nonsense", site.pref_token() + "x"):
        assert site.client.get(f"/preferences/{token}").status_code == 400
        assert site.client.get(f"/confirm/{token}").status_code == 400
    # A token names one person: changing the claim breaks the signature.
    mac = site.pref_token().split(".")[1]
    other = make_person(site.cx, "other@example.org")
    forged = sign(key, "pref", {"c": other}, now + timedelta(days=1)).split(".")[0] + "." + mac
    assert site.client.get(f"/preferences/{forged}").status_code == 400
    expired = sign(key, "pref", {"c": site.contact_id}, now - timedelta(seconds=1))
    assert site.client.get(f"/preferences/{expired}").status_code == 400


def test_gpc_is_recorded_once_as_objection_to_profiling(site: Site) -> None:
    token = site.pref_token()
    first = site.client.get(f"/preferences/{token}", headers={"Sec-GPC": "1"})
    assert "We recorded it as your objection" in first.text
    again = site.client.get(f"/preferences/{token}", headers={"Sec-GPC": "1"})
    assert "is on record" in again.text
    events = site.events()
    assert [(e["purpose_id"], e["status"], e["source"]) for e in events] == [
        ("profiling", "refused", "gpc")
    ]
    without = site.client.get(f"/preferences/{token}")
    assert "is on record" in without.text
    assert len(site.events()) == 1


def test_gpc_policy_is_served(site: Site) -> None:
    answer = site.client.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.json()["gpc"] is True and "lastUpdate" in answer.json()


def _doi(site: Site) -> str:
    with site.cx.engine.begin() as conn:
        recorded = record_consent(
            conn,
            site.cx.vault,
            site.contact_id,
            ConsentInput(purpose="newsletter", status="granted", source="form", channel="email"),
            actor="test",
            at=site.cx.clock.now(),
        )
    assert recorded.confirmation_token
    return recorded.confirmation_token


def test_a_confirmation_click_with_gpc_records_the_objection_once(site: Site) -> None:
    token = _doi(site)
    page = site.client.get(f"/confirm/{token}", headers={"Sec-GPC": "1"})
    assert [e["status"] for e in site.events()] == ["pending"]  # a GET records nothing
    done = site.client.post(
        f"/confirm/{token}", data={"csrf": csrf_of(page.text)}, headers={"Sec-GPC": "1"}
    )
    assert done.status_code == 200 and "We recorded it as your objection" in done.text
    assert [(e["purpose_id"], e["status"], e["source"]) for e in site.events()] == [
        ("newsletter", "pending", "form"),
        ("newsletter", "confirmed", "double_opt_in"),
        ("profiling", "refused", "gpc"),
    ]
    again = site.client.get(f"/preferences/{site.pref_token()}", headers={"Sec-GPC": "1"})
    assert "is on record" in again.text and len(site.events()) == 3


def test_confirm_get_changes_nothing_and_post_confirms(site: Site) -> None:
    token = _doi(site)
    page = site.client.get(f"/confirm/{token}")
    assert page.status_code == 200 and "Yes, confirm" in page.text
    assert [e["status"] for e in site.events()] == ["pending"]
    with reading(site.cx.engine) as conn:
        assert conn.execute(select(doi_tokens.c.used_at)).scalar() is None
    done = site.client.post(f"/confirm/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "confirmed" in done.text
    events = site.events()
    assert [e["status"] for e in events] == ["pending", "confirmed"]
    again = site.client.post(f"/confirm/{token}", data={"csrf": csrf_of(page.text)})
    assert "already used" in again.text
    assert len(site.events()) == 2
    assert "already used" in site.client.get(f"/confirm/{token}").text


def test_confirm_post_needs_csrf(site: Site) -> None:
    token = _doi(site)
    site.client.get(f"/confirm/{token}")
    assert site.client.post(f"/confirm/{token}", data={}).status_code == 403
    assert [e["status"] for e in site.events()] == ["pending"]


def _requests(site: Site) -> list[dict[str, object]]:
    with reading(site.cx.engine) as conn:
        return [dict(r) for r in conn.execute(select(dsr_requests)).mappings()]


def test_request_form_opens_a_request_verified_by_own_address(site: Site) -> None:
    known = site.post_form(
        site.client, "/requests", {"type": "access", "email": "Person@Example.org", "details": ""}
    )
    unknown = site.post_form(
        site.client, "/requests", {"type": "access", "email": "nobody@example.org"}
    )
    assert known.status_code == unknown.status_code == 200
    assert "confirmation link" in known.text and "confirmation link" in unknown.text
    (row,) = _requests(site)
    assert row["status"] == "verifying" and row["contact_id"] == site.contact_id
    token = str(row["verification_token"])
    page = site.client.get(f"/requests/verify/{token}")
    assert page.status_code == 200 and _requests(site)[0]["status"] == "verifying"
    done = site.client.post(f"/requests/verify/{token}", data={"csrf": csrf_of(page.text)})
    assert done.status_code == 200 and "confirmed" in done.text
    assert _requests(site)[0]["verified_at"] is not None
    assert _requests(site)[0]["status"] in ("in_progress", "fulfilled")
    used = site.client.post(f"/requests/verify/{token}", data={"csrf": csrf_of(page.text)})
    assert "already used" in used.text or used.status_code == 400


def test_request_from_the_preference_center(site: Site) -> None:
    token = site.pref_token()
    answer = site.post_form(
        site.client,
        f"/preferences/{token}/request",
        {"type": "erasure"},
        form_path=f"/preferences/{token}",
    )
    assert answer.status_code == 200
    (row,) = _requests(site)
    assert (row["type"], row["status"], row["opened_by"]) == ("erasure", "verifying", "subject")


def test_german_by_accept_language_and_by_switch(site: Site) -> None:
    token = site.pref_token()
    german = site.client.get(
        f"/preferences/{token}", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    )
    assert '<html lang="de">' in german.text and "Ihre Kommunikationseinstellungen" in german.text
    switched = site.client.get(f"/preferences/{token}?lang=de")
    assert "candor_lang=de" in switched.headers["set-cookie"]
    sticky = site.client.get(f"/preferences/{token}")
    assert '<html lang="de">' in sticky.text
    back = site.client.get(f"/preferences/{token}?lang=en")
    assert '<html lang="en">' in back.text


def test_security_headers_on_pages_and_api(site: Site) -> None:
    for path in (f"/preferences/{site.pref_token()}", "/api/v1/health", "/requests"):
        headers = site.client.get(path).headers
        assert headers["content-security-policy"].startswith("default-src 'self'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"


def test_public_endpoints_are_rate_limited(site: Site) -> None:
    limiter = site.client.app.state.pages_limiter  # type: ignore[attr-defined]
    limiter.capacity, limiter.per_second = 3, 0.0
    limiter.reset()
    codes = [site.client.get("/.well-known/gpc.json").status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert site.client.get("/api/v1/health").status_code == 200  # the API is not limited here


def test_nul_in_a_request_form_is_a_4xx_naming_the_field(site: Site) -> None:
    token = site.pref_token()
    answers = [
        site.post_form(site.client, "/requests", {"type": "access", "email": "a\x00@b.org"}),
        site.post_form(
            site.client,
            "/requests",
            {"type": "access", "email": "person@example.org", "details": "x\x00"},
        ),
        site.post_form(
            site.client,
            f"/preferences/{token}/request",
            {"type": "erasure", "details": "x\x00"},
            form_path=f"/preferences/{token}",
        ),
    ]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert "email" in answers[0].text and "details" in answers[1].text
    assert _requests(site) == []


def test_each_token_works_only_on_its_own_page(site: Site) -> None:
    """A genuine token of one kind opens no other page, and changes nothing there."""
    key, now = site.cx.vault.signing_key, site.cx.clock.now()
    doi = _doi(site)
    site.post_form(site.client, "/requests", {"type": "access", "email": "person@example.org"})
    verification = str(_requests(site)[0]["verification_token"])
    kinds = {
        "preferences": site.pref_token(),
        "unsubscribe": unsubscribe_token(
            key,
            contact_id=site.contact_id,
            purpose_id="soft_optin",
            theme=None,
            channel="email",
            address_id=None,
            outbox_id=None,
            issued_at=now,
        ),
        "confirm": doi,
        "verify": verification,
    }
    pages = {
        "preferences": "/preferences/{}",
        "unsubscribe": "/u/{}",
        "confirm": "/confirm/{}",
        "verify": "/requests/verify/{}",
    }
    csrf = csrf_of(site.client.get("/requests").text)
    before = len(site.events())
    for kind, token in kinds.items():
        for page, path in pages.items():
            if page == kind:
                continue
            url = path.format(token)
            assert site.client.get(url).status_code == 400, (kind, page)
            posted = site.client.post(url, data={"csrf": csrf, "action": "block"})
            assert posted.status_code == 400, (kind, page)
    assert len(site.events()) == before
    assert _requests(site)[0]["status"] == "verifying"
    with reading(site.cx.engine) as conn:
        assert conn.execute(select(blocks)).all() == []
        assert conn.execute(select(doi_tokens.c.used_at)).scalar() is None
