"""`candor bounces poll`: bounces and complaints that land in an IMAP mailbox (imaplib).

Every message in the folder is fetched, its reports applied in one transaction per batch,
and only then flagged \\Deleted and expunged: a crash in between reads them again, and
applying a report twice changes nothing more than once.
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from candor.channels.bounces import ReceivedMail, take_reports
from candor.channels.delivery import Applied
from candor.channels.email_settings import BounceSettings
from candor.channels.provider_settings import env_value
from candor.core.context import Candor

logger = logging.getLogger(__name__)
BATCH = 200


class MailboxError(RuntimeError):
    """The mailbox cannot be reached or read (the message names no secret)."""


@dataclass(frozen=True)
class PollResult:
    """What one poll took in: messages read and what their reports did."""

    messages: int
    applied: int
    review: int
    undeliverable: int
    blocks: int


@dataclass(frozen=True)
class MailboxAddress:
    """Where the mailbox is: imap:// or imaps://user@host[:port]/folder."""

    secure: bool
    host: str
    port: int
    user: str
    folder: str


def mailbox_address(url: str) -> MailboxAddress:
    parts = urlsplit(url)
    secure = parts.scheme == "imaps"
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    port = parts.port or (993 if secure else 143)
    return MailboxAddress(secure, parts.hostname or "", port, unquote(parts.username or ""), folder)


def _open(address: MailboxAddress, password: str) -> imaplib.IMAP4:
    try:
        box = (imaplib.IMAP4_SSL if address.secure else imaplib.IMAP4)(address.host, address.port)
    except OSError as exc:
        raise MailboxError(f"cannot reach {address.host}:{address.port}") from exc
    try:
        box.login(address.user, password)
        status, _ = box.select(_quoted(address.folder))
    except imaplib.IMAP4.error as exc:
        box.logout()
        raise MailboxError("login or folder refused") from exc
    if status != "OK":
        box.logout()
        raise MailboxError(f"folder {address.folder!r} cannot be opened")
    return box


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _batches(box: imaplib.IMAP4) -> Iterator[list[tuple[bytes, bytes]]]:
    """(UID, raw message) in batches, oldest first (UIDs stay valid across expunges)."""
    status, data = box.uid("SEARCH", "ALL")
    if status != "OK":
        raise MailboxError("search refused")
    numbers = (data[0] or b"").split()
    for start in range(0, len(numbers), BATCH):
        chunk = numbers[start : start + BATCH]
        status, fetched = box.uid("FETCH", b",".join(chunk).decode(), "(RFC822)")
        if status != "OK":
            raise MailboxError("fetch refused")
        raws = [item[1] for item in fetched if isinstance(item, tuple) and len(item) == 2]
        if len(raws) != len(chunk):
            raise MailboxError("fetch answered a different number of messages")
        yield list(zip(chunk, raws, strict=True))


def poll_mailbox(
    cx: Candor, bounces: BounceSettings, environ: Mapping[str, str] | None = None
) -> PollResult:
    """Read every message in the mailbox, apply its reports, then delete what was stored."""
    if not bounces.imap_url:
        raise MailboxError("channels.email.bounces.imap_url is not set")
    password = env_value(bounces.imap_password_env, environ)
    if password is None:
        raise MailboxError(
            f"channels.email.bounces.imap_password_env: environment variable "
            f"{bounces.imap_password_env or '(not named)'} is not set"
        )
    box = _open(mailbox_address(bounces.imap_url), password)
    totals = [0, 0, 0, 0, 0]
    try:
        for batch in _batches(box):
            done: Applied = take_reports(cx, bounces, [ReceivedMail(raw) for _, raw in batch])
            uids = b",".join(uid for uid, _ in batch).decode()
            box.uid("STORE", uids, "+FLAGS", "(\\Deleted)")  # committed: now they may go
            box.expunge()
            counts = (len(batch), done.applied + done.waiting, done.review)
            for index, value in enumerate((*counts, done.undeliverable, done.blocks)):
                totals[index] += value
    finally:
        try:
            box.logout()
        except (imaplib.IMAP4.error, OSError):
            logger.warning("IMAP logout failed")
    return PollResult(*totals)
