"""E-mail wire format: the bytes an OutgoingEmail is sent as, written directly.

The stdlib generator re-folds every header through `email.header.Header`, compiles a fresh
regular expression per boundary and base64-encodes in Python: about 1 ms a message, most of
the client's share of a send. Here the same MIME shape (multipart/alternative of UTF-8
base64 text parts, CRLF line ends, nothing folded inside a URL) is written straight to
bytes; only non-ASCII or over-long header values still go through the stdlib folder.
"""

from __future__ import annotations

import base64
import functools
import random
import re
import sys
from email import message_from_bytes, policy
from email.header import Header
from email.message import Message
from email.utils import formataddr, formatdate, parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from candor.channels.email import OutgoingEmail

# On the wire: CRLF, and no folding below the RFC 5322 limit (998), so URLs are never split;
# non-ASCII values become RFC 2047 encoded words.
WIRE_POLICY = policy.compat32.clone(linesep="\r\n", max_line_length=998)
RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
_CRLF = b"\r\n"
_PART_HEAD = {
    subtype: (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\n"
        "Content-Transfer-Encoding: base64\r\n"
    ).encode()
    for subtype in ("plain", "html")
}
# A bare addr-spec that parseaddr/formataddr would return unchanged.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\Z")
_SEPARATOR = re.compile(r"[: \r\n]")
# Longest "Name: value" the policy leaves on one line (it folds past max_line_length).
_MAX_LINE = 998


def wire_bytes(email: OutgoingEmail) -> bytes:
    """The message exactly as sent: headers, then the text (and html) part(s).

    Raises ValueError for header injection attempts or extra headers that would override ours.
    """
    headers = b"".join(_header(name, value) for name, value in _headers(email))
    text = _body(email.text)
    if email.html is None:
        return b"".join((_PART_HEAD["plain"], headers, _CRLF, text))
    boundary = _boundary()
    delimiter = b"--" + boundary
    return b"".join(
        (
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n',
            b"MIME-Version: 1.0\r\n",
            headers,
            _CRLF,
            delimiter + _CRLF,
            _PART_HEAD["plain"] + _CRLF + text,
            _CRLF + delimiter + _CRLF,
            _PART_HEAD["html"] + _CRLF + _body(email.html),
            _CRLF + delimiter + b"--" + _CRLF,
        )
    )


def build_message(email: OutgoingEmail) -> Message:
    """The message as a stdlib Message (compat32), parsed from its wire bytes: for inspection."""
    return message_from_bytes(wire_bytes(email), policy=policy.compat32)


def as_bytes(message: Message) -> bytes:
    """A stdlib Message as it would be sent: CRLF line ends, long lines kept (URLs intact)."""
    return message.as_bytes(policy=WIRE_POLICY)


def _headers(email: OutgoingEmail) -> list[tuple[str, str]]:
    """The top-level headers in order, extra headers last (checked against ours)."""
    headers = [
        ("From", address_header(email.from_)),
        ("To", address_header(email.to)),
        ("Subject", email.subject),
        ("Date", formatdate(usegmt=True)),
        ("Message-ID", email.message_id),
    ]
    if email.unsubscribe is not None:
        headers.append(("List-Unsubscribe", email.unsubscribe.header_value()))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in email.headers.items():
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"extra header {name!r} would override a managed header")
        headers.append((name, value))
    return headers


def _header(name: str, value: str) -> bytes:
    """One header line; encoded words and folding only where the stdlib policy would apply."""
    if not name or _SEPARATOR.search(name) or "\r" in value or "\n" in value:
        raise ValueError("header injection refused")
    if value.isascii() and len(name) + 2 + len(value) <= _MAX_LINE:
        return f"{name}: {value}\r\n".encode("ascii")
    encoded = value if value.isascii() else Header(value, "utf-8").encode()
    return WIRE_POLICY.fold_binary(name, encoded)


@functools.lru_cache(maxsize=256)
def _formatted_address(value: str) -> str:
    """address_header for anything but a bare address (cached: senders repeat)."""
    return _parse_address(value)


def is_bare_address(value: str) -> bool:
    """Whether `value` is a plain addr-spec that address parsing would return unchanged."""
    return _PLAIN_ADDRESS.match(value) is not None


def address_header(value: str) -> str:
    """An address header with a non-ASCII display name encoded (the address stays as is)."""
    return value if is_bare_address(value) else _formatted_address(value)


def _parse_address(value: str) -> str:
    name, address = parseaddr(value)
    if not address:
        raise ValueError("invalid address header")
    return formataddr((name, address), charset="utf-8") if name else address


@functools.lru_cache(maxsize=256)
def envelope_address(value: str) -> str:
    """The bare address of an address header (MAIL FROM), cached per sender."""
    return parseaddr(value)[1]


def _body(text: str) -> bytes:
    """UTF-8 text as base64 lines of 76 characters with CRLF (safe for any line length)."""
    return base64.encodebytes(text.encode("utf-8")).replace(b"\n", _CRLF)


def _boundary() -> bytes:
    """A boundary as the stdlib makes them; '=' runs never occur in base64 bodies."""
    token = random.randrange(sys.maxsize)
    width = len(repr(sys.maxsize - 1))
    return b"=" * 15 + b"%0*d" % (width, token) + b"=="
