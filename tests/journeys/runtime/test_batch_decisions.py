"""A batch reuses the gate's decisions only while no step wrote what decide() reads."""

from __future__ import annotations

from typing import Any

import pytest

from candor.core.context import Candor
from candor.journeys.runtime import step_support as common

from .helpers import add_contact, ask_step, consent, messages, positions, run, start, stats

ASK = ask_step()
SEND = {
    "id": "invite",
    "type": "send",
    "channel": "email",
    "template": "promo_mail",
    "theme": "events",
    "on_denied": "no",
}
ENDS = [{"id": "done", "type": "end"}, {"id": "no", "type": "end"}]


@pytest.fixture
def twin_questions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str | None, int]]:
    """Each time the runtime asks the SQL twin: (channel, how many contacts)."""
    asked: list[tuple[str | None, int]] = []
    real = common._ask_twin

    def counting(ctx: Any, facts: Any, channel: Any, theme: Any, ids: list[int]) -> Any:
        asked.append((channel, len(ids)))
        return real(ctx, facts, channel, theme, ids)

    monkeypatch.setattr(common, "_ask_twin", counting)
    return asked


def test_a_send_after_its_consent_step_asks_the_twin_once(
    configured: Candor, twin_questions: list[tuple[str | None, int]]
) -> None:
    cx = configured
    people = [add_contact(cx, n) for n in range(1, 4)]
    for person in people:
        consent(cx, person, "events", theme="events", channel="email")
    start(cx, [ASK, {**SEND, "next": "done"}, *ENDS])
    run(cx)
    assert twin_questions == [("email", 3)]
    sent = messages(cx)
    assert sorted(m["contact_id"] for m in sent) == people
    assert all(m["decision_reason"] == "allowed" and m["decision_event_id"] for m in sent)
    assert all(m["address_id"] is not None for m in sent)
    assert {positions(cx)[p] for p in people} == {("done", "done")}


def test_a_block_set_between_consent_and_send_is_honoured(
    configured: Candor, twin_questions: list[tuple[str | None, int]]
) -> None:
    cx = configured
    person = add_contact(cx, 1)
    consent(cx, person, "events", theme="events", channel="email")
    stop_ads = {
        "id": "stop_ads",
        "type": "set_advertising_block",
        "channel": "email",
        "theme": "events",
        "reason": "asked by reply",
    }
    start(cx, [ASK, stop_ads, {**SEND, "next": "done"}, *ENDS])
    run(cx)
    assert messages(cx) == []
    assert positions(cx)[person] == ("no", "done")
    assert stats(cx)[("invite", "blocked:theme")] == 1
    # The consent step's decision was not reused: the send asked again after the block.
    assert [channel for channel, _ in twin_questions].count("email") >= 2


def test_a_send_on_another_theme_decides_afresh(
    configured: Candor, twin_questions: list[tuple[str | None, int]]
) -> None:
    cx = configured
    person = add_contact(cx, 1)
    consent(cx, person, "events", theme="events", channel="email")
    other_theme = {**SEND, "theme": "surveys", "next": "done"}
    start(cx, [ASK, other_theme, *ENDS])
    run(cx)
    assert len(twin_questions) == 2
    assert messages(cx) == []
    assert positions(cx)[person] == ("no", "done")
