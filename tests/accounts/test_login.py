"""Logging in and the session service: sessions end at once on logout, disabling or a new
role; ten wrong passwords lock a login for a while; an address is limited too."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from candor.accounts import members, sessions
from candor.accounts.login import (
    LOCK_FOR,
    MAX_FAILURES,
    MAX_FAILURES_PER_ADDRESS,
    Attempt,
    LoginResult,
    log_in,
)
from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.store.engine import reading
from candor.store.tables import audit_log
from candor.store.team_tables import team_login_failures
from tests.conftest import add_member_with_password

PASSWORD = "correct horse battery staple"
PEPPER = b"p" * 32


def _login(cx: Candor, email: str, password: str, ip: str = "192.0.2.1") -> LoginResult:
    with cx.engine.begin() as conn:
        return log_in(conn, Attempt(email, password, ip), pepper=PEPPER, at=cx.clock.now())


def _live(cx: Candor, token: str) -> sessions.MemberSession | None:
    with cx.engine.begin() as conn:
        return sessions.session_for(conn, token, at=cx.clock.now())


def test_a_right_password_opens_a_session_that_logout_ends(team: Candor) -> None:
    member_id = add_member_with_password(team, "dora@team.example", "dpo", PASSWORD, "Dora")
    result = _login(team, "Dora@team.example ", PASSWORD)
    assert result.token is not None and result.refused is None
    live = _live(team, result.token)
    assert live is not None and live.principal.actor == f"member:{member_id}"
    assert (live.role, live.name, live.time_zone) == ("dpo", "Dora", "UTC")
    with team.engine.begin() as conn:
        sessions.end_session(conn, live, at=team.clock.now())
    assert _live(team, result.token) is None


def test_disabling_a_member_or_changing_the_role_ends_every_open_session(team: Candor) -> None:
    add_member_with_password(team, "ada@team.example", "admin", PASSWORD)
    dora = add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    tokens = [_login(team, "dora@team.example", PASSWORD).token for _ in range(2)]
    with team.engine.begin() as conn:
        members.change_role(conn, dora, "marketer", actor="member:1", at=team.clock.now())
    assert [_live(team, t) for t in tokens if t] == [None, None]
    again = _login(team, "dora@team.example", PASSWORD).token
    assert again is not None
    live = _live(team, again)
    assert live is not None and live.role == "marketer"
    with team.engine.begin() as conn:
        members.disable_member(conn, dora, actor="member:1", at=team.clock.now())
    assert _live(team, again) is None
    assert _login(team, "dora@team.example", PASSWORD).refused == "wrong"


def test_a_session_expires_after_eight_hours_and_idles_out_after_one(
    team: Candor, clock: ManualClock
) -> None:
    add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    token = _login(team, "dora@team.example", PASSWORD).token
    assert token is not None
    for _ in range(8):  # used every 55 minutes: never idle, alive for 7 h 20 min
        clock.advance(timedelta(minutes=55))
        assert _live(team, token) is not None
    clock.advance(timedelta(minutes=55))  # 8 h 15 min after the login
    assert _live(team, token) is None
    idle = _login(team, "dora@team.example", PASSWORD).token
    assert idle is not None
    clock.advance(sessions.IDLE_FOR)
    assert _live(team, idle) is None


def test_ten_wrong_passwords_lock_the_login_for_a_while_even_for_the_right_one(
    team: Candor, clock: ManualClock
) -> None:
    add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    answers = [_login(team, "dora@team.example", f"guess {n}").refused for n in range(MAX_FAILURES)]
    assert answers == ["wrong"] * (MAX_FAILURES - 1) + ["locked"]
    locked = _login(team, "dora@team.example", PASSWORD)
    assert locked.refused == "locked" and locked.until == clock.now() + LOCK_FOR
    clock.advance(LOCK_FOR)
    assert _login(team, "dora@team.example", PASSWORD).token is not None
    with reading(team.engine) as conn:
        actions = list(conn.execute(select(audit_log.c.action)).scalars())
    assert actions.count("session.login_failed") == MAX_FAILURES
    assert actions.count("session.locked") == 1


def test_a_right_password_clears_the_count_of_wrong_ones(team: Candor) -> None:
    add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    for n in range(MAX_FAILURES - 1):
        _login(team, "dora@team.example", f"guess {n}")
    assert _login(team, "dora@team.example", PASSWORD).token is not None
    assert _login(team, "dora@team.example", "one more guess").refused == "wrong"


def test_unknown_emails_are_counted_and_locked_like_known_ones(team: Candor) -> None:
    answers = [_login(team, "nobody@team.example", f"guess {n}").refused for n in range(10)]
    assert answers[-1] == "locked"
    with reading(team.engine) as conn:
        stored = conn.execute(select(team_login_failures)).all()
    assert stored == []  # the lock replaced the count; nothing held the e-mail in clear


def test_an_address_with_too_many_wrong_passwords_is_refused(team: Candor) -> None:
    add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    for n in range(MAX_FAILURES_PER_ADDRESS):  # spread over many e-mails: no lock each
        _login(team, f"user{n % 9}.{n}@team.example", "guess", ip="198.51.100.7")
    refused = _login(team, "dora@team.example", PASSWORD, ip="198.51.100.7")
    assert refused.refused == "address" and refused.until is not None
    assert _login(team, "dora@team.example", PASSWORD, ip="198.51.100.8").token is not None
    with reading(team.engine) as conn:
        kept = conn.execute(select(func.count()).select_from(team_login_failures)).scalar_one()
    assert kept == MAX_FAILURES_PER_ADDRESS


def test_changing_the_password_keeps_this_session_and_ends_the_others(team: Candor) -> None:
    member_id = add_member_with_password(team, "dora@team.example", "dpo", PASSWORD)
    here, there = (_login(team, "dora@team.example", PASSWORD).token for _ in range(2))
    assert here and there
    with team.engine.begin() as conn:
        members.change_password(
            conn,
            member_id,
            PASSWORD,
            "a brand new passphrase",
            keep_session=sessions.token_digest(here),
            at=team.clock.now(),
        )
    assert _live(team, here) is not None and _live(team, there) is None
    assert _login(team, "dora@team.example", PASSWORD).refused == "wrong"
    assert _login(team, "dora@team.example", "a brand new passphrase").token is not None
