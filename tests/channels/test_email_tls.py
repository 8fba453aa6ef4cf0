"""STARTTLS with login (password from the environment) and implicit TLS, against aiosmtpd."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from candor.channels.email import OutgoingEmail, SmtpTransport, message_id_for
from candor.channels.mailsink import free_port


class Collector:
    """Minimal aiosmtpd handler that keeps raw messages in memory."""

    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.original_content)
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context


def client_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files[0]))


def email(n: int) -> OutgoingEmail:
    return OutgoingEmail(
        to="ann@example.com",
        from_="news@example.org",
        subject=f"tls {n}",
        text="hello",
        message_id=message_id_for(f"tls:{n}", "example.org"),
    )


@pytest.fixture
def starttls_server(tls_files: tuple[Path, Path]) -> Iterator[tuple[Collector, int]]:
    collector = Collector()
    port = free_port()
    controller = Controller(
        collector,
        hostname="127.0.0.1",
        port=port,
        server_hostname="test.localhost",
        tls_context=server_context(tls_files),
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
    )
    controller.start()
    yield collector, port
    controller.stop()


def test_starttls_with_password_from_environment(
    starttls_server: tuple[Collector, int],
    tls_files: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collector, port = starttls_server
    monkeypatch.setenv("CANDOR_TEST_SMTP_PASSWORD", "s3cret")
    transport = SmtpTransport(
        f"smtp+starttls://mailer@127.0.0.1:{port}",
        password_env="CANDOR_TEST_SMTP_PASSWORD",
        ssl_context=client_context(tls_files),
        timeout=5,
    )
    with transport:
        results = transport.send([email(1), email(2)])
    assert [r.ok for r in results] == [True, True]
    assert len(collector.received) == 2


def test_wrong_password_defers_the_batch(
    starttls_server: tuple[Collector, int], tls_files: tuple[Path, Path]
) -> None:
    collector, port = starttls_server
    transport = SmtpTransport(
        f"smtp+starttls://mailer:wrong@127.0.0.1:{port}",
        ssl_context=client_context(tls_files),
        timeout=5,
    )
    with transport:
        results = transport.send([email(1), email(2)])
    assert [(r.ok, r.permanent, r.error) for r in results] == [
        (False, False, "smtp_auth_failed")
    ] * 2
    assert collector.received == []


def test_untrusted_certificate_is_refused(starttls_server: tuple[Collector, int]) -> None:
    _, port = starttls_server
    transport = SmtpTransport(f"smtp+starttls://127.0.0.1:{port}", timeout=5)
    with transport:
        [result] = transport.send([email(1)])
    assert (result.ok, result.permanent, result.error) == (False, False, "tls_failed")


def test_implicit_tls(tls_files: tuple[Path, Path]) -> None:
    collector = Collector()
    port = free_port()
    controller = Controller(
        collector,
        hostname="127.0.0.1",
        port=port,
        server_hostname="test.localhost",
        ssl_context=server_context(tls_files),
    )
    controller.start()
    try:
        with SmtpTransport(
            f"smtps://127.0.0.1:{port}", ssl_context=client_context(tls_files), timeout=5
        ) as transport:
            [result] = transport.send([email(1)])
        assert result.ok
        assert b"Subject: tls 1" in collector.received[0]
    finally:
        controller.stop()
