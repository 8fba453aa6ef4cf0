"""Inbound SMS/WhatsApp keywords: recognise STOP (opt-out) and START (opt back in) replies.

Keywords match the whole trimmed message or its first word, case-insensitively. A STOP word of
any configured language is honoured (an opt-out must never be missed); START must match the
message's language, or any language when it is unknown.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InboundKind = Literal["stop", "start", "none"]
_PUNCTUATION = ".,;:!?¡¿\"'()[]«»„“”‘’*-_"


class LanguageKeywords(BaseModel):
    """The STOP and START keywords of one language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop: list[str] = Field(default_factory=list)
    start: list[str] = Field(default_factory=list)


DEFAULT_KEYWORDS: dict[str, LanguageKeywords] = {
    "en": LanguageKeywords(
        stop=["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
        start=["START", "UNSTOP", "SUBSCRIBE"],
    ),
    "de": LanguageKeywords(
        stop=["STOP", "STOPP", "ABMELDEN", "ABBESTELLEN"],
        start=["START", "ANMELDEN"],
    ),
}


class KeywordConfig(BaseModel):
    """Per-language keyword overrides (from candor.yaml); a language given replaces its default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    languages: dict[str, LanguageKeywords] = Field(default_factory=dict)

    def effective(self) -> dict[str, LanguageKeywords]:
        """Defaults merged with the overrides, keyed by lower-case primary language subtag."""
        merged = dict(DEFAULT_KEYWORDS)
        merged.update({_primary(lang): kw for lang, kw in self.languages.items()})
        return merged


def _primary(language: str) -> str:
    """The primary subtag of a language tag: 'de-AT' and 'de_AT' become 'de'."""
    return language.replace("_", "-").split("-", 1)[0].strip().lower()


def _normalise(text: str) -> str:
    """Compatibility-normalised, case-folded, whitespace-collapsed text."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _candidates(text: str) -> set[str]:
    """What may be a keyword: the whole message and its first word, without punctuation."""
    whole = _normalise(text).strip(_PUNCTUATION + " ")
    if not whole:
        return set()
    first = whole.split(" ", 1)[0].strip(_PUNCTUATION)
    return {whole, first}


def _words(words: list[str]) -> set[str]:
    """The normalised form of configured keywords."""
    return {_normalise(word) for word in words if word.strip()}


def classify_inbound(
    text: str, language: str | None, keywords: KeywordConfig | None = None
) -> InboundKind:
    """Classify an inbound message as a STOP or START keyword, or neither."""
    candidates = _candidates(text)
    if not candidates:
        return "none"
    table = (keywords or KeywordConfig()).effective()
    stop: set[str] = set()
    for entry in table.values():
        stop |= _words(entry.stop)
    if candidates & stop:
        return "stop"
    lang = _primary(language) if language else None
    chosen = [table[lang]] if lang in table else list(table.values())
    start: set[str] = set()
    for entry in chosen:
        start |= _words(entry.start)
    return "start" if candidates & start else "none"
