"""Inbound keyword classification in English and German, with configurable overrides."""

from __future__ import annotations

import pytest

from candor.channels.keywords import KeywordConfig, LanguageKeywords, classify_inbound


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("STOP", "en", "stop"),
        ("  stop  ", "en", "stop"),
        ("Stop.", "en", "stop"),
        ("unsubscribe", "en", "stop"),
        ("Cancel please", "en", "stop"),
        ("END", "en", "stop"),
        ("quit!", "en", "stop"),
        ("START", "en", "start"),
        ("unstop", "en", "start"),
        ("Subscribe me again", "en", "start"),
        ("Thanks, see you", "en", "none"),
        ("please stop", "en", "none"),  # not the first word
        ("STOPPING by later", "en", "none"),
        ("", "en", "none"),
        ("   ", None, "none"),
        ("STOPP", "de", "stop"),
        ("Abmelden bitte", "de", "stop"),
        ("ABBESTELLEN", "de-DE", "stop"),
        ("stop", "de_AT", "stop"),
        ("Anmelden", "de", "start"),
        ("START", "de", "start"),
        ("Danke schön", "de", "none"),
        ("SUBSCRIBE", "de", "none"),  # START words must match the language
        ("UNSUBSCRIBE", "de", "stop"),  # an opt-out in any language is honoured
        ("ＳＴＯＰ", "en", "stop"),  # full-width letters
        ("anmelden", None, "start"),  # unknown language: any language's START
        ("stop", "fr", "stop"),
    ],
)
def test_default_keywords(text: str, language: str | None, expected: str) -> None:
    assert classify_inbound(text, language) == expected


def test_configured_language_replaces_its_defaults() -> None:
    config = KeywordConfig.model_validate(
        {
            "languages": {
                "en": {"stop": ["STOP", "HALT"], "start": ["YES"]},
                "fr": {"stop": ["ARRET"], "start": ["RETOUR"]},
            }
        }
    )
    assert classify_inbound("halt", "en", config) == "stop"
    assert classify_inbound("yes", "en", config) == "start"
    assert classify_inbound("start", "en", config) == "none"  # replaced
    assert classify_inbound("arret", "fr", config) == "stop"
    assert classify_inbound("Retour", "FR", config) == "start"
    assert classify_inbound("Anmelden", "de", config) == "start"  # defaults still apply
    assert config.effective()["de"] == LanguageKeywords(
        stop=["STOP", "STOPP", "ABMELDEN", "ABBESTELLEN"], start=["START", "ANMELDEN"]
    )


def test_multi_word_keyword_matches_whole_message() -> None:
    config = KeywordConfig(languages={"en": LanguageKeywords(stop=["STOP ALL"], start=[])})
    assert classify_inbound("stop   all", "en", config) == "stop"
    assert classify_inbound("STOP", "de", config) == "stop"  # still a German keyword


def test_unknown_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        KeywordConfig.model_validate({"languages": {"en": {"stopp": ["X"]}}})
