"""The mail sink: storage layout, ordering, restarts, speed and the blocking runner."""

from __future__ import annotations

import smtplib
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from candor.channels.mailsink import MailSink, free_port, run_forever


def message(n: int, message_id: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "news@example.org"
    msg["To"] = "ann@example.com"
    msg["Subject"] = f"n{n}"
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(f"body {n} ✓")
    return msg


def test_stores_eml_files_named_by_counter_and_sanitized_id(tmp_path: Path) -> None:
    with MailSink(tmp_path, port=0) as sink, smtplib.SMTP(sink.host, sink.port) as client:
        client.send_message(message(1, "<a/b..c?d@mail.example.org>"))
        client.send_message(message(2, None))
    names = [p.name for p in sink.paths()]
    assert names == ["00000001-a_b..c_d_mail.example.org.eml", "00000002-no-message-id.eml"]
    assert [m["Subject"] for m in sink.messages()] == ["n1", "n2"]
    assert sink.messages()[0].get_content().strip() == "body 1 ✓"
    assert sink.count() == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_counter_continues_after_restart_and_clear(tmp_path: Path) -> None:
    with MailSink(tmp_path, port=0) as sink, smtplib.SMTP(sink.host, sink.port) as client:
        client.send_message(message(1, "<one@x>"))
    with MailSink(tmp_path, port=0) as sink, smtplib.SMTP(sink.host, sink.port) as client:
        client.send_message(message(2, "<two@x>"))
        assert [p.name for p in sink.paths()] == ["00000001-one_x.eml", "00000002-two_x.eml"]
        sink.clear()
        assert sink.count() == 0
        client.send_message(message(3, "<three@x>"))
    assert [p.name for p in sink.paths()] == ["00000003-three_x.eml"]


def test_accepts_many_messages_quickly(tmp_path: Path) -> None:
    with MailSink(tmp_path, port=0) as sink, smtplib.SMTP(sink.host, sink.port) as client:
        started = time.monotonic()
        for n in range(500):
            client.send_message(message(n, f"<m{n}@x>"))
        elapsed = time.monotonic() - started
    assert sink.count() == 500
    assert sink.connection_count() == 1
    assert elapsed < 20  # generous: typically well under 2 s


def test_run_forever_serves_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    errors: list[BaseException] = []
    stop = threading.Event()

    def runner() -> None:
        try:
            run_forever(tmp_path, "127.0.0.1", port, stop=stop)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            client = smtplib.SMTP("127.0.0.1", port, timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline, "sink did not start"
            time.sleep(0.05)
    with client:
        client.send_message(message(1, "<run@x>"))
    assert MailSink(tmp_path, port=port).count() == 1
    assert thread.is_alive()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert errors == []
    try:
        smtplib.SMTP("127.0.0.1", port, timeout=1).close()
        still_listening = True
    except OSError:
        still_listening = False
    assert not still_listening
