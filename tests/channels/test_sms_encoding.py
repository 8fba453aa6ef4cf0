"""GSM-7 versus UCS-2 and the segment count of an SMS."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from candor.channels.sms_encoding import GSM7_BASIC, GSM7_EXTENSION, sms_shape


def test_plain_text_is_gsm7_in_one_segment() -> None:
    shape = sms_shape("Hello Ada, your order shipped. Reply STOP to opt out.")
    assert (shape.encoding, shape.segments) == ("gsm7", 1)


def test_160_gsm_characters_fit_one_segment_and_161_need_two() -> None:
    assert sms_shape("a" * 160).segments == 1
    assert sms_shape("a" * 161).segments == 2
    assert sms_shape("a" * 306).segments == 2
    assert sms_shape("a" * 307).segments == 3


def test_extension_characters_count_twice() -> None:
    shape = sms_shape("€" * 80)
    assert (shape.encoding, shape.units, shape.segments) == ("gsm7", 160, 1)
    assert sms_shape("€" * 81).segments == 2


def test_german_umlauts_stay_gsm7_but_other_accents_need_ucs2() -> None:
    assert sms_shape("Grüße aus Köln").encoding == "gsm7"
    assert sms_shape("Crème brûlée").encoding == "ucs2"


def test_ucs2_holds_70_then_67_per_part() -> None:
    assert sms_shape("ł" * 70).segments == 1
    assert sms_shape("ł" * 71).segments == 2
    assert sms_shape("ł" * 134).segments == 2
    assert sms_shape("ł" * 135).segments == 3


def test_an_emoji_takes_two_utf16_units() -> None:
    shape = sms_shape("🙂" * 35)
    assert (shape.encoding, shape.units, shape.segments) == ("ucs2", 70, 1)


@given(st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=500))
def test_any_gsm_text_counts_septets(text: str) -> None:
    shape = sms_shape(text)
    septets = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    assert shape.encoding == "gsm7" and shape.units == septets
    assert shape.segments == (1 if septets <= 160 else -(-septets // 153))
