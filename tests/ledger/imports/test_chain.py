"""The import's templated event hash is chain.event_hash, for any field values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from candor.ledger.chain import HASHED_FIELDS, event_hash
from candor.ledger.imports.chain import EVENT_COLUMNS, canonical_time, event_template, hash_event

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)
aware = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=zones
)
texts = st.text(max_size=20)  # quotes, backslashes, %, control characters, any Unicode
hexes = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64) | st.just("")


@settings(max_examples=500, deadline=None)
@given(
    contact_id=st.integers(min_value=1, max_value=2**62),
    seq=st.integers(min_value=1, max_value=10_000),
    purpose_id=texts,
    purpose_version=st.integers(min_value=0, max_value=2**31),
    theme=st.none() | texts,
    channel=st.none() | texts,
    status=texts,
    source=texts,
    occurred_at=aware,
    recorded_at=aware,
    evidence=st.binary(max_size=80),
    prev_hash=hexes | texts,
)
def test_templated_hash_equals_event_hash(
    contact_id: int,
    seq: int,
    purpose_id: str,
    purpose_version: int,
    theme: str | None,
    channel: str | None,
    status: str,
    source: str,
    occurred_at: datetime,
    recorded_at: datetime,
    evidence: bytes,
    prev_hash: str,
) -> None:
    event = {
        "contact_id": contact_id,
        "seq": seq,
        "purpose_id": purpose_id,
        "purpose_version": purpose_version,
        "theme": theme,
        "channel": channel,
        "address_id": None,
        "status": status,
        "source": source,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "evidence": evidence,
        "communication_id": None,
        "confirms_event_id": None,
        "prev_hash": prev_hash,
    }
    template = event_template(
        purpose_id=purpose_id,
        purpose_version=purpose_version,
        theme=theme,
        channel=channel,
        recorded_at=recorded_at,
    )
    occurred = f'"{canonical_time(occurred_at)}"'
    got = hash_event(template, contact_id, evidence, occurred, prev_hash, seq, source, status)
    assert got == event_hash(event)


def test_the_template_covers_every_hashed_field() -> None:
    template = event_template(
        purpose_id="p",
        purpose_version=1,
        theme=None,
        channel="email",
        recorded_at=datetime.now(UTC),
    )
    assert all(f'"{name}":' in template for name in HASHED_FIELDS)
    assert set(EVENT_COLUMNS) >= set(HASHED_FIELDS) - {
        "address_id",
        "communication_id",
        "confirms_event_id",
    }


def test_naive_times_are_taken_as_utc_like_event_hash() -> None:
    naive = datetime(2026, 1, 5, 9, 58)
    assert canonical_time(naive) == "2026-01-05T09:58:00"
    assert canonical_time(naive.replace(tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-01-05T08:58:00"
    )
