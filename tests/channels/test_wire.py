"""The e-mail wire format: byte for byte what the stdlib MIME classes and generator write."""

from __future__ import annotations

import email
import itertools
import re
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

import pytest

from candor.channels import mime_bytes as wire
from candor.channels.email import OutgoingEmail, Unsubscribe
from candor.channels.mime_bytes import WIRE_POLICY, address_header, build_message, wire_bytes

DATE = "Sun, 29 Nov 2026 08:09:15 GMT"
LONG_URL = "https://news.example.org/u/" + "T" * 300


def reference(message: OutgoingEmail) -> Message:
    """The message as the stdlib's compat32 classes build it (the former implementation)."""
    text = MIMEText(message.text, "plain", "utf-8")
    if message.html is None:
        msg: Message = text
    else:
        msg = MIMEMultipart("alternative")
        msg.attach(text)
        msg.attach(MIMEText(message.html, "html", "utf-8"))

    def address(value: str) -> str:
        name, addr = parseaddr(value)
        return formataddr((name, addr), charset="utf-8") if name else addr

    headers = [
        ("From", address(message.from_)),
        ("To", address(message.to)),
        ("Subject", message.subject),
        ("Date", DATE),
        ("Message-ID", message.message_id),
    ]
    if message.unsubscribe is not None:
        headers.append(("List-Unsubscribe", message.unsubscribe.header_value()))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    headers += list(message.headers.items())
    for name, value in headers:
        msg[name] = value if value.isascii() else Header(value, "utf-8").encode()
    return msg


SUBJECTS = ["Hi", "Jürgen, our events in Zürich — ünïcödé " * 3, "x" * 1200, "a " * 600, "日本語"]
RECIPIENTS = ["p1@example.com", "Jürgen Müller <p1@example.com>", '"Doe, John" <j@x.org>']
SENDERS = ["news@example.org", "Candor News <news@example.org>", "Café Zürich <c@example.org>"]
TEXTS = ["", "Hello\n", ("Hello " + "x" * 300 + "\nünï line\n.dot first\n") * 5]
HTMLS = [None, "<p>hi</p>", "<p>" + "ü" * 500 + "</p>"]
UNSUBSCRIBES = [None, Unsubscribe(LONG_URL, "mailto:unsubscribe@example.org?subject=u")]
EXTRAS: list[dict[str, str]] = [{}, {"X-Campaign": "spring", "X-Note": "ümlaut"}]


@pytest.mark.parametrize(
    ("subject", "to", "sender"), list(itertools.product(SUBJECTS, RECIPIENTS, SENDERS))
)
def test_wire_bytes_equal_the_stdlib_generator(
    monkeypatch: pytest.MonkeyPatch, subject: str, to: str, sender: str
) -> None:
    monkeypatch.setattr(wire, "formatdate", lambda usegmt: DATE)
    for text, html, unsubscribe, extra in itertools.product(TEXTS, HTMLS, UNSUBSCRIBES, EXTRAS):
        message = OutgoingEmail(
            to=to,
            from_=sender,
            subject=subject,
            text=text,
            html=html,
            message_id="<abc@example.org>",
            unsubscribe=unsubscribe,
            headers=extra,
        )
        ours = wire_bytes(message)
        theirs = reference(message)
        boundary = re.search(rb'boundary="([^"]+)"', ours)
        if boundary is not None:
            theirs.set_boundary(boundary.group(1).decode())
        assert ours == theirs.as_bytes(policy=WIRE_POLICY)


def test_the_wire_form_parses_back_with_every_header_and_part() -> None:
    message = OutgoingEmail(
        to="Jürgen Müller <j@example.com>",
        from_="Candor News <news@example.org>",
        subject="Jürgen, Neues aus Zürich",
        text="Hallo Jürgen,\n.\nUnsubscribe: " + LONG_URL + "\n",
        html="<p>Hallo Jürgen</p>",
        message_id="<abc@example.org>",
        unsubscribe=Unsubscribe(LONG_URL, "unsubscribe@example.org"),
    )
    raw = wire_bytes(message)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert f"List-Unsubscribe: <{LONG_URL}>, <mailto:unsubscribe@example.org>".encode() in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Jürgen, Neues aus Zürich"
    assert parsed["To"] == "Jürgen Müller <j@example.com>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and plain.get_content() == message.text
    assert html is not None and html.get_content() == message.html
    assert build_message(message).get_content_type() == "multipart/alternative"


@pytest.mark.parametrize(
    "value", ["a.b@example.com", "P1@EXAMPLE.com", "x@y", "o'neil+tag@sub.example.co.uk"]
)
def test_bare_addresses_skip_parsing_but_come_out_the_same(value: str) -> None:
    name, addr = parseaddr(value)
    assert address_header(value) == (formataddr((name, addr)) if name else addr)


def test_an_unparseable_address_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid address"):
        address_header("<>")
