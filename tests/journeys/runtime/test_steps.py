"""Permission and flow steps: consent, opt_in, blocks, store, opt_out, inform, event waits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from candor.core.clock import ManualClock
from candor.core.context import Candor
from candor.ledger.chain import verify_ledger
from candor.ledger.communications import record_communication
from candor.ledger.config import apply_config, load_config_file
from candor.ledger.consents import confirm_doi, consent_history
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.engine import reading
from candor.store.tables import blocks, contacts

from .helpers import add_contact, consent, messages, positions, run, start, stats

FIXTURES_CONFIG = "tests/fixtures/candor.yaml"
INVITE = {
    "id": "invite",
    "type": "send",
    "channel": "email",
    "template": "promo_mail",
    "theme": "events",
    "next": "done",
}
ENDS = [{"id": "done", "type": "end"}, {"id": "no", "type": "end"}, {"id": "late", "type": "end"}]


def ends(*names: str) -> list[dict[str, str]]:
    return [{"id": name, "type": "end"} for name in names]


def decide(
    cx: Candor, contact: int, purpose: str, channel: str | None = None, theme: str | None = None
) -> str:
    with reading(cx.engine) as conn:
        return decide_for(
            conn,
            contact,
            purpose_facts(conn, purpose),
            channel,
            None,
            theme_ref(conn, theme),
            cx.clock.now(),
        ).reason


def test_consent_step_grant_refuse_and_timeout(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    yes, no, silent, already = (add_contact(cx, n) for n in range(4))
    consent(cx, already, "events")
    ask = {
        "id": "ask",
        "type": "consent",
        "channel": "email",
        "template": "ask_mail",
        "theme": "events",
        "timeout": "P14D",
        "on_refused": "no",
        "on_timeout": "late",
    }
    start(cx, [ask, INVITE, *ENDS])
    run(cx)
    requests = [m for m in messages(cx) if m["kind"] == "consent_request"]
    assert sorted(m["contact_id"] for m in requests) == sorted([yes, no, silent])
    assert {m["decision_reason"] for m in requests} == {"not_asked"}
    assert positions(cx)[yes] == ("ask", "waiting")
    assert positions(cx)[already] == ("done", "done")
    with reading(cx.engine) as conn:
        history = consent_history(conn, cx.vault, yes)
        assert list(verify_ledger(conn)) == []
    assert [(e["status"], e["source"]) for e in history] == [("requested", "journey")]
    assert history[0]["evidence"] == {"journey": "promo", "step": "ask", "purpose_version": 1}

    clock.advance(timedelta(hours=2))
    consent(cx, yes, "events")
    consent(cx, no, "events", status="refused")
    run(cx)
    assert positions(cx)[yes] == ("done", "done")
    assert positions(cx)[no] == ("no", "done")
    assert positions(cx)[silent] == ("ask", "waiting")
    sent = [m for m in messages(cx) if m["kind"] == "marketing"]
    assert sorted(m["contact_id"] for m in sent) == sorted([yes, already])
    clock.advance(timedelta(days=14))
    run(cx)
    assert positions(cx)[silent] == ("late", "done")
    figures = stats(cx)
    assert figures[("ask", "requested")] == 3
    assert (
        figures[("ask", "granted")]
        == figures[("ask", "refused")]
        == figures[("ask", "timeout")]
        == 1
    )
    assert figures[("ask", "passed")] == 1


def test_opt_in_confirmed_with_the_token_from_the_outbox(
    configured: Candor, clock: ManualClock
) -> None:
    cx = configured
    confirms, ignores = add_contact(cx, 1), add_contact(cx, 2)
    doi = {
        "id": "confirm",
        "type": "opt_in",
        "channel": "email",
        "template": "doi_mail",
        "timeout": "P7D",
        "on_timeout": "late",
    }
    welcome = {**INVITE, "id": "welcome", "theme": "weekly"}
    start(cx, [doi, welcome, *ends("done", "late")], purpose="newsletter")
    run(cx)
    confirmations = {m["contact_id"]: m for m in messages(cx) if m["kind"] == "confirmation"}
    assert set(confirmations) == {confirms, ignores}
    assert all(m["theme"] is None for m in confirmations.values())
    assert decide(cx, confirms, "newsletter", "email", "weekly") == "doi_pending"

    clock.advance(timedelta(hours=1))
    with cx.engine.begin() as conn:
        confirm_doi(
            conn,
            cx.vault,
            confirmations[confirms]["context"]["doi_token"],
            {"ip": "203.0.113.9"},
            actor="subject",
            at=cx.clock.now(),
        )
    run(cx)
    assert positions(cx)[confirms] == ("done", "done")
    welcome_rows = [m for m in messages(cx) if m["step_id"] == "welcome"]
    assert [m["contact_id"] for m in welcome_rows] == [confirms]
    assert welcome_rows[0]["decision_reason"] == "allowed"
    clock.advance(timedelta(days=7))
    run(cx)
    assert positions(cx)[ignores] == ("late", "done")
    assert stats(cx)[("confirm", "confirmed")] == 1


def test_set_advertising_block_then_advertising_block_takes_on_blocked(configured: Candor) -> None:
    cx = configured
    asker, other = add_contact(cx, 1, attributes={"vip": True}), add_contact(cx, 2)
    with cx.engine.begin() as conn:
        inbound = record_communication(
            conn,
            cx.vault,
            asker,
            channel="email",
            direction="in",
            content_ref="reply:no more events",
            actor="test",
            at=cx.clock.now(),
        )
    setter = [
        {
            "id": "stop_ads",
            "type": "set_advertising_block",
            "channel": "email",
            "theme": "events",
            "reason": "asked by reply",
        },
        {"id": "done", "type": "end"},
    ]
    start(
        cx, setter, id="blocker", target={"field": "vip", "op": "eq", "value": True}, fields=["vip"]
    )
    run(cx)
    with reading(cx.engine) as conn:
        rows = conn.execute(select(blocks)).mappings().all()
    assert [
        (r["contact_id"], r["kind"], r["channel"], r["theme"], r["source"], r["communication_id"])
        for r in rows
    ] == [(asker, "theme", "email", "events", "journey", inbound)]
    check = {
        "id": "check",
        "type": "advertising_block",
        "channel": "email",
        "theme": "events",
        "on_blocked": "no",
    }
    start(cx, [check, {**INVITE, "next": "done"}, *ends("done", "no")])
    run(cx)
    assert positions(cx)[asker] == ("no", "done")
    assert positions(cx)[other] == ("done", "done")
    assert stats(cx)[("check", "blocked:theme")] == 1


def test_store_writes_profile_attributes(configured: Candor) -> None:
    cx = configured
    cid = add_contact(cx, 1, attributes={"interests": "golf"})
    store = {
        "id": "keep",
        "type": "store",
        "values": {"interests": {"data": "country"}, "vip": True},
    }
    start(cx, [store, {"id": "done", "type": "end"}], fields=["country", "interests", "vip"])
    run(cx)
    with reading(cx.engine) as conn:
        attrs = conn.execute(select(contacts.c.attributes).where(contacts.c.id == cid)).scalar_one()
    assert attrs == {"country": "DE", "customer_value": 150.0, "interests": "DE", "vip": True}
    assert stats(cx)[("keep", "stored")] == 1


def test_opt_out_withdraws_on_the_channel_only(configured: Candor) -> None:
    cx = configured
    cid = add_contact(cx, 1, sms=True)
    consent(cx, cid, "events")
    start(cx, [{"id": "out", "type": "opt_out", "channel": "sms"}, {"id": "done", "type": "end"}])
    run(cx)
    assert decide(cx, cid, "events", "sms", "events") == "withdrawn"
    assert decide(cx, cid, "events", "email", "events") == "allowed"


def test_inform_asks_again_after_a_material_change(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    old, fresh = add_contact(cx, 1), add_contact(cx, 2)
    consent(cx, old, "events")
    config = load_config_file(__import__("pathlib").Path(FIXTURES_CONFIG))
    for purpose in config.purposes:
        if purpose.id == "events":
            purpose.wording += " Now also by post."
            purpose.reconsent = True
    clock.advance(timedelta(days=1))
    with cx.engine.begin() as conn:
        apply_config(conn, config, actor="test", at=cx.clock.now())
    consent(cx, fresh, "events")  # given to the new version
    inform = {
        "id": "tell",
        "type": "inform",
        "channel": "email",
        "template": "notice_mail",
        "timeout": "P30D",
        "on_refused": "no",
        "on_timeout": "late",
    }
    start(cx, [inform, INVITE, *ENDS])
    run(cx)
    assert positions(cx)[old] == ("tell", "waiting")
    assert positions(cx)[fresh] == ("done", "done")
    assert [(m["contact_id"], m["kind"]) for m in messages(cx) if m["step_id"] == "tell"] == [
        (old, "consent_request")
    ]
    clock.advance(timedelta(days=2))
    consent(cx, old, "events")
    run(cx)
    assert positions(cx)[old] == ("done", "done")


def test_wait_for_a_click_then_branch(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    clicker, idle = add_contact(cx, 1, attributes={"customer_value": 900.0}), add_contact(cx, 2)
    for cid in (clicker, idle):
        consent(cx, cid, "events")
    steps = [
        {**INVITE, "next": "wait_click"},
        {
            "id": "wait_click",
            "type": "wait",
            "event": "click",
            "timeout": "P7D",
            "on_timeout": "route",
        },
        {
            "id": "route",
            "type": "branch",
            "default": "no",
            "cases": [
                {"when": {"event": "clicked", "step": "invite"}, "next": "done"},
                {"when": {"field": "customer_value", "op": "gt", "value": 500}, "next": "late"},
            ],
        },
        *ENDS,
    ]
    start(cx, steps)
    run(cx)
    assert positions(cx)[clicker] == ("wait_click", "waiting")
    clock.advance(timedelta(hours=3))
    with cx.engine.begin() as conn:
        record_communication(
            conn,
            cx.vault,
            clicker,
            channel="email",
            direction="in",
            content_ref="click:promo:invite",
            actor="test",
            at=cx.clock.now(),
        )
    run(cx)
    assert positions(cx)[clicker] == ("done", "done")
    assert positions(cx)[idle] == ("wait_click", "waiting")
    clock.advance(timedelta(days=7))
    run(cx)
    assert positions(cx)[idle] == ("no", "done")
    figures = stats(cx)
    assert figures[("route", "case:done")] == 1 and figures[("route", "default")] == 1
    assert figures[("wait_click", "timeout")] == 1


def test_expired_contacts_exit(configured: Candor, clock: ManualClock) -> None:
    cx = configured
    cid = add_contact(cx, 1)
    start(
        cx,
        [{"id": "hold", "type": "wait", "duration": "P30D"}, {"id": "done", "type": "end"}],
        expires_after="P10D",
    )
    run(cx)
    clock.advance(timedelta(days=10))
    run(cx)
    assert positions(cx)[cid] == ("hold", "exited")
    assert stats(cx)[("hold", "expired")] == 1


def test_without_expires_after_no_stay_is_looked_up(configured: Candor, clock: ManualClock) -> None:
    """Only launch sets expires_at; a journey without expiry skips the look for run-out stays."""
    cx = configured
    cid = add_contact(cx, 1)
    steps = [{"id": "hold", "type": "wait", "duration": "P30D"}, {"id": "done", "type": "end"}]
    start(cx, steps, expires_after=None)
    looks: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "expires_at <=" in statement:
            looks.append(statement)

    clock.advance(timedelta(days=400))
    event.listen(cx.engine, "before_cursor_execute", seen)
    try:
        run(cx)
    finally:
        event.remove(cx.engine, "before_cursor_execute", seen)
    assert positions(cx)[cid] == ("done", "done")
    assert looks == []
