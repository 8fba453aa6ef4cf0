"""E-mail: URL parsing, message building, and delivery to a real SMTP sink on 127.0.0.1."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from candor.channels.email import (
    OutgoingEmail,
    SmtpConfigError,
    SmtpTransport,
    Unsubscribe,
    as_bytes,
    build_message,
    message_id_for,
    parse_smtp_url,
)
from candor.channels.mailsink import MailSink, free_port

from .conftest import REFUSED

LONG_URL = "https://news.example.org/unsubscribe/" + "T" * 150


def outgoing(n: int = 0, to: str = "ann@example.com", **kwargs: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "to": to,
        "from_": "Candor News <news@example.org>",
        "subject": f"Issue {n}",
        "text": f"Hello {n}\nUnsubscribe: {LONG_URL}",
        "html": f"<p>Hello {n}</p><a href='{LONG_URL}'>Unsubscribe</a>",
        "message_id": message_id_for(f"send:{n}", "mail.example.org"),
        "unsubscribe": Unsubscribe(LONG_URL, "unsubscribe+tok@example.org"),
    }
    fields.update(kwargs)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


def transport_for(sink: MailSink) -> SmtpTransport:
    return SmtpTransport(f"smtp://{sink.host}:{sink.port}", timeout=5)


def test_message_id_is_stable_per_key() -> None:
    first = message_id_for("journey:7:step:3:contact:42", "mail.example.org")
    assert first == message_id_for("journey:7:step:3:contact:42", "mail.example.org")
    assert first != message_id_for("journey:7:step:3:contact:43", "mail.example.org")
    local, domain = first.strip("<>").split("@")
    assert len(local) == 32
    assert int(local, 16) >= 0
    assert domain == "mail.example.org"
    with pytest.raises(ValueError):
        message_id_for("k", "bad domain>")


def test_parse_smtp_url_schemes_ports_and_credentials() -> None:
    plain = parse_smtp_url("smtp://localhost")
    assert (plain.host, plain.port, plain.security, plain.username) == (
        "localhost",
        25,
        "plain",
        None,
    )
    starttls = parse_smtp_url("smtp+starttls://mx.example.org")
    assert (starttls.port, starttls.security) == (587, "starttls")
    tls = parse_smtp_url("smtps://u%40x:p%3Ass@mx.example.org:2465")
    assert (tls.port, tls.security, tls.username, tls.password) == (2465, "tls", "u@x", "p:ss")
    assert "p:ss" not in repr(tls)
    from_env = parse_smtp_url(
        "smtp://mailer@mx.example.org:25", password_env="SMTP_PW", environ={"SMTP_PW": "s3cret"}
    )
    assert from_env.password == "s3cret"
    with pytest.raises(SmtpConfigError, match="SMTP_PW"):
        parse_smtp_url("smtp://mailer@mx.example.org", password_env="SMTP_PW", environ={})
    with pytest.raises(SmtpConfigError, match="no password"):
        parse_smtp_url("smtp://mailer@mx.example.org")
    with pytest.raises(SmtpConfigError, match="scheme"):
        parse_smtp_url("http://mx.example.org")
    with pytest.raises(SmtpConfigError, match="port"):
        parse_smtp_url("smtp://mx.example.org:notaport")


def test_build_message_structure_and_unfolded_list_unsubscribe() -> None:
    message = build_message(outgoing(1, headers={"X-Campaign": "spring"}))
    assert message.get_content_type() == "multipart/alternative"
    parts = message.get_payload()
    assert isinstance(parts, list)
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    raw = as_bytes(message)  # exactly what goes on the wire
    # Long URLs must stay literal (not RFC 2047 encoded, not broken across lines).
    assert f"List-Unsubscribe: <{LONG_URL}>, <mailto:unsubscribe+tok@example.org>".encode() in raw
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    assert message["X-Campaign"] == "spring"


def test_text_only_and_no_unsubscribe() -> None:
    message = build_message(outgoing(2, html=None, unsubscribe=None))
    assert message.get_content_type() == "text/plain"
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None


def test_build_message_rejects_injection_and_header_overrides() -> None:
    with pytest.raises(ValueError):
        build_message(outgoing(3, subject="Hi\r\nBcc: everyone@example.com"))
    with pytest.raises(ValueError, match="managed header"):
        build_message(outgoing(3, headers={"Message-ID": "<other@x>"}))
    with pytest.raises(ValueError, match="https"):
        Unsubscribe("http://insecure.example.org/u")


def test_delivery_carries_headers_and_stable_message_id(sink: MailSink) -> None:
    email = outgoing(7)
    with transport_for(sink) as transport:
        results = transport.send([email])
    assert [(r.message_id, r.ok) for r in results] == [(email.message_id, True)]
    [received] = sink.messages()
    assert received["Message-ID"] == message_id_for("send:7", "mail.example.org")
    assert received["List-Unsubscribe"] == (f"<{LONG_URL}>, <mailto:unsubscribe+tok@example.org>")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Subject"] == "Issue 7"
    assert received["To"] == "ann@example.com"
    body = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert body is not None and "Hello 7" in body.get_content()
    assert html is not None and "<p>Hello 7</p>" in html.get_content()


def test_batch_of_50_reuses_one_connection(sink: MailSink) -> None:
    batch = [outgoing(n, to=f"reader{n}@example.com") for n in range(50)]
    with transport_for(sink) as transport:
        results = transport.send(batch)
        assert transport.connections_opened == 1
    assert all(r.ok for r in results)
    assert [r.message_id for r in results] == [e.message_id for e in batch]
    assert sink.count() == 50
    assert sink.connection_count() == 1
    received_ids = [m["Message-ID"] for m in sink.messages()]
    assert received_ids == [e.message_id for e in batch]  # stored oldest first


def test_refused_recipient_is_permanent_and_batch_continues(
    sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    batch = [outgoing(1), outgoing(2, to=REFUSED), outgoing(3)]
    with transport_for(sink) as transport:
        results = transport.send(batch)
    assert [r.ok for r in results] == [True, False, True]
    refused = results[1]
    assert refused.permanent is True
    assert refused.error == "smtp_550"
    assert refused.message_id == batch[1].message_id
    assert sink.count() == 2
    assert sink.connection_count() == 1  # the refusal did not cost the connection
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("candor")]
    assert any(batch[1].message_id in line and "smtp_550" in line for line in ours)
    assert not any("example.com" in line or "example.net" in line for line in ours)


def test_reconnects_once_when_the_server_dropped_the_connection(tmp_path: Path) -> None:
    port = free_port()
    first = MailSink(tmp_path / "a", port=port)
    first.start()
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=5)
    try:
        assert transport.send([outgoing(1)])[0].ok
        first.stop()  # drops the open connection
        with MailSink(tmp_path / "b", port=port) as second:
            results = transport.send([outgoing(2), outgoing(3)])
            assert [r.ok for r in results] == [True, True]
            assert transport.connections_opened == 2
            assert second.count() == 2
            assert second.connection_count() == 1
    finally:
        transport.close()


def test_unreachable_server_defers_whole_batch_temporarily() -> None:
    transport = SmtpTransport(f"smtp://127.0.0.1:{free_port()}", timeout=2)
    results = transport.send([outgoing(n) for n in range(3)])
    assert [(r.ok, r.permanent, r.error) for r in results] == [(False, False, "connect_failed")] * 3
    assert transport.connections_opened == 0
    transport.close()


def test_malformed_message_fails_permanently_without_breaking_the_batch(sink: MailSink) -> None:
    bad = outgoing(2, subject="x\nBcc: all@example.com")
    with transport_for(sink) as transport:
        results = transport.send([outgoing(1), bad, outgoing(3)])
    assert [(r.ok, r.permanent, r.error) for r in results] == [
        (True, False, None),
        (False, True, "invalid_message"),
        (True, False, None),
    ]
    assert sink.count() == 2
