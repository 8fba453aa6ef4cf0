"""The transport reads a message's verdict after taking the next one: failures still pair up."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from candor.channels.email import OutgoingEmail, SmtpTransport, message_id_for
from candor.channels.mailsink import MailSink


def outgoing(n: int, **kwargs: object) -> OutgoingEmail:
    fields: dict[str, object] = {
        "to": f"reader{n}@example.com",
        "from_": "Candor News <news@example.org>",
        "subject": f"Issue {n}",
        "text": f"Hello {n}\n",
        "message_id": message_id_for(f"verdict:{n}", "example.org"),
    }
    fields.update(kwargs)
    return OutgoingEmail(**fields)  # type: ignore[arg-type]


class DroppingServer:
    """A minimal SMTP server that hangs up on its first message instead of answering the dot."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[bytes] = []
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._session(conn.makefile("rb"), conn, drop=self.connections == 1)

    def _session(self, reader: object, conn: socket.socket, *, drop: bool) -> None:
        conn.sendall(b"220 test\r\n")
        for line in iter(reader.readline, b""):  # type: ignore[attr-defined]
            verb = line[:4].upper()
            if verb == b"DATA":
                conn.sendall(b"354 go on\r\n")
                body = b""
                while not body.endswith(b"\r\n.\r\n"):
                    body += reader.readline()  # type: ignore[attr-defined]
                if drop:
                    return  # hang up before the verdict
                self.accepted.append(body)
                conn.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.listener.close()


def test_a_connection_dropped_before_the_verdict_sends_the_message_again_once() -> None:
    server = DroppingServer()
    transport = SmtpTransport(f"smtp://127.0.0.1:{server.port}", timeout=5)
    try:
        results = transport.send(iter([outgoing(1), outgoing(2)]))
    finally:
        transport.close()
        server.close()
    assert [(r.ok, r.message_id) for r in results] == [
        (True, outgoing(1).message_id),
        (True, outgoing(2).message_id),
    ]
    assert transport.connections_opened == 2
    assert len(server.accepted) == 2
    assert all(body.endswith(b"\r\n.\r\n") for body in server.accepted)


def test_a_lazy_batch_pairs_results_with_messages_in_order(sink: MailSink) -> None:
    taken: list[int] = []

    def batch() -> Iterator[OutgoingEmail]:
        for n in range(6):
            taken.append(n)
            if n == 2:
                yield outgoing(n, subject="bad\nBcc: all@example.com")
            elif n == 4:
                yield outgoing(n, to="gone@example.net")
            else:
                yield outgoing(n)

    with SmtpTransport(f"smtp://{sink.host}:{sink.port}", timeout=5) as transport:
        results = transport.send(batch())
    assert taken == list(range(6))
    assert [(r.ok, r.error) for r in results] == [
        (True, None),
        (True, None),
        (False, "invalid_message"),
        (True, None),
        (False, "smtp_550"),
        (True, None),
    ]
    assert [r.message_id for r in results] == [outgoing(n).message_id for n in range(6)]
    assert [m["Message-ID"] for m in sink.messages()] == [
        outgoing(n).message_id for n in (0, 1, 3, 5)
    ]
    assert sink.connection_count() == 1


def test_an_unreachable_server_fails_a_lazy_batch_temporarily() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    transport = SmtpTransport(f"smtp://127.0.0.1:{port}", timeout=2)
    results = transport.send(outgoing(n) for n in range(3))
    assert [(r.ok, r.permanent, r.error) for r in results] == [(False, False, "connect_failed")] * 3


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    assert threading.active_count() <= before + 1  # a server thread may still be unwinding
