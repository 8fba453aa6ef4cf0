"""ISO 8601 durations (P2Y, P1M, PT12H) with calendar arithmetic, parsed by isodate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeAlias

import isodate

DurationLike: TypeAlias = "timedelta | isodate.Duration"


def parse_duration(text: str) -> DurationLike:
    """Parse an ISO 8601 duration or raise ValueError naming the problem."""
    if not isinstance(text, str) or not text.startswith("P"):
        raise ValueError("must be an ISO 8601 duration such as P30D, P2Y or PT12H")
    try:
        value = isodate.parse_duration(text)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ValueError("must be an ISO 8601 duration such as P30D, P2Y or PT12H") from exc
    if _is_negative_or_zero(value):
        raise ValueError("must be a positive duration")
    return value


def _is_negative_or_zero(value: DurationLike) -> bool:
    probe = datetime(2000, 1, 1)
    return probe + value <= probe


def add(moment: datetime, duration: DurationLike) -> datetime:
    """moment + duration, months and years by the calendar."""
    result: datetime = moment + duration
    return result


def subtract(moment: datetime, duration: DurationLike) -> datetime:
    """moment - duration, months and years by the calendar."""
    result = moment - duration
    assert isinstance(result, datetime)
    return result
