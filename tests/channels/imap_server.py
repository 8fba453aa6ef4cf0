"""A small IMAP4rev1 server for tests (127.0.0.1, a free port): one mailbox in memory.

Enough of RFC 3501 for `candor bounces poll`: LOGIN, SELECT, UID SEARCH, UID FETCH (RFC822),
UID STORE +FLAGS (\\Deleted), EXPUNGE, LOGOUT. Messages keep stable UIDs; expunged ones go.
"""

from __future__ import annotations

import re
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any

_LINE = re.compile(rb"^(\S+) (.*)\r\n$", re.S)


@dataclass
class Mailbox:
    user: str
    password: str
    folder: str = "INBOX"
    messages: list[tuple[int, bytes, set[str]]] = field(default_factory=list)  # uid, raw, flags
    next_uid: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, raw: bytes) -> None:
        with self.lock:
            self.messages.append((self.next_uid, raw, set()))
            self.next_uid += 1


def _uids(spec: str, known: list[int]) -> list[int]:
    wanted: set[int] = set()
    for part in spec.split(","):
        if ":" in part:
            low, high = part.split(":")
            top = max(known, default=0) if high == "*" else int(high)
            wanted |= {u for u in known if int(low) <= u <= top}
        else:
            wanted.add(int(part))
    return [u for u in known if u in wanted]


def _words(text: str) -> list[str]:
    return [a or b for a, b in re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', text)]


class _Session(socketserver.StreamRequestHandler):
    box: Mailbox

    def _send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def handle(self) -> None:
        self._send(b"* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
        authed = selected = False
        while True:
            line = self.rfile.readline()
            found = _LINE.match(line)
            if not found:
                return
            tag, rest = found.group(1), found.group(2).decode()
            words = _words(rest)
            command = words[0].upper()
            ok = tag + b" OK done\r\n"
            if command == "CAPABILITY":
                self._send(b"* CAPABILITY IMAP4rev1\r\n" + ok)
            elif command == "LOGIN":
                authed = words[1:3] == [self.box.user, self.box.password]
                self._send(ok if authed else tag + b" NO [AUTHENTICATIONFAILED] no\r\n")
            elif command == "SELECT" and authed:
                selected = words[1] == self.box.folder
                if selected:
                    count = len(self.box.messages)
                    self._send(
                        f"* {count} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1] ok\r\n".encode()
                        + tag
                        + b" OK [READ-WRITE] SELECT completed\r\n"
                    )
                else:
                    self._send(tag + b" NO no such mailbox\r\n")
            elif command == "UID" and selected:
                self._uid(tag, words[1].upper(), words[2:])
            elif command == "EXPUNGE" and selected:
                with self.box.lock:
                    out = b""
                    index = 0
                    while index < len(self.box.messages):
                        if "\\Deleted" in self.box.messages[index][2]:
                            del self.box.messages[index]
                            out += f"* {index + 1} EXPUNGE\r\n".encode()
                        else:
                            index += 1
                self._send(out + ok)
            elif command == "LOGOUT":
                self._send(b"* BYE bye\r\n" + ok)
                return
            elif command == "NOOP":
                self._send(ok)
            else:
                self._send(tag + b" BAD unknown or not allowed now\r\n")

    def _uid(self, tag: bytes, verb: str, args: list[str]) -> None:
        with self.box.lock:
            known = [uid for uid, _, _ in self.box.messages]
            if verb == "SEARCH":
                listed = " ".join(str(u) for u in known)
                self._send(f"* SEARCH {listed}".rstrip().encode() + b"\r\n" + tag + b" OK done\r\n")
                return
            chosen = _uids(args[0], known)
            out = b""
            for seq, (uid, raw, flags) in enumerate(self.box.messages, start=1):
                if uid not in chosen:
                    continue
                if verb == "FETCH":
                    out += f"* {seq} FETCH (UID {uid} RFC822 {{{len(raw)}}}\r\n".encode()
                    out += raw + b")\r\n"
                elif verb == "STORE":
                    flags.update(f.strip("()") for f in args[2:])
                    out += (
                        f"* {seq} FETCH (UID {uid} FLAGS ({' '.join(sorted(flags))}))\r\n".encode()
                    )
        self._send(out + tag + b" OK done\r\n")


class ImapServer:
    """Serve `box` on 127.0.0.1 while used as a context manager; `.port` is where."""

    def __init__(self, box: Mailbox) -> None:
        handler = type("Session", (_Session,), {"box": box})
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> ImapServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
