"""Templates: rendering, escaping, sandbox, field analysis, unsubscribe detection."""

from __future__ import annotations

import pytest
from jinja2.sandbox import SecurityError
from pydantic import ValidationError

from candor.channels.templates import (
    LINK_VARIABLES,
    MessageTemplate,
    TemplateError,
    TemplateSecurityError,
    has_unsubscribe,
    referenced_fields,
    render,
    validate_template,
)


def email(**parts: str) -> MessageTemplate:
    base = {"subject": "Hello", "text": "Hi {{ first_name }}"}
    base.update(parts)
    return MessageTemplate(id="welcome", channel="email", parts=base)


def sms(text: str) -> MessageTemplate:
    return MessageTemplate(id="promo", channel="sms", parts={"text": text})


def test_render_email_escapes_html_but_not_text_or_subject() -> None:
    template = email(
        subject="News for\n {{ first_name }}",
        html='<p>Hi {{ first_name }}</p><a href="{{ unsubscribe_url }}">out</a>',
        text="Hi {{ first_name }}\nUnsubscribe: {{ unsubscribe_url }}",
    )
    result = render(
        template, {"first_name": "<Ann & Bob>", "unsubscribe_url": "https://x/u?a=1&b=2"}
    )
    assert result.subject == "News for <Ann & Bob>"
    assert result.html == (
        '<p>Hi &lt;Ann &amp; Bob&gt;</p><a href="https://x/u?a=1&amp;b=2">out</a>'
    )
    assert result.text == "Hi <Ann & Bob>\nUnsubscribe: https://x/u?a=1&b=2"
    assert result.channel == "email"
    assert result.template_id == "welcome"


def test_sms_text_is_stripped_and_has_no_subject() -> None:
    result = render(sms("  Sale {{ pct }}% off. Reply STOP to opt out.\n"), {"pct": 20})
    assert result.text == "Sale 20% off. Reply STOP to opt out."
    assert result.subject is None
    assert result.html is None


def test_missing_variable_is_an_error_naming_template_and_part() -> None:
    with pytest.raises(TemplateError) as info:
        render(email(text="line one\n{{ last_name }}"), {"first_name": "A"})
    message = str(info.value)
    assert "'welcome'" in message
    assert "'text'" in message
    assert "last_name" in message
    assert info.value.line == 2


def test_syntax_error_names_template_part_and_line() -> None:
    template = email(html="<p>\n\n{% if x %}never closed</p>")
    with pytest.raises(TemplateError) as info:
        validate_template(template)
    assert info.value.template_id == "welcome"
    assert info.value.part == "html"
    assert info.value.line == 3
    assert "template 'welcome', part 'html', line 3" in str(info.value)
    with pytest.raises(TemplateError):
        render(template, {"x": True, "first_name": "A"})
    with pytest.raises(TemplateError):
        referenced_fields(template)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ first_name.__class__.__base__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(first_name) }}",
        "{{ items.append(1) }}",
        "{% set _ = items.append(1) %}",
        "{{ items.pop() }}",
        "{{ 'x' * 1000000 }}",
        "{{ 9 ** 99999 }}",
        "{{ (2 ** 100) ** 100 }}",
    ],
)
def test_sandbox_escape_attempts_raise_security_error(source: str) -> None:
    template = sms(source)
    with pytest.raises(TemplateSecurityError) as info:
        render(template, {"first_name": "Ann", "items": [1, 2]})
    assert isinstance(info.value.__cause__, SecurityError)
    assert "'promo'" in str(info.value)


def test_sandbox_still_allows_ordinary_expressions() -> None:
    result = render(sms("{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ items | join(',') }}"), {"items": [1, 2]})
    assert result.text == "ababab 1024 1,2"


def test_referenced_fields_lists_top_level_variables_only() -> None:
    template = email(
        subject="{{ first_name }}, news about {{ interest | title }}",
        html=(
            "{% set greeting = 'Hi' %}{{ greeting }} {% for p in products %}{{ p.name }}"
            "{% endfor %}{{ range(3) | list }}<a href='{{ unsubscribe_url }}'>x</a>"
        ),
        text="{{ contact.city }} {{ confirm_url }}",
    )
    assert referenced_fields(template) == {
        "first_name",
        "interest",
        "products",
        "contact",
        "unsubscribe_url",
        "confirm_url",
    }
    assert referenced_fields(template) - LINK_VARIABLES == {
        "first_name",
        "interest",
        "products",
        "contact",
    }


def test_link_variables() -> None:
    assert (
        frozenset(
            {
                "unsubscribe_url",
                "preferences_url",
                "confirm_url",
                "download_url",
                "click_url",
                "controller",
            }
        )
        == LINK_VARIABLES
    )


def test_has_unsubscribe_for_email() -> None:
    assert has_unsubscribe(email(text="Bye: {{ unsubscribe_url }}"))
    assert has_unsubscribe(email(html="<a href='{{ preferences_url }}'>settings</a>"))
    assert not has_unsubscribe(email(text="no way out {{ confirm_url }}"))
    # A link only in the subject does not count: it is not a visible body link.
    assert not has_unsubscribe(email(subject="{{ unsubscribe_url }}", text="plain"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sale! Reply STOP to opt out", True),
        ("Sale! reply stop to opt out", True),
        ("Angebot! Abmelden: STOPP an 12345", True),
        ("Sale! Opt out: {{ unsubscribe_url }}", True),
        ("Sale! Unstoppable prices", False),
        ("Sale! {{ stop_text }}", False),
        ("Sale! {{ preferences_url }}", False),
    ],
)
def test_has_unsubscribe_for_sms(text: str, expected: bool) -> None:
    assert has_unsubscribe(sms(text)) is expected
    whatsapp = MessageTemplate(id="w", channel="whatsapp", parts={"text": text})
    assert has_unsubscribe(whatsapp) is expected


def test_parts_must_fit_the_channel() -> None:
    with pytest.raises(ValidationError, match="unknown parts"):
        MessageTemplate(id="s", channel="sms", parts={"text": "x", "subject": "y"})
    with pytest.raises(ValidationError, match="lacks parts"):
        MessageTemplate(id="e", channel="email", parts={"html": "x"})
    with pytest.raises(ValidationError):
        MessageTemplate.model_validate({"id": "p", "channel": "post", "parts": {"text": "x"}})


def test_renders_share_nothing_and_fields_may_shadow_globals() -> None:
    template = email(text="{% set seen = first_name %}Hi {{ seen }} {{ range }}")
    assert render(template, {"first_name": "Ann", "range": "r"}).text == "Hi Ann r"
    with pytest.raises(TemplateError, match="first_name"):
        render(template, {"range": "r"})  # nothing left over from the render before
    counted = email(text="{{ range(2) | list }}")
    assert render(counted, {}).text == "[0, 1]"  # the globals are still there
