"""A local SMTP sink for demos, tests and benchmarks: stores every message as an .eml file.

Built on aiosmtpd's threaded Controller. It can refuse chosen recipients (550) to simulate
bounces, and counts the SMTP connections that delivered mail (to verify connection reuse).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Iterable
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_STORED = re.compile(r"^(\d{8,})-.*\.eml$")
_HEADERS = BytesHeaderParser(policy=policy.default)
_PARSER = BytesParser(policy=policy.default)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (aiosmtpd cannot listen on port 0 itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _file_stem(message_id: str | None) -> str:
    """A file-name-safe rendering of a Message-ID (bounded length)."""
    cleaned = _UNSAFE.sub("_", (message_id or "").strip().strip("<>")).strip("._")
    return cleaned[:80] or "no-message-id"


class _Handler:
    """aiosmtpd handler: refuses listed recipients, writes each message atomically to disk."""

    def __init__(self, directory: Path, refuse: frozenset[str]) -> None:
        self.directory = directory
        self.refuse = refuse
        self.lock = threading.Lock()
        numbers = (_STORED.match(p.name) for p in directory.glob("*.eml"))
        self.counter = max((int(m.group(1)) for m in numbers if m), default=0)
        self.connections = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Accept the recipient unless it is on the refusal list."""
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Store the message as <counter>-<message-id>.eml, written atomically."""
        content: bytes = envelope.original_content
        message_id = _HEADERS.parsebytes(content).get("Message-ID")
        with self.lock:
            if not getattr(session, "_candor_counted", False):
                session._candor_counted = True
                self.connections += 1
            self.counter += 1
            name = f"{self.counter:08d}-{_file_stem(message_id)}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(content)
        os.replace(temporary, self.directory / name)
        return "250 Message accepted for delivery"


class SmtpService:
    """An aiosmtpd server for `handler` in a background thread, as a context manager.

    `port=0` picks a free port; the chosen one is in `.port` once constructed.
    """

    def __init__(self, handler: Any, host: str, port: int, *, name: str) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._handler = handler
        self._name = name  # the greeting's host name: avoids a reverse DNS look-up
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start listening (in a background thread)."""
        if self._controller is not None:
            return
        controller = Controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            server_hostname=self._name,
            data_size_limit=50 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class MailSink(SmtpService):
    """A local SMTP server that stores what it receives in `directory` (one .eml per message).

    Stored messages stay on disk when it stops.
    """

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 2525,
        *,
        refuse_recipients: Iterable[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        refused = frozenset(a.lower() for a in refuse_recipients)
        super().__init__(_Handler(self.directory, refused), host, port, name="mailsink.localhost")

    def paths(self) -> list[Path]:
        """The stored .eml files, oldest first."""
        return sorted(p for p in self.directory.glob("*.eml") if _STORED.match(p.name))

    def messages(self) -> list[EmailMessage]:
        """The stored messages, parsed, oldest first."""
        # policy.default makes the parser build EmailMessage objects.
        return [cast(EmailMessage, _PARSER.parsebytes(p.read_bytes())) for p in self.paths()]

    def count(self) -> int:
        """How many messages are stored."""
        return len(self.paths())

    def connection_count(self) -> int:
        """How many SMTP connections delivered at least one message since construction."""
        return self._handler.connections

    def clear(self) -> None:
        """Delete the stored messages (the counter keeps going, so names never repeat)."""
        for path in self.paths():
            path.unlink()


def run_forever(
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 2525,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Run a sink until Ctrl-C, SIGTERM or `stop` is set (for `candor mailsink`)."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses at INFO
    stopping = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    with MailSink(directory, host, port) as sink:
        logger.info("mail sink on %s:%s storing into %s", sink.host, sink.port, sink.directory)
        try:
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    logger.info("mail sink stopped")
