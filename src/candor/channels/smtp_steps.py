"""One message's SMTP exchange, split at its final dot so the verdict can be read later.

smtplib's sendmail() writes a message and waits for the server's verdict in one call. The
transport instead writes message n, takes message n+1 from its (lazily composed) batch,
and only then reads the verdict on n: rendering overlaps the server storing the message.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import smtplib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from candor.channels.base import SendResult
from candor.channels.dkim_sign import DkimSigner
from candor.channels.mime_bytes import envelope_address, is_bare_address, wire_bytes

if TYPE_CHECKING:
    from candor.channels.email import OutgoingEmail

logger = logging.getLogger(__name__)
_LEADING_DOT = re.compile(rb"(?m)^\.")  # SMTP dot-stuffing (RFC 5321 4.5.2)


@dataclass(frozen=True, slots=True)
class InFlight:
    """A message on the wire whose final reply is still to be read."""

    email: OutgoingEmail
    blob: bytes
    attempt: int


class Retry:
    """The connection dropped on a first attempt: send the message again on a new one."""


def prepare(email: OutgoingEmail, signer: DkimSigner | None = None) -> InFlight | SendResult:
    """The message's wire bytes (DKIM-signed when a signer is given) for a first attempt,
    or the permanent failure of a bad one."""
    try:
        blob = wire_bytes(email)
        return InFlight(email, blob if signer is None else signer.sign(blob), attempt=1)
    except ValueError:
        logger.warning("message %s is malformed; not sent", email.message_id)
        return SendResult(email.message_id, ok=False, permanent=True, error="invalid_message")


def transmit(conn: smtplib.SMTP, email: OutgoingEmail, blob: bytes) -> None:
    """smtplib's sendmail up to the final dot (one recipient), without reading the verdict."""
    sender = email.envelope_from or envelope_address(email.from_)
    conn.ehlo_or_helo_if_needed()
    options = [] if (sender + email.to).isascii() else ["SMTPUTF8"]
    if conn.does_esmtp and conn.has_extn("size"):
        options.insert(0, f"size={len(blob)}")
    if "SMTPUTF8" in options:
        code, reply = conn.mail(sender, options)  # checks that the server speaks SMTPUTF8
    else:  # as smtplib's mail(), without parsing the same sender again for every message
        extra = " " + " ".join(options) if options and conn.does_esmtp else ""
        conn.putcmd("mail", f"FROM:{_quoted(sender)}{extra}")
        code, reply = conn.getreply()
    if code != 250:
        _abort(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    conn.putcmd("rcpt", f"TO:{_quoted(email.to)}")
    code, reply = conn.getreply()
    if code not in (250, 251):
        _abort(conn, code)
        raise smtplib.SMTPRecipientsRefused({email.to: (code, reply)})
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    body = _LEADING_DOT.sub(b"..", blob)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    conn.send(body + b".\r\n")


def _quoted(address: str) -> str:
    """smtplib.quoteaddr: <address>, parsed only when it is more than a bare address."""
    return f"<{address}>" if is_bare_address(address) else _quoted_slowly(address)


@functools.lru_cache(maxsize=256)
def _quoted_slowly(address: str) -> str:
    return smtplib.quoteaddr(address)


def verdict(conn: smtplib.SMTP | None) -> None:
    """Read the reply to a message's final dot; anything but 250 raises."""
    if conn is None:
        raise smtplib.SMTPServerDisconnected("connection lost")
    code, reply = conn.getreply()
    if code != 250:
        _abort(conn, code)
        raise smtplib.SMTPDataError(code, reply)


def _abort(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: close on 421 (the server is leaving), else reset the transaction."""
    if code == 421:
        conn.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        conn.rset()
