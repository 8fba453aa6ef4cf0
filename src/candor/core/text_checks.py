"""Field rules shared by every way input arrives (the API, pages, connectors' events).

PostgreSQL text cannot hold NUL and a time zone must be one the clock code can load: both
are refused while the input is checked (a 4xx naming the field), never in the driver.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, StringConstraints


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known IANA time zone") from None
    return value


NoNul = AfterValidator(no_nul)
Ident = Annotated[str, StringConstraints(min_length=1, max_length=64), NoNul]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})?$")]
Name = Annotated[str, StringConstraints(max_length=200), NoNul]
TimeZone = Annotated[str, StringConstraints(max_length=64), AfterValidator(known_timezone)]
