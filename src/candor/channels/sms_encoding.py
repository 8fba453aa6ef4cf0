"""SMS encoding and segments: GSM-7 when every character is in the GSM 03.38 alphabet.

GSM-7 carries 160 septets in one message, 153 per part of a concatenated one (the header
takes 7); characters of the extension table take two septets. Anything else is sent as
UCS-2: 70 UTF-16 code units, 67 per part. Computed before sending and stored with the
communication, so the cost of a message is known before it leaves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
_SINGLE = {"gsm7": 160, "ucs2": 70}
_PART = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True, slots=True)
class SmsShape:
    """How a text travels: its encoding, its length in units and how many segments."""

    encoding: Encoding
    units: int
    segments: int


def sms_shape(text: str) -> SmsShape:
    """The encoding, length (septets or UTF-16 code units) and segment count of `text`."""
    septets = 0
    for char in text:
        if char in GSM7_BASIC:
            septets += 1
        elif char in GSM7_EXTENSION:
            septets += 2
        else:
            units = len(text.encode("utf-16-le")) // 2
            return SmsShape("ucs2", units, _segments("ucs2", units))
    return SmsShape("gsm7", septets, _segments("gsm7", septets))


def _segments(encoding: Encoding, units: int) -> int:
    """One segment up to the single-message limit, else ceil(units / per-part capacity).

    A GSM-7 extension character is never split across parts by real encoders; this count
    follows the plain arithmetic that providers bill by.
    """
    if units <= _SINGLE[encoding]:
        return 1
    part = _PART[encoding]
    return -(-units // part)
