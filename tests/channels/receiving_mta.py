"""A receiving mail server for tests (aiosmtpd on 127.0.0.1) that answers like the real ones:
it accepts each message, then mails a delivery status notification (RFC 3464) back to the
message's envelope sender for recipients that do not exist, and an abuse feedback report
(RFC 5965) to the feedback-loop address for recipients who press "this is spam".
"""

from __future__ import annotations

import asyncio
import smtplib
import threading
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.utils import formatdate, make_msgid
from typing import Any

from aiosmtpd.controller import Controller

from candor.channels.mailsink import free_port

BOUNDARY = "=_report_boundary_42"


def dsn(original: bytes, verp: str, recipient: str, status: str = "5.1.1") -> bytes:
    """A bounce as Postfix writes one: human text, delivery-status, the original headers."""
    headers = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    action = "failed" if status[0] in "45" else "delivered"
    reason = "User unknown" if status.startswith("5.1") else "Mailbox full"
    return (
        f"From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        f"To: {verp}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.net')}\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{BOUNDARY}"\r\n'
        f"\r\n"
        f"--{BOUNDARY}\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"--{BOUNDARY}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n"
        f"X-Postfix-Queue-ID: 4Q1xyz\r\n"
        f"Arrival-Date: {formatdate(usegmt=True)}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mx.example.net\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: "
        f"{reason}\r\n\r\n"
        f"--{BOUNDARY}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


def arf(original: bytes, verp: str, recipient: str, to: str) -> bytes:
    """An abuse report as mailbox providers send them (ARF, with the whole original)."""
    return (
        (
            f"From: feedback@mx.example.net\r\n"
            f"To: {to}\r\n"
            f"Subject: FW: complaint about a message\r\n"
            f"Date: {formatdate(usegmt=True)}\r\n"
            f"Message-ID: {make_msgid(domain='mx.example.net')}\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: multipart/report; report-type=feedback-report;\r\n"
            f' boundary="{BOUNDARY}"\r\n'
            f"\r\n"
            f"--{BOUNDARY}\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"This is an email abuse report for a message received from IP 127.0.0.1.\r\n\r\n"
            f"--{BOUNDARY}\r\n"
            f"Content-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: abuse\r\n"
            f"User-Agent: ExampleFBL/1.0\r\n"
            f"Version: 1\r\n"
            f"Original-Mail-From: <{verp}>\r\n"
            f"Original-Rcpt-To: <{recipient}>\r\n"
            f"Arrival-Date: {formatdate(usegmt=True)}\r\n"
            f"Reporting-MTA: dns; mx.example.net\r\n"
            f"Source-IP: 127.0.0.1\r\n\r\n"
            f"--{BOUNDARY}\r\n"
            f"Content-Type: message/rfc822\r\n"
            f"Content-Disposition: inline\r\n\r\n"
        ).encode()
        + original
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@dataclass
class ReceivingMta:
    """Accepts everything; reports back to `report_host:report_port` about chosen recipients."""

    report_host: str
    report_port: int
    hard: set[str] = field(default_factory=set)  # bounce with 5.1.1
    soft: set[str] = field(default_factory=set)  # bounce with 4.2.2 after retries
    complain: set[str] = field(default_factory=set)
    feedback_address: str = ""  # where abuse reports go (the bounce domain's FBL address)
    received: list[tuple[str, str, bytes]] = field(default_factory=list)
    reported: int = 0
    done: threading.Condition = field(default_factory=threading.Condition)
    port: int = 0
    _controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = bytes(envelope.original_content)
        sender = envelope.mail_from
        for rcpt in envelope.rcpt_tos:
            self.received.append((sender, rcpt, content))
            report = None
            if rcpt in self.hard:
                report = (sender, dsn(content, sender, rcpt, "5.1.1"))
            elif rcpt in self.soft:
                report = (sender, dsn(content, sender, rcpt, "4.2.2"))
            elif rcpt in self.complain:
                report = (self.feedback_address, arf(content, sender, rcpt, self.feedback_address))
            if report is not None:
                await asyncio.get_running_loop().run_in_executor(None, self._send, *report)
        return "250 2.0.0 Ok: queued"

    def _send(self, to: str, message: bytes) -> None:
        with smtplib.SMTP(self.report_host, self.report_port) as smtp:
            smtp.sendmail("", [to], message)  # bounces go out with the null sender
        with self.done:
            self.reported += 1
            self.done.notify_all()

    def headers_of(self, rcpt: str) -> Any:
        content = next(c for _, r, c in self.received if r == rcpt)
        return BytesHeaderParser().parsebytes(content)

    def __enter__(self) -> ReceivingMta:
        self.port = free_port()
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="mx.example.net"
        )
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()
