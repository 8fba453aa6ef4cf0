"""Field rules shared by the API, the pages and connectors' events."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from candor.core.text_checks import Ident, Language, TimeZone


class Sample(BaseModel):
    ident: Ident = "x"
    timezone: TimeZone = "UTC"
    language: Language = "en"


def test_good_values_pass() -> None:
    sample = Sample(ident="weekly", timezone="Europe/Berlin", language="de-DE")
    assert (sample.ident, sample.timezone, sample.language) == ("weekly", "Europe/Berlin", "de-DE")


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("ident", "a\x00b", "NUL"),
        ("ident", "", "at least 1"),
        ("timezone", "Mars/Olympus", "IANA time zone"),
        ("timezone", "../../etc/passwd", "IANA time zone"),
        ("language", "english!", "pattern"),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Sample(**{field: value})
    (error,) = refused.value.errors()
    assert error["loc"] == (field,) and problem in error["msg"]
