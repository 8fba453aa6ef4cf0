"""The access copy's fast paths: timestamps as isoformat writes them, and the GC pause."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

from candor.core.context import Candor
from candor.ledger.communications import record_communication
from candor.ledger.consents import ConsentInput, record_consent
from candor.rights.access import compile_access_copy
from candor.rights.bulk import gc_paused
from candor.store.engine import reading

PRECISE = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=UTC)  # 89 microseconds
WHOLE = datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC)


def test_copy_timestamps_are_isoformat_with_and_without_fraction(
    configured: Candor, alice: int
) -> None:
    with configured.engine.begin() as conn:
        for when in (PRECISE, WHOLE):
            record_communication(
                conn,
                configured.vault,
                alice,
                channel="email",
                direction="out",
                content_ref=f"m-{when.second}",
                occurred_at=when,
                actor="t",
                at=when,
            )
            record_consent(
                conn,
                configured.vault,
                alice,
                ConsentInput(purpose="events", status="granted", source="form", occurred_at=when),
                actor="t",
                at=WHOLE,
            )
    with reading(configured.engine) as conn:
        copy = compile_access_copy(conn, configured.vault, alice, at=WHOLE)
    sent = {c["content_ref"]: c["occurred_at"] for c in copy["communications"]}
    assert sent["m-7"] == PRECISE.isoformat() == "2025-03-04T05:06:07.000089+00:00"
    assert sent["m-8"] == WHOLE.isoformat() == "2025-03-04T05:06:08+00:00"
    events = copy["consents"][-2:]
    assert [e["occurred_at"] for e in events] == [PRECISE.isoformat(), WHOLE.isoformat()]
    assert [e["recorded_at"] for e in events] == [WHOLE.isoformat()] * 2


def test_gc_pause_nests_and_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
