"""Consent ledger: evidence, double opt-in tokens, the projection and the hash chain."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from candor.core.context import Candor
from candor.core.errors import Conflict, InvalidInput
from candor.ledger.chain import verify_ledger
from candor.ledger.consents import ConsentInput, confirm_doi, consent_history, record_consent
from candor.ledger.contacts import NewAddress, NewContact, create_contact
from candor.ledger.registry import purpose_facts, theme_ref
from candor.policy.load import decide_for
from candor.store.tables import consent_events, ledger_heads


def contact(cx: Candor) -> int:
    with cx.engine.begin() as conn:
        return create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id="p",
                addresses=[
                    NewAddress("email", "p@example.org"),
                    NewAddress("sms", "+4917112345678"),
                ],
            ),
            actor="t",
            at=cx.clock.now(),
        )


def consent(cx: Candor, cid: int, **kw: object) -> object:
    data = ConsentInput(**{"purpose": "newsletter", "status": "granted", "source": "form", **kw})  # type: ignore[arg-type]
    with cx.engine.begin() as conn:
        return record_consent(conn, cx.vault, cid, data, actor="t", at=cx.clock.now())


def decision(
    cx: Candor, cid: int, channel: str, purpose: str = "newsletter", theme: str | None = "weekly"
) -> str:
    with cx.engine.connect() as conn:
        return decide_for(
            conn,
            cid,
            purpose_facts(conn, purpose),
            channel,
            None,
            theme_ref(conn, theme),
            cx.clock.now(),
        ).reason


def test_double_opt_in_round_trip_with_evidence(configured: Candor) -> None:
    cx = configured
    cid = contact(cx)
    recorded = consent(cx, cid, channel="email", evidence={"ip": "198.51.100.7", "form": "signup"})
    assert recorded.event["status"] == "pending" and recorded.confirmation_token  # type: ignore[attr-defined]
    cx.clock.advance(timedelta(minutes=5))
    assert decision(cx, cid, "email") == "doi_pending"
    with cx.engine.begin() as conn:
        confirm_doi(
            conn,
            cx.vault,
            recorded.confirmation_token,
            {"ip": "198.51.100.8"},
            actor="web",  # type: ignore[attr-defined]
            at=cx.clock.now(),
        )
    cx.clock.advance(timedelta(seconds=1))
    assert decision(cx, cid, "email") == "allowed"
    with cx.engine.begin() as conn, pytest.raises(Conflict):
        confirm_doi(conn, cx.vault, recorded.confirmation_token, {}, actor="web", at=cx.clock.now())  # type: ignore[attr-defined]
    with cx.engine.connect() as conn:
        history = consent_history(conn, cx.vault, cid)
    assert [e["status"] for e in history] == ["pending", "confirmed"]
    assert history[0]["evidence"] == {"form": "signup", "ip": "198.51.100.7"}
    assert history[1]["confirms_event_id"] == history[0]["id"]


def test_expired_or_forged_tokens_are_refused(configured: Candor) -> None:
    cx = configured
    cid = contact(cx)
    token = consent(cx, cid, channel="email").confirmation_token  # type: ignore[attr-defined]
    cx.clock.advance(timedelta(days=8))
    with cx.engine.begin() as conn, pytest.raises(InvalidInput, match="expired"):
        confirm_doi(conn, cx.vault, token, {}, actor="web", at=cx.clock.now())
    with cx.engine.begin() as conn, pytest.raises(InvalidInput, match="signature"):
        confirm_doi(conn, cx.vault, token[:-3] + "AAA", {}, actor="web", at=cx.clock.now())


def test_withdrawal_on_one_channel_leaves_the_others(configured: Candor) -> None:
    cx = configured
    cid = contact(cx)
    consent(cx, cid, purpose="events", channel=None)
    cx.clock.advance(timedelta(seconds=1))
    consent(cx, cid, purpose="events", status="withdrawn", channel="sms")
    cx.clock.advance(timedelta(seconds=1))
    assert decision(cx, cid, "email", "events", "events") == "allowed"
    assert decision(cx, cid, "sms", "events", "events") == "withdrawn"
    consent(cx, cid, purpose="events")
    cx.clock.advance(timedelta(seconds=1))
    assert decision(cx, cid, "sms", "events", "events") == "allowed"


def test_bad_consent_input_names_the_field(configured: Candor) -> None:
    cx = configured
    cid = contact(cx)
    for kw, field in (
        ({"purpose": "nope"}, "purpose"),
        ({"status": "maybe"}, "status"),
        ({"theme": "nope"}, "theme"),
        ({"channel": "email", "address": "x@example.org"}, "address"),
    ):
        with pytest.raises(InvalidInput) as caught:
            consent(cx, cid, **kw)
        assert caught.value.field == field


def test_verify_detects_altered_and_removed_events(configured: Candor) -> None:
    cx = configured
    cid = contact(cx)
    for status in ("granted", "withdrawn", "granted"):
        consent(cx, cid, purpose="events", status=status)
    with cx.engine.connect() as conn:
        assert list(verify_ledger(conn)) == []
        ids = list(
            conn.execute(select(consent_events.c.id).order_by(consent_events.c.id)).scalars()
        )
    with cx.engine.begin() as conn:
        conn.execute(
            update(consent_events).where(consent_events.c.id == ids[1]).values(status="granted")
        )
    with cx.engine.connect() as conn:
        bad = list(verify_ledger(conn))
    assert bad[0].event_id == ids[1] and "hash" in bad[0].problem
    with cx.engine.begin() as conn:
        conn.execute(
            update(consent_events).where(consent_events.c.id == ids[1]).values(status="withdrawn")
        )
        conn.execute(consent_events.delete().where(consent_events.c.id == ids[2]))
    with cx.engine.connect() as conn:
        bad = list(verify_ledger(conn))
        assert bad and "newest events missing" in bad[0].problem
        assert conn.execute(select(ledger_heads.c.event_count)).scalar() == 3


def test_verify_names_events_of_a_contact_that_does_not_exist(configured: Candor) -> None:
    """The ledger has no foreign key to contacts (migration 0014): verify checks instead."""
    cx = configured
    cid = contact(cx)
    consent(cx, cid, purpose="events")
    missing = cid + 1000
    with cx.engine.begin() as conn:
        conn.execute(update(consent_events).values(contact_id=missing))
        conn.execute(update(ledger_heads).values(contact_id=missing))
    with cx.engine.connect() as conn:
        bad = list(verify_ledger(conn))
    assert [(b.contact_id, b.problem) for b in bad][:1] == [
        (missing, "names a contact that does not exist")
    ]


def test_verify_merges_heads_in_contact_order_and_names_chains_with_every_event_gone(
    configured: Candor,
) -> None:
    """Heads are read alongside the events (flat memory): a chain whose events all went is
    named wherever it falls, before, between or after the chains that are whole."""
    cx = configured
    people = []
    for i in range(5):
        with cx.engine.begin() as conn:
            new = NewContact(external_id=f"m{i}", addresses=[NewAddress("email", f"m{i}@x.org")])
            people.append(create_contact(conn, cx.vault, new, actor="t", at=cx.clock.now()))
    for person in people:
        consent(cx, person, purpose="events")
    gone = [people[0], people[2], people[4]]
    with cx.engine.begin() as conn:
        conn.execute(consent_events.delete().where(consent_events.c.contact_id.in_(gone)))
        conn.execute(ledger_heads.delete().where(ledger_heads.c.contact_id == people[3]))
    with cx.engine.connect() as conn:
        bad = [(b.contact_id, b.problem) for b in verify_ledger(conn)]
    assert sorted(bad) == sorted(
        [(p, "all 1 events of the chain are missing") for p in gone]
        + [(people[3], "chain has no head record")]
    )
