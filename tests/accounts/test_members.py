"""The member service: add with a one-time link, roles, disabling, audit entries naming who."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from candor.accounts import members
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.core.errors import Conflict, InvalidInput
from candor.store.engine import reading
from candor.store.tables import audit_log
from candor.store.team_tables import team_members

PASSWORD = "correct horse battery staple"


def _add(
    cx: Candor, email: str, role: str = "dpo", actor: str = "member:1"
) -> members.PasswordLink:
    with cx.engine.begin() as conn:
        return members.add_member(conn, email, role, name="", actor=actor, at=cx.clock.now())


def test_a_new_member_sets_the_password_once_through_the_link(team: Candor) -> None:
    link = _add(team, "Dora@Team.Example")
    assert link.member.email == "dora@team.example" and link.member.name == "dora"
    assert not link.member.password_set
    assert link.url("https://candor.example/").startswith(
        "https://candor.example/team/set-password/"
    )
    with reading(team.engine) as conn:
        stored = conn.execute(select(team_members)).one()
    assert link.token not in str(tuple(stored))  # only the digest is kept
    with team.engine.begin() as conn:
        done = members.set_password_with_link(conn, link.token, PASSWORD, at=team.clock.now())
    assert done.password_set
    with pytest.raises(InvalidInput) as spent, team.engine.begin() as conn:
        members.set_password_with_link(conn, link.token, PASSWORD, at=team.clock.now())
    assert spent.value.field == "link"


def test_a_link_expires_and_a_new_one_replaces_the_old(team: Candor, clock: ManualClock) -> None:
    first = _add(team, "dora@team.example")
    with team.engine.begin() as conn:
        second = members.issue_password_link(
            conn, first.member.id, actor="member:1", at=clock.now()
        )
    with pytest.raises(InvalidInput), team.engine.begin() as conn:
        members.member_by_link(conn, first.token, at=clock.now())
    clock.advance(members.LINK_VALID_FOR + timedelta(seconds=1))
    with pytest.raises(InvalidInput), team.engine.begin() as conn:
        members.member_by_link(conn, second.token, at=clock.now())


@pytest.mark.parametrize(
    ("email", "role", "field"),
    [("not an address", "dpo", "email"), ("ok@team.example", "owner", "role")],
)
def test_bad_input_names_the_field_and_adds_no_one(
    team: Candor, email: str, role: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        _add(team, email, role)
    assert caught.value.field == field
    with reading(team.engine) as conn:
        assert members.list_members(conn) == []


def test_an_email_is_one_member_whatever_its_case(team: Candor) -> None:
    _add(team, "dora@team.example")
    with pytest.raises(Conflict):
        _add(team, "DORA@team.example")


def test_the_last_active_admin_keeps_the_role_and_cannot_be_disabled(team: Candor) -> None:
    admin = _add(team, "ada@team.example", "admin").member
    with pytest.raises(Conflict), team.engine.begin() as conn:
        members.change_role(conn, admin.id, "dpo", actor="cli", at=team.clock.now())
    with pytest.raises(Conflict), team.engine.begin() as conn:
        members.disable_member(conn, admin.id, actor="cli", at=team.clock.now())
    second = _add(team, "bea@team.example", "admin").member
    with team.engine.begin() as conn:
        members.change_role(conn, admin.id, "dpo", actor=f"member:{second.id}", at=team.clock.now())
        gone = members.disable_member(conn, admin.id, actor="cli", at=team.clock.now())
    assert not gone.active
    with pytest.raises(Conflict), team.engine.begin() as conn:
        members.issue_password_link(conn, admin.id, actor="cli", at=team.clock.now())


def test_every_change_is_an_audit_entry_naming_the_member_who_made_it(team: Candor) -> None:
    admin = _add(team, "ada@team.example", "admin", actor="cli").member
    actor = f"member:{admin.id}"
    dora = _add(team, "dora@team.example", actor=actor)
    with team.engine.begin() as conn:
        members.set_password_with_link(conn, dora.token, PASSWORD, at=team.clock.now())
        members.change_role(conn, dora.member.id, "auditor", actor=actor, at=team.clock.now())
        members.set_time_zone(conn, dora.member.id, "Europe/Berlin", at=team.clock.now())
        members.disable_member(conn, dora.member.id, actor=actor, at=team.clock.now())
    with reading(team.engine) as conn:
        rows = conn.execute(
            select(audit_log.c.actor, audit_log.c.action, audit_log.c.details).where(
                audit_log.c.object_type == "team_member",
                audit_log.c.object_id == str(dora.member.id),
            )
        ).all()
    acts = [(r.actor, r.action) for r in rows]
    own = f"member:{dora.member.id}"
    assert acts == [
        (actor, "member.add"),
        (actor, "member.password_link"),
        (own, "member.password_set"),
        (actor, "member.role"),
        (own, "member.time_zone"),
        (actor, "member.disable"),
    ]
    assert "dora" not in str([r.details for r in rows])  # ids and codes only


def test_a_time_zone_must_be_a_real_one(team: Candor) -> None:
    member = _add(team, "dora@team.example").member
    with pytest.raises(InvalidInput) as caught, team.engine.begin() as conn:
        members.set_time_zone(conn, member.id, "Mars/Olympus", at=team.clock.now())
    assert caught.value.field == "time_zone"
