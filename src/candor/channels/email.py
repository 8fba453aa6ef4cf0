"""E-mail over SMTP: message building (RFC 8058 one-click unsubscribe) and a batching transport.

One connection serves a whole batch; a dropped connection is re-opened once per message.
Results carry SMTP codes only (never addresses), so they can be logged and stored freely.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal
from urllib.parse import unquote, urlsplit

from candor.channels.base import SendResult
from candor.channels.dkim_sign import DkimSigner
from candor.channels.mime_bytes import as_bytes as as_bytes
from candor.channels.mime_bytes import build_message as build_message
from candor.channels.smtp_steps import InFlight, Retry, prepare, transmit, verdict

logger = logging.getLogger(__name__)

Security = Literal["plain", "starttls", "tls"]
_SCHEMES: Mapping[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


class SmtpConfigError(ValueError):
    """The SMTP URL or its credentials are unusable."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to connect: host, port, transport security and optional login."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(
    url: str, *, password_env: str | None = None, environ: Mapping[str, str] | None = None
) -> SmtpConfig:
    """Parse smtp://, smtp+starttls:// or smtps:// [user[:password]@]host[:port].

    Without a password in the URL, a user's password is read from the variable `password_env`.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise SmtpConfigError(f"unsupported SMTP URL scheme {parts.scheme!r}")
    security, default_port = _SCHEMES[parts.scheme]
    if not parts.hostname:
        raise SmtpConfigError("SMTP URL has no host")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise SmtpConfigError("SMTP URL has an invalid port") from exc
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and password is None and password_env:
        env = os.environ if environ is None else environ
        if password_env not in env:
            raise SmtpConfigError(f"environment variable {password_env} is not set")
        password = env[password_env]
    if username and password is None:
        raise SmtpConfigError("SMTP URL names a user but no password (set password_env)")
    return SmtpConfig(parts.hostname, port, security, username, password)


def message_id_for(key: str, domain: str) -> str:
    """A stable Message-ID for an idempotency key: the same key always yields the same id."""
    if not domain or any(ch in domain for ch in "<>@ \t\r\n"):
        raise ValueError("invalid Message-ID domain")
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """One-click unsubscribe targets: an HTTPS URL with an opaque token, plus optional mailto."""

    https_url: str
    mailto: str | None = None

    def __post_init__(self) -> None:
        """RFC 8058 requires an HTTPS URI for one-click unsubscription."""
        if not self.https_url.startswith("https://"):
            raise ValueError("List-Unsubscribe one-click URL must use https")

    def header_value(self) -> str:
        """The List-Unsubscribe header value: <https-url>[, <mailto:...>]."""
        value = f"<{self.https_url}>"
        if self.mailto:
            mailto = self.mailto if self.mailto.startswith("mailto:") else f"mailto:{self.mailto}"
            value += f", <{mailto}>"
        return value


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """One e-mail to send: addresses, rendered content, caller-given Message-ID and headers."""

    to: str
    from_: str
    subject: str
    text: str
    message_id: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    unsubscribe: Unsubscribe | None = None
    envelope_from: str | None = None  # bounce address (MAIL FROM); defaults to From


class _Unavailable(Exception):
    """The server cannot be reached (or refuses our login): the rest of the batch waits."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _smtp_failure(message_id: str, code: int) -> SendResult:
    """A failure from an SMTP reply code: 5xx is permanent, anything else temporary."""
    return SendResult(message_id, ok=False, permanent=500 <= code < 600, error=f"smtp_{code}")


