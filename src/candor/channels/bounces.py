"""Taking in bounces and complaints: parse, match and apply, from SMTP or from a mailbox.

`candor bounces serve` runs an SMTP receiver (aiosmtpd) for the VERP domain: a message is
acknowledged (250) only once its reports are committed, so a failure makes the sender try
again instead of losing one. `candor bounces poll` reads an IMAP mailbox the same way
(channels.bounce_mailbox).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from candor.channels.bounce_parse import parse_report
from candor.channels.delivery import Applied, SoftRule, apply_reports
from candor.channels.email_settings import BounceSettings
from candor.channels.mailsink import SmtpService
from candor.channels.reports import Report, Unreadable
from candor.core.context import Candor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedMail:
    """One mail as it arrived: its bytes and the envelope recipients it was sent to."""

    raw: bytes
    recipients: tuple[str, ...] = ()


def take_reports(cx: Candor, bounces: BounceSettings, mails: Sequence[ReceivedMail]) -> Applied:
    """Parse the mails and apply every report in one transaction (unreadable ones kept)."""
    key = cx.vault.signing_key
    reports: list[Report] = []
    unreadable: list[Unreadable] = []
    for mail in mails:
        found = parse_report(mail.raw, key=key, domain=bounces.domain, recipients=mail.recipients)
        if isinstance(found, Unreadable):
            unreadable.append(found)
        else:
            reports.extend(found)
    soft = SoftRule(bounces.soft_limit, bounces.window)
    with cx.engine.begin() as conn:
        return apply_reports(
            conn,
            cx.vault,
            reports,
            at=cx.clock.now(),
            soft=soft,
            unreadable=unreadable,
            actor="bounces",
        )


class _Handler:
    """aiosmtpd handler: takes mail for the bounce domain only, stores it before saying 250."""

    def __init__(self, cx: Candor, bounces: BounceSettings) -> None:
        self.cx = cx
        self.bounces = bounces
        self.received = 0
        self.done = threading.Condition()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.rpartition("@")[2].lower() != self.bounces.domain:
            return "550 5.1.1 No such mailbox here (bounces only)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = ReceivedMail(bytes(envelope.original_content), tuple(envelope.rcpt_tos))
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, take_reports, self.cx, self.bounces, [mail])
        except Exception:  # stored nothing: the sending server keeps it and tries again
            logger.exception("a report could not be stored; asked the sender to retry")
            return "451 4.3.0 Not stored, please try again later"
        with self.done:
            self.received += 1
            self.done.notify_all()
        return "250 2.0.0 Report received"


class BounceServer(SmtpService):
    """The SMTP receiver for bounces and complaints; `port=0` picks a free port."""

    def __init__(
        self, cx: Candor, bounces: BounceSettings, host: str = "127.0.0.1", port: int = 2526
    ) -> None:
        self.handler = _Handler(cx, bounces)
        super().__init__(self.handler, host, port, name="bounces.localhost")

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        """Block until `count` mails were stored (for tests: waits on the event, not a clock)."""
        with self.handler.done:
            return self.handler.done.wait_for(lambda: self.handler.received >= count, timeout)
