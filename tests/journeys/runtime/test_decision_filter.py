"""`{decision: {purpose, reason}}` in a target: the twin's answer, proven against decide()."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from candor.core.context import Candor
from candor.journeys import load_journey
from candor.journeys.definition import DecisionCondition
from candor.journeys.definition import DecisionTest as DecisionQuery
from candor.journeys.runtime import launch, run_until_idle
from candor.journeys.runtime.filters import target_select
from candor.journeys.runtime.target_lookups import target_lookups
from candor.ledger.blocks import set_block
from candor.ledger.config import apply_config, load_config_file
from candor.ledger.consents import confirm_doi
from candor.ledger.registry import purpose_facts
from candor.policy.facts import ThemeRef
from candor.policy.load import decide_for
from candor.rights.restriction import object_contact
from candor.store.engine import reading
from candor.store.tables import contacts
from tests.conftest import FIXTURES

from .helpers import add_contact, consent, messages
from .triggered import members

EXAMPLE = Path(__file__).parents[3] / "examples" / "journeys" / "reconsent.yaml"


def _ledger(cx: Candor) -> dict[str, int]:
    """People in every state the newsletter gate knows; the wording then changes materially."""
    people = {name: add_contact(cx, n) for n, name in enumerate(
        ["never", "confirmed", "pending", "withdrawn", "old", "objected", "blocked", "weekly"]
    )}  # fmt: skip
    for name in ("confirmed", "withdrawn", "old", "objected", "blocked"):
        token = consent(cx, people[name], "newsletter", channel="email").confirmation_token
        with cx.engine.begin() as conn:
            confirm_doi(conn, cx.vault, token, {}, actor="t", at=cx.clock.now())
    consent(cx, people["pending"], "newsletter", channel="email")
    consent(cx, people["withdrawn"], "newsletter", status="withdrawn")
    token = consent(cx, people["weekly"], "newsletter", channel="email", theme="weekly")
    with cx.engine.begin() as conn:
        confirm_doi(conn, cx.vault, token.confirmation_token, {}, actor="t", at=cx.clock.now())
        object_contact(conn, people["objected"], actor="t", at=cx.clock.now())
        set_block(conn, cx.vault, people["blocked"], reason="asked", source="api", actor="t",
                  at=cx.clock.now())  # fmt: skip
    cx.clock.advance(timedelta(days=1))
    config = load_config_file(FIXTURES / "candor.yaml")
    for purpose in config.purposes:
        if purpose.id == "newsletter":
            purpose.wording += " Now with partner offers."
            purpose.reconsent = True
    with cx.engine.begin() as conn:
        apply_config(conn, config, actor="t", at=cx.clock.now())
    token = consent(cx, people["confirmed"], "newsletter", channel="email").confirmation_token
    with cx.engine.begin() as conn:
        confirm_doi(conn, cx.vault, token, {}, actor="t", at=cx.clock.now())
    return people


@pytest.mark.parametrize("theme", [None, "weekly"])
def test_the_filter_selects_exactly_whom_decide_gives_the_reason(
    configured: Candor, theme: str | None
) -> None:
    cx = configured
    _ledger(cx)
    now = cx.clock.now()
    with reading(cx.engine) as conn:
        facts = purpose_facts(conn, "newsletter")
        ids = list(conn.execute(select(contacts.c.id)).scalars())
        ref = ThemeRef(theme, "newsletters") if theme else None
        expected: dict[str, set[int]] = {}
        for cid in ids:
            reason = decide_for(conn, cid, facts, "email", None, ref, now).reason
            expected.setdefault(reason, set()).add(cid)
        assert {"allowed", "not_asked", "doi_pending", "withdrawn", "objected",
                "blocked:all", "reconsent_required"} <= set(expected)  # fmt: skip
        for reason, people in expected.items():
            query = DecisionQuery(purpose="newsletter", reason=reason, channel="email", theme=theme)
            target = target_select(DecisionCondition(decision=query), {}, target_lookups(conn, now))
            assert target is not None
            assert set(conn.execute(target).scalars()) == people, reason


def test_the_reconsent_example_enrols_exactly_those_who_need_it(configured: Candor) -> None:
    cx = configured
    people = _ledger(cx)
    defn = load_journey(EXAMPLE.read_text(), EXAMPLE.name)
    report = launch(cx, defn, actor="test")
    run_until_idle(cx)
    # `weekly` agreed to one theme only: the gate asks about no theme here, as `inform` does
    assert set(members(cx, defn.id)) == {people["old"]}
    assert report.entered == 1
    assert [m["contact_id"] for m in messages(cx, defn.id)] == [people["old"]]
