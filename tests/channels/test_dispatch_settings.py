"""Channel settings (validation, env overrides, transports) and the template store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from candor.channels.email import SmtpTransport
from candor.channels.settings import ChannelSettingsError, parse_settings, transports_for
from candor.channels.sms import HttpProviderTransport
from candor.channels.template_store import (
    get_template,
    list_templates,
    put_template,
    resolve_template,
)
from candor.cli import app
from candor.core.context import Candor
from candor.core.errors import InvalidInput, NotFound

CHANNELS = {
    "email": {"smtp_url": "smtp://127.0.0.1:2525", "from": "news@example.org"},
    "sms": {"provider_url": "http://127.0.0.1:9/sms", "api_key_env": "SMS_KEY"},
    "keywords": {"fr": {"stop": ["ARRET"], "start": ["DEMARRER"]}},
}


def test_settings_parse_with_env_overrides() -> None:
    env = {
        "CANDOR_SMTP_URL": "smtps://mail.example.org",
        "CANDOR_PUBLIC_URL": "https://x.example",
        "SMS_KEY": "k",
    }
    settings = parse_settings(CHANNELS, "https://ignored.example", env)
    assert settings.email is not None and settings.email.smtp_url == "smtps://mail.example.org"
    assert settings.email.domain == "example.org"
    assert settings.public_url == "https://x.example"
    assert "fr" in settings.keyword_config().effective()
    transports = transports_for(settings, env)
    try:
        assert isinstance(transports["email"], SmtpTransport)
        assert isinstance(transports["sms"], HttpProviderTransport)
    finally:
        for transport in transports.values():
            transport.close()


@pytest.mark.parametrize(
    ("channels", "public_url", "key"),
    [
        ({"email": {"smtp_url": "http://x", "from": "a@b.c"}}, None, "channels.email.smtp_url"),
        ({"email": {"from": "not an address"}}, None, "channels.email.from"),
        ({"sms": {"provider_url": "ftp://x"}}, None, "channels.sms.provider_url"),
        ({"email": {"smtp_url": "smtp://x", "colour": "red"}}, None, "channels.email.colour"),
        ({}, "http://plain.example", "public_url"),
    ],
)
def test_bad_settings_name_their_key(channels: dict, public_url: str | None, key: str) -> None:
    with pytest.raises(ChannelSettingsError, match=f"^{key}: "):
        parse_settings(channels, public_url, {})


def test_a_provider_without_its_key_in_the_environment_is_refused() -> None:
    settings = parse_settings(CHANNELS, None, {})
    with pytest.raises(ChannelSettingsError, match=r"channels\.sms\.api_key_env"):
        transports_for(settings, {})


def test_templates_are_compiled_on_put_and_resolved_inline_first(configured: Candor) -> None:
    cx = configured
    with cx.engine.begin() as conn:
        summary = put_template(
            conn,
            "welcome",
            {
                "email": {"subject": "Hi {{ first_name }}", "text": "{{ unsubscribe_url }}"},
                "sms": {"text": "STOP"},
            },
            actor="test",
            at=cx.clock.now(),
        )
        assert summary["channels"] == ["email", "sms"]
        assert summary["fields"] == ["first_name", "unsubscribe_url"]
        assert summary["unsubscribe"] == {"email": True, "sms": True}
        with pytest.raises(InvalidInput) as bad:
            put_template(
                conn,
                "broken",
                {"email": {"subject": "ok", "text": "line one\n{% if %}"}},
                actor="test",
                at=cx.clock.now(),
            )
        assert bad.value.field == "templates.broken.email.text"
        assert bad.value.problem.startswith("line 2: ")
        with pytest.raises(InvalidInput, match="lacks parts"):
            put_template(
                conn, "nosubject", {"email": {"text": "x"}}, actor="test", at=cx.clock.now()
            )
        assert get_template(conn, "welcome")["parts"]["sms"] == {"text": "STOP"}
        assert [t["id"] for t in list_templates(conn)] == ["welcome"]
        inline = {"welcome": {"sms": {"text": "inline STOP"}}}
        assert resolve_template(conn, "welcome", inline) == {"sms": {"text": "inline STOP"}}
        assert resolve_template(conn, "welcome", None)["sms"] == {"text": "STOP"}
        with pytest.raises(NotFound):
            resolve_template(conn, "missing", inline)


def test_cli_template_put_list_show(configured: Candor, tmp_path: Path, db_url: str) -> None:
    runner = CliRunner()
    keystore = str(configured.vault.keystore.url)
    base = ["--database", db_url, "--keystore", keystore, "template"]
    result = runner.invoke(
        app, [*base, "put", "promo", "--sms-text", "Sale! Reply STOP to opt out."]
    )
    assert result.exit_code == 0, result.output
    file = tmp_path / "t.yaml"
    file.write_text("email:\n  subject: Hello\n  text: 'Bye: {{ unsubscribe_url }}'\n")
    assert runner.invoke(app, [*base, "put", "hello", str(file)]).exit_code == 0
    file.write_text("email:\n  subject: Hello\n  text: '{{ oops'\n")
    failed = runner.invoke(app, [*base, "put", "hello", str(file)])
    assert failed.exit_code == 2 and "templates.hello.email.text: line 1" in failed.output
    listed = runner.invoke(app, [*base, "list"])
    assert "hello: email" in listed.output and "promo: sms" in listed.output
    shown = runner.invoke(app, [*base, "show", "promo"])
    assert "Sale! Reply STOP" in shown.output
