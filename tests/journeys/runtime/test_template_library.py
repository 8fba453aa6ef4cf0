"""The studio's template library: languages chosen per contact, lint where it is written,
previews of a pseudonymous sample, and test sends recorded in the audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from candor.channels.content import ContentSource
from candor.channels.mailsink import MailSink
from candor.core.context import Candor
from candor.core.errors import InvalidInput
from candor.journeys.runtime import default_dispatch, run_until_idle
from candor.journeys.runtime.template_library import (
    content_findings,
    load_content,
    save_content,
)
from candor.journeys.runtime.template_preview import preview, sample_attributes, send_test
from candor.store.engine import reading
from candor.store.tables import audit_log, contacts
from tests.channels.test_dispatch_support import configure_channels
from tests.journeys.runtime.helpers import add_contact, consent, start

UNSUB = '<mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>'


def _mjml(text: str) -> str:
    body = f"<mj-text>{text}</mj-text>{UNSUB}"
    return f"<mjml><mj-body><mj-section><mj-column>{body}</mj-column></mj-section></mj-body></mjml>"


INVITE = {
    "id": "invite",
    "kind": "marketing",
    "languages": {
        "en": {
            "email": {"subject": "Join us, {{ first_name }}", "mjml": _mjml("Hello {{ country }}")}
        },
        "de": {
            "email": {
                "subject": "Komm vorbei, {{ first_name }}",
                "mjml": _mjml("Hallo {{ country }}"),
            }
        },
    },
}
STEPS = [
    {"id": "send", "type": "send", "channel": "email", "template": "invite", "theme": "events"},
    {"id": "done", "type": "end"},
]


def test_each_contact_gets_the_variant_in_their_language(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    english, german = add_contact(cx, 1), add_contact(cx, 2)
    with cx.engine.begin() as conn:
        conn.execute(update(contacts).where(contacts.c.id == german).values(language="de"))
        save_content(conn, ContentSource.model_validate(INVITE), actor="key:3", at=cx.clock.now())
        assert load_content(conn, "invite") == ContentSource.model_validate(INVITE)
    for person in (english, german):
        consent(cx, person, "events")
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        start(cx, STEPS, templates={})
        run_until_idle(cx, default_dispatch())
        subjects = {m["To"]: m["Subject"] for m in sink.messages()}
    assert subjects == {
        "person1@example.com": "Join us, Name1",
        "person2@example.com": "Komm vorbei, Name2",
    }


def test_lint_names_missing_way_out_stop_wording_and_undeclared_fields(
    configured: Candor,
) -> None:
    cx = configured
    add_contact(cx, 1)
    source = ContentSource.model_validate(
        {
            "id": "invite",
            "languages": {
                "en": {
                    "email": {"subject": "Hi", "text": "{{ vip }} {{ shoe_size }}"},
                    "sms": {"text": "News for you"},
                }
            },
        }
    )
    with cx.engine.begin() as conn:
        save_content(conn, ContentSource.model_validate(INVITE), actor="t", at=cx.clock.now())
    start(cx, STEPS, templates={}, fields=["country", "first_name"])
    with reading(cx.engine) as conn:
        found = {(f.channel, f.code, f.message) for f in content_findings(conn, source)}
    assert (
        "email",
        "no-unsubscribe",
        "marketing e-mail needs an unsubscribe link ({{ unsubscribe_url }})",
    ) in found
    assert (
        "sms",
        "no-stop",
        "marketing messages need the STOP wording (such as: Reply STOP to opt out)",
    ) in found
    assert ("email", "unknown-field", "reads 'shoe_size', which is no declared field") in found
    assert (
        "email",
        "undeclared-field",
        "reads 'vip', which journey 'promo' does not declare",
    ) in found
    service = source.model_copy(update={"kind": "service"})
    with reading(cx.engine) as conn:
        codes = {f.code for f in content_findings(conn, service)}
    assert "no-unsubscribe" not in codes and "no-stop" not in codes


def test_preview_shows_a_pseudonymous_sample_never_a_name(configured: Candor) -> None:
    cx = configured
    add_contact(cx, 1, attributes={"country": "AT"})
    source = ContentSource.model_validate(INVITE)
    with reading(cx.engine) as conn:
        sample = sample_attributes(conn)
    shown = preview(source, "de", "email", sample)
    assert shown.subject == "Komm vorbei, Alex"  # a stand-in, not Name1
    assert "Hallo AT" in (shown.html or "") and "Name1" not in (shown.html or "")
    sms = ContentSource.model_validate(
        {"id": "t", "languages": {"en": {"sms": {"text": "Hi {{ first_name }}, €5 off. STOP"}}}}
    )
    counted = preview(sms, "en", "sms", {}).sms
    assert counted is not None and (counted.units, counted.segments) == (22, 1)  # € counts twice
    with pytest.raises(InvalidInput, match="no sms"):
        preview(source, "en", "sms", sample)


def test_send_test_reaches_the_typed_address_and_is_audited_without_it(
    configured: Candor, tmp_path: Path
) -> None:
    cx = configured
    with MailSink(tmp_path / "mail", port=0) as sink:
        configure_channels(cx, smtp_port=sink.port)
        send_test(
            cx,
            ContentSource.model_validate(INVITE),
            "en",
            "email",
            "me@agency.example",
            actor="key:9",
        )
        (message,) = sink.messages()
    assert message["To"] == "me@agency.example"
    assert message["Subject"] == "[Test] Join us, Alex"
    with reading(cx.engine) as conn:
        row = (
            conn.execute(select(audit_log).where(audit_log.c.action == "template.send_test"))
            .mappings()
            .one()
        )
    assert (row["actor"], row["object_id"]) == ("key:9", "invite")
    assert "agency" not in str(row["details"])
    with pytest.raises(InvalidInput) as bad:
        send_test(
            cx, ContentSource.model_validate(INVITE), "en", "email", "not-an-address", actor="key:9"
        )
    assert (bad.value.field, bad.value.problem) == ("address", "not a valid e-mail address")
