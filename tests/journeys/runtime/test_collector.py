"""The cyclic collector runs less often while batches are walked, and is restored after."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest
from sqlalchemy import event

from candor.core.context import Candor
from candor.journeys.runtime.collector import YOUNG_THRESHOLD, fewer_collections

from .helpers import add_contact, consent, run, start

FLOW = [
    {"id": "invite", "type": "send", "channel": "email", "template": "promo_mail"},
    {"id": "done", "type": "end"},
]


def test_the_threshold_is_raised_inside_and_restored_after_even_on_error() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        assert gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("batch failed")
    assert gc.get_threshold() == before


def test_overlapping_blocks_restore_only_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other_batch() -> None:
        with fewer_collections():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_batch)
    with fewer_collections():
        thread.start()
        assert inside.wait(5)
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD  # the other batch still runs
    release.set()
    thread.join(5)
    assert gc.get_threshold() == before


def test_a_worker_walks_its_batches_with_fewer_collections(configured: Candor) -> None:
    cx = configured
    people = [add_contact(cx, n) for n in range(3)]
    for person in people:
        consent(cx, person, "newsletter")
    start(cx, FLOW, purpose="newsletter")
    seen: list[int] = []

    def threshold(*_: Any) -> None:
        seen.append(gc.get_threshold()[0])

    before = gc.get_threshold()
    event.listen(cx.engine, "before_cursor_execute", threshold)
    try:
        assert run(cx) > 0
    finally:
        event.remove(cx.engine, "before_cursor_execute", threshold)
    assert seen and max(seen) >= YOUNG_THRESHOLD  # the batches' statements ran inside
    assert gc.get_threshold() == before
