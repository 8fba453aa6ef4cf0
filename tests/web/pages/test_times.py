"""Times on team pages: readable, in the member's zone; anything else passes unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from candor.web.pages.times import readable


def test_moments_read_in_the_members_zone_with_its_abbreviation() -> None:
    winter = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    assert readable(winter, "Europe/Berlin") == "2 Mar 2026, 10:05 CET"
    assert readable("2026-07-02T09:05:00+00:00", "Europe/Berlin") == "2 Jul 2026, 11:05 CEST"
    assert readable("2026-07-02T09:05:00", "America/New_York") == "2 Jul 2026, 05:05 EDT"
    assert readable(winter, "UTC", "date") == "2 Mar 2026"
    assert readable(winter, "Not/AZone") == "2 Mar 2026, 09:05 UTC"


def test_values_that_are_not_moments_pass_unchanged() -> None:
    for value in ("phone call", "2026", "203.0.113.9", "2026-13-45T99:99", 42):
        assert readable(value, "Europe/Berlin") == str(value)
    assert readable(None, "UTC") == ""
