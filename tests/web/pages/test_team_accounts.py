"""Team accounts over HTTP: sessions end at once (an old cookie replayed finds nothing), the
login locks after ten wrong passwords and says so, links set passwords once, admins manage
the team, and each member's time zone governs the times shown."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from candor.store.engine import reading
from candor.store.tables import audit_log
from candor.store.team_tables import team_sessions

from .conftest import PASSWORD, Site, csrf_of, email_of

LINK = re.compile(r"http://testserver(/team/set-password/[A-Za-z0-9_-]+)")


def _replay(site: Site, cookie: str) -> int:
    """A fresh browser that only has a copy of the old session cookie."""
    thief = TestClient(site.client.app)
    thief.cookies.set("candor_session", cookie)
    return thief.get(f"/team/contacts/{site.contact_id}", follow_redirects=False).status_code


def test_logout_ends_the_session_even_for_a_copy_of_the_old_cookie(site: Site) -> None:
    dpo = site.login("dpo")
    cookie = dpo.cookies["candor_session"]
    assert _replay(site, cookie) == 200
    page = dpo.get("/team/contacts")
    assert dpo.post("/team/logout", data={"csrf": csrf_of(page.text)}).status_code == 200
    assert _replay(site, cookie) == 303  # sent to the login page
    with reading(site.cx.engine) as conn:
        ended = conn.execute(select(team_sessions.c.ended_why)).scalars().all()
    assert ended == ["logout"]


def test_disabling_a_member_ends_their_open_session_at_once(site: Site) -> None:
    dpo, admin = site.login("dpo"), site.login("admin")
    cookie = dpo.cookies["candor_session"]
    done = site.post_form(
        admin, f"/team/members/{site.members['dpo']}/disable", {}, form_path="/team/members"
    )
    assert done.status_code == 200 and "Member disabled." in done.text
    assert dpo.get("/team/requests", follow_redirects=False).status_code == 303
    assert _replay(site, cookie) == 303
    refused = site.try_login(TestClient(site.client.app), email_of("dpo"), PASSWORD)
    assert refused.status_code == 401


def test_changing_a_role_ends_the_open_session_and_the_next_login_has_the_new_role(
    site: Site,
) -> None:
    dpo, admin = site.login("dpo"), site.login("admin")
    cookie = dpo.cookies["candor_session"]
    site.post_form(
        admin,
        f"/team/members/{site.members['dpo']}/role",
        {"role": "marketer"},
        form_path="/team/members",
    )
    assert _replay(site, cookie) == 303
    again = site.login("dpo")  # same member, now a marketer
    assert again.get(f"/team/contacts/{site.contact_id}").status_code == 403
    with reading(site.cx.engine) as conn:
        acts = conn.execute(
            select(audit_log.c.actor, audit_log.c.action).where(audit_log.c.action == "member.role")
        ).all()
    assert [tuple(a) for a in acts] == [(f"member:{site.members['admin']}", "member.role")]


def test_ten_wrong_passwords_lock_the_login_for_a_while_and_say_so(site: Site) -> None:
    client = TestClient(site.client.app)
    answers = [site.try_login(client, email_of("dpo"), f"guess {n}") for n in range(10)]
    assert [a.status_code for a in answers[:9]] == [401] * 9
    locked = answers[9]
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 900
    assert "locked after ten wrong passwords" in locked.text
    assert "Try again after 2 Mar 2026, 09:15 UTC" in locked.text
    right = site.try_login(client, email_of("dpo"), PASSWORD)
    assert right.status_code == 429  # the right password waits too
    site.cx.clock.advance(timedelta(minutes=15))  # type: ignore[attr-defined]
    assert site.try_login(client, email_of("dpo"), PASSWORD).status_code == 303


def test_an_admin_adds_a_member_whose_link_sets_a_password_once(site: Site) -> None:
    admin = site.login("admin")
    added = site.post_form(
        admin, "/team/members", {"email": "Nia@Team.Example", "name": "Nia Neu", "role": "dpo"}
    )
    assert added.status_code == 201
    link = LINK.search(added.text)
    assert link and "nia@team.example" in added.text
    newcomer = TestClient(site.client.app)
    form = newcomer.get(link.group(1))
    assert form.status_code == 200 and "Nia Neu" in form.text
    differ = newcomer.post(
        link.group(1),
        data={"csrf": csrf_of(form.text), "password": PASSWORD, "repeat": PASSWORD + "!"},
    )
    assert differ.status_code == 422 and "differ" in differ.text
    short = newcomer.post(
        link.group(1), data={"csrf": csrf_of(form.text), "password": "short", "repeat": "short"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.text
    done = newcomer.post(
        link.group(1),
        data={"csrf": csrf_of(form.text), "password": PASSWORD, "repeat": PASSWORD},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/team/login?done=password"
    assert newcomer.get(link.group(1)).status_code == 410  # spent
    assert site.try_login(newcomer, "nia@team.example", PASSWORD).status_code == 303
    members_page = admin.get("/team/members").text
    assert "Nia Neu" in members_page and LINK.search(members_page) is None  # shown once only


def test_bad_member_input_is_a_4xx_naming_the_field(site: Site) -> None:
    admin = site.login("admin")
    bad = site.post_form(admin, "/team/members", {"email": "nope", "role": "dpo"})
    assert bad.status_code == 422 and "email:" in bad.text
    owner = site.post_form(admin, "/team/members", {"email": "o@team.example", "role": "owner"})
    assert owner.status_code == 422 and "role: must be one of" in owner.text


def test_the_account_page_sets_the_time_zone_every_time_is_shown_in(site: Site) -> None:
    dpo = site.login("dpo")
    record = dpo.get(f"/team/contacts/{site.contact_id}").text
    assert "2 Mar 2026, 09:00 UTC" in record and "2026-03-02T09:00" not in record.split("<h2")[0]
    saved = site.post_form(
        dpo, "/team/account/zone", {"time_zone": "Europe/Berlin"}, form_path="/team/account"
    )
    assert saved.status_code == 200 and "Time zone saved." in saved.text
    assert "2 Mar 2026, 10:00 CET" in dpo.get(f"/team/contacts/{site.contact_id}").text
    wrong = site.post_form(
        dpo, "/team/account/zone", {"time_zone": "Mars/Base"}, form_path="/team/account"
    )
    assert wrong.status_code == 422 and "not a known IANA time zone" in wrong.text


def test_changing_the_password_on_the_account_page(site: Site) -> None:
    here, there = site.login("auditor"), site.login("auditor")
    new = "an entirely new passphrase"
    wrong = site.post_form(
        here,
        "/team/account/password",
        {"current": "not it", "password": new, "repeat": new},
        form_path="/team/account",
    )
    assert wrong.status_code == 422 and "is not your current password" in wrong.text
    done = site.post_form(
        here,
        "/team/account/password",
        {"current": PASSWORD, "password": new, "repeat": new},
        form_path="/team/account",
    )
    assert done.status_code == 200 and "Password changed." in done.text
    assert here.get("/team/account").status_code == 200  # this session stays
    assert there.get("/team/account", follow_redirects=False).status_code == 303
    assert site.try_login(TestClient(site.client.app), email_of("auditor"), new).status_code == 303
