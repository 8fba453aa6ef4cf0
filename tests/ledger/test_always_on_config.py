"""candor.yaml's forms, form_redirects and events: checked against the registry, stored."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import insert

from candor.core.context import Candor
from candor.ledger.config import ConfigError, apply_config, parse_config
from candor.ledger.custom_events import declared_events
from candor.ledger.form_specs import declared_forms, redirect_allowed, redirect_hosts
from candor.store.engine import reading
from candor.store.journey_tables import templates
from tests.always_on import EXTRA, always_on_config, apply_always_on


def _problems(**changes: object) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(always_on_config(**changes), "candor.yaml")
    return str(caught.value)


def _form(**changes: object) -> list[dict[str, object]]:
    return [{**EXTRA["forms"][0], **changes}]


def test_forms_and_events_are_stored_and_read_back(configured: Candor) -> None:
    apply_always_on(configured)
    with reading(configured.engine) as conn:
        forms = declared_forms(conn)
        events = declared_events(conn)
        hosts = redirect_hosts(conn)
    assert sorted(forms) == ["events-sms", "newsletter"]
    newsletter = forms["newsletter"]
    assert [b.value for b in newsletter.boxes()] == [
        "newsletter:weekly:email",
        "newsletter:offers:email",
    ]
    assert forms["events-sms"].channels == ["email", "sms"]
    assert [b.value for b in forms["events-sms"].boxes()] == ["events::email", "events::sms"]
    assert events["order.placed"].properties["total"].type == "number"
    assert hosts == ["candor.example"]


def test_a_form_names_only_declared_purposes_themes_and_attributes() -> None:
    text = _problems(
        forms=_form(
            purposes=[{"id": "nope"}, {"id": "newsletter", "themes": ["gossip"]}],
            attributes=["shoe_size"],
        )
    )
    assert "forms[0:newsletter].purposes[0].id: unknown purpose 'nope'" in text
    assert "forms[0:newsletter].purposes[1].themes[0]: unknown theme 'gossip'" in text
    assert "forms[0:newsletter].attributes[0]: 'shoe_size' is not a declared attribute" in text


def test_redirects_must_be_https_on_a_listed_host() -> None:
    text = _problems(
        forms=_form(
            thank_you={"redirect": "http://candor.example/thanks"},
            confirmed={"redirect": "https://evil.example/welcome"},
        ),
        form_redirects=["candor.example", "Not A Host"],
    )
    assert "forms[0:newsletter].thank_you.redirect: must be an https URL" in text
    assert "forms[0:newsletter].confirmed.redirect: must be an https URL" in text
    assert "form_redirects[1]: must be a lower-case host name" in text
    assert redirect_allowed("https://candor.example/a?b=c", ["candor.example"])
    assert not redirect_allowed("https://candor.example.evil.com/", ["candor.example"])
    assert not redirect_allowed("https://user@candor.example/", ["candor.example"])


def test_a_page_shows_a_text_or_redirects_not_both() -> None:
    both = {"text": "Thanks", "redirect": "https://candor.example/x"}
    assert "give a text or a redirect, not both" in _problems(forms=_form(thank_you=both))


def test_form_ids_are_unique_and_named_like_identifiers() -> None:
    assert "forms[1:newsletter].id: declared more than once" in _problems(
        forms=[EXTRA["forms"][0], EXTRA["forms"][0]]
    )
    assert "forms[0:Sign Up].id" in _problems(forms=_form(id="Sign Up"))


def test_event_properties_cannot_take_an_attributes_name() -> None:
    events = {
        "Order Placed": {"properties": {}},
        "refund": {"properties": {"country": {"type": "string", "category": "x"}}},
    }
    text = _problems(events=events)
    assert "events.Order Placed: name must be lower case" in text
    assert "events.refund.properties.country: is an attribute's name" in text


def test_a_named_doi_template_must_exist_and_carry_the_confirmation_link(cx: Candor) -> None:
    config = parse_config(always_on_config(forms=_form(doi_template="signup-doi")), "c.yaml")
    with (
        pytest.raises(ConfigError, match="no template 'signup-doi': put it first"),
        cx.engine.begin() as conn,
    ):
        apply_config(conn, config, actor="test", at=cx.clock.now())
    parts = {"email": {"subject": "Hi", "text": "no link here"}}
    with cx.engine.begin() as conn:
        conn.execute(
            insert(templates).values(id="signup-doi", parts=parts, updated_at=cx.clock.now())
        )
    with (
        pytest.raises(ConfigError, match=r"must carry the confirmation link \{\{ confirm_url \}\}"),
        cx.engine.begin() as conn,
    ):
        apply_config(conn, config, actor="test", at=cx.clock.now())


def test_removing_the_sections_clears_them(configured: Candor) -> None:
    apply_always_on(configured)
    data = yaml.safe_load(always_on_config())
    data.update(forms=[], events={})
    with configured.engine.begin() as conn:
        apply_config(
            conn, parse_config(yaml.safe_dump(data), "c.yaml"), actor="t", at=configured.clock.now()
        )
    with reading(configured.engine) as conn:
        assert declared_forms(conn) == {} and declared_events(conn) == {}