class SmtpTransport:
    """Sends e-mail batches over one reused SMTP connection. Not thread-safe: one per worker."""

    def __init__(
        self,
        url: str,
        *,
        password_env: str | None = None,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        signer: DkimSigner | None = None,
    ) -> None:
        self.config = parse_smtp_url(url, password_env=password_env)
        self.signer = signer
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self.connections_opened = 0

    def send(self, messages: Iterable[OutgoingEmail]) -> list[SendResult]:
        """Send each message in order; if the server is unreachable, the rest fail temporarily.

        The server's verdict on a message is read only once the next one is taken from
        `messages` and turned into bytes: a lazily composed batch renders while the server
        stores the previous message.
        """
        results: list[SendResult] = []
        unavailable: str | None = None
        flight: InFlight | None = None
        for email in messages:
            ready = prepare(email, self.signer) if unavailable is None else None
            if flight is not None:
                results.append(self._finish(flight))
                flight = None
            if ready is None:
                results.append(SendResult(email.message_id, ok=False, error=unavailable))
                continue
            try:
                started = self._transmit(ready) if isinstance(ready, InFlight) else ready
            except _Unavailable as exc:
                logger.warning("SMTP server unavailable (%s); deferring the batch", exc.code)
                unavailable = exc.code
                started = SendResult(email.message_id, ok=False, error=unavailable)
            if isinstance(started, InFlight):
                flight = started
            else:
                results.append(started)
        if flight is not None:
            results.append(self._finish(flight))
        return results

    def close(self) -> None:
        """Say QUIT and drop the connection (the next send opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _transmit(self, flight: InFlight) -> SendResult | InFlight:
        """MAIL, RCPT, DATA and the body on the open (or a new) connection."""
        conn = self._connection()
        outcome = self._guarded(flight, lambda: transmit(conn, flight.email, flight.blob))
        if isinstance(outcome, Retry):
            return self._transmit(InFlight(flight.email, flight.blob, attempt=2))
        return flight if outcome is None else outcome

    def _finish(self, flight: InFlight) -> SendResult:
        """Read the server's verdict on a transmitted message (re-sent once if dropped)."""
        outcome = self._guarded(flight, lambda: verdict(self._conn))
        if outcome is None:
            return SendResult(flight.email.message_id, ok=True)
        if isinstance(outcome, Retry):
            try:
                again = self._transmit(InFlight(flight.email, flight.blob, attempt=2))
            except _Unavailable as exc:
                return SendResult(flight.email.message_id, ok=False, error=exc.code)
            return self._finish(again) if isinstance(again, InFlight) else again
        return outcome

    def _guarded(self, flight: InFlight, step: Callable[[], None]) -> SendResult | Retry | None:
        """Run one protocol step: None when it succeeded, Retry, or the failure's result."""
        email = flight.email
        try:
            step()
            return None
        except (smtplib.SMTPServerDisconnected, ConnectionResetError, BrokenPipeError):
            self._discard()
            if flight.attempt == 1:
                logger.info("SMTP connection dropped; reconnecting")
                return Retry()
            return SendResult(email.message_id, ok=False, error="disconnected")
        except smtplib.SMTPRecipientsRefused as exc:
            code = next(iter(exc.recipients.values()))[0]
            return self._failed(email, _smtp_failure(email.message_id, code))
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code == 421:  # the server is closing the channel
                self._discard()
            return self._failed(email, _smtp_failure(email.message_id, exc.smtp_code))
        except smtplib.SMTPNotSupportedError:
            failure = SendResult(
                email.message_id, ok=False, permanent=True, error="smtputf8_unsupported"
            )
            return self._failed(email, failure)
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()  # state unknown (timeout mid-transaction): never reuse
            error = "timeout" if isinstance(exc, TimeoutError) else "smtp_error"
            return self._failed(email, SendResult(email.message_id, ok=False, error=error))

    def _failed(self, email: OutgoingEmail, result: SendResult) -> SendResult:
        """Log a failure by message id and code only (no addresses), and return it."""
        kind = "permanently" if result.permanent else "temporarily"
        logger.warning("message %s failed %s: %s", email.message_id, kind, result.error)
        return result

    def _connection(self) -> smtplib.SMTP:
        """The open connection, or a new one (TLS and login as configured)."""
        if self._conn is not None:
            return self._conn
        cfg = self.config
        try:
            conn = self._open()
        except smtplib.SMTPAuthenticationError as exc:
            raise _Unavailable("smtp_auth_failed") from exc
        except ssl.SSLError as exc:
            raise _Unavailable("tls_failed") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise _Unavailable("connect_failed") from exc
        logger.debug("SMTP connection open to %s:%s (%s)", cfg.host, cfg.port, cfg.security)
        self.connections_opened += 1
        self._conn = conn
        return conn

    def _open(self) -> smtplib.SMTP:
        """Connect, greet, upgrade to TLS and log in; closes the socket on any failure."""
        cfg = self.config
        # Only TLS needs a context: building the default one reads the CA store (~50 ms).
        plain = cfg.security == "plain"
        context = None if plain else self._ssl_context or ssl.create_default_context()
        conn: smtplib.SMTP
        if cfg.security == "tls":
            conn = smtplib.SMTP_SSL(
                cfg.host,
                cfg.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                cfg.host, cfg.port, local_hostname=self._local_hostname, timeout=self._timeout
            )
        try:
            conn.ehlo()
            if cfg.security == "starttls":
                conn.starttls(context=context)
                conn.ehlo()
            if cfg.username is not None and cfg.password is not None:
                conn.login(cfg.username, cfg.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def _discard(self) -> None:
        """Forget a broken connection without talking to the server."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
