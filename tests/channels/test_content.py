"""Studio content: MJML compiled and inlined, text generated, SMS segments counted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from candor.channels.content import ContentSource, compile_content, sms_count, text_from_html
from candor.core.errors import InvalidInput

MJML = (
    "<mjml><mj-head><mj-style>.note { color: #336699; }</mj-style></mj-head><mj-body>"
    "<mj-section><mj-column><mj-text css-class='note'>Hello {{ first_name }}</mj-text>"
    '<mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>'
    "</mj-column></mj-section></mj-body></mjml>"
)


def _email(**email: object) -> ContentSource:
    return ContentSource.model_validate({"id": "news", "languages": {"en": {"email": email}}})


def test_mjml_becomes_inlined_html_with_a_preheader_and_a_generated_text_part() -> None:
    parts = compile_content(_email(subject="News", preheader="This week", mjml=MJML)).parts
    email = parts["en"]["email"]
    assert email["subject"] == "News"
    assert "This week" in email["html"]  # the inbox preview line
    assert "color:#336699" in email["html"].replace(" ", "")  # CSS moved into the element
    assert 'href="{{ unsubscribe_url }}"' in email["html"]  # Jinja survives compiling
    assert "fonts.googleapis" not in email["html"]  # nothing loads from third parties
    assert email["text"] == "Hello {{ first_name }}\nUnsubscribe: {{ unsubscribe_url }}\n"


def test_a_written_text_part_wins_and_plain_html_gets_the_preheader_too() -> None:
    parts = compile_content(
        _email(subject="S", preheader="Peek", html="<body><p>Hi</p></body>", text="Hi there")
    ).parts["en"]["email"]
    assert parts["text"] == "Hi there"
    assert parts["html"].index("Peek") < parts["html"].index("Hi<")


def test_bad_mjml_and_missing_bodies_are_named() -> None:
    with pytest.raises(InvalidInput) as bad:
        compile_content(_email(subject="S", mjml="<mjml><mj-body><mj-section></mj-body></mjml>"))
    assert bad.value.field == "languages.en.email.mjml"
    with pytest.raises(ValidationError, match="write a body"):
        _email(subject="S")
    with pytest.raises(ValidationError, match="same channels"):
        ContentSource.model_validate(
            {
                "id": "x",
                "languages": {"en": {"sms": {"text": "a"}}, "de": {"whatsapp": {"text": "a"}}},
            }
        )


def test_links_in_generated_text_read_as_text_then_address() -> None:
    html = '<p>Read <a href="https://example.org/a">the story</a></p><p><a href="https://x.y">https://x.y</a></p>'
    assert (
        text_from_html(html)
        == "Read the story: https://example.org/a\n\nhttps://x.y: https://x.y\n"
    )


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # 153 septets per part once split
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("Grüße aus Köln", "GSM-7", 14, 1),
        ("Привет", "UCS-2", 6, 1),
        ("x" * 70, "GSM-7", 70, 1),
        ("ł" * 70, "UCS-2", 70, 1),
        ("ł" * 71, "UCS-2", 71, 2),  # 67 per part once split
        ("😀", "UCS-2", 2, 1),  # outside the BMP: two UTF-16 units
    ],
)
def test_sms_segments_follow_gsm_7_and_ucs_2(
    text: str, encoding: str, units: int, segments: int
) -> None:
    counted = sms_count(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)
