"""Reading DSNs (RFC 3464) and abuse reports (RFC 5965) as real servers write them."""

from __future__ import annotations

import pytest

from candor.channels.bounce_parse import classify, parse_report
from candor.channels.reports import Unreadable
from candor.channels.verp import read_return_path, return_path
from tests.channels.receiving_mta import arf, dsn

KEY = b"k" * 32
DOMAIN = "bounces.example.org"
ORIGINAL = (
    b"From: news@example.org\r\nTo: bob@example.net\r\nSubject: Hi\r\n"
    b"Message-ID: <abc@example.org>\r\n\r\nHello\r\n"
)


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        ("failed", "5.1.1", ("bounced", "undeliverable")),
        ("failed", "5.1.10", ("bounced", "undeliverable")),
        ("failed", "5.2.1", ("bounced", "undeliverable")),
        ("failed", "5.2.2", ("bounced", "soft_bounce")),
        ("failed", "4.4.7", ("bounced", "soft_bounce")),
        ("failed", "5.7.1", ("bounced", "none")),
        ("delayed", "4.4.1", ("sent", "none")),
        ("delivered", "2.0.0", ("delivered", "none")),
        ("failed", "garbage", ("bounced", "soft_bounce")),
    ],
)
def test_dsn_blocks_are_classified(action: str, status: str, expected: tuple[str, str]) -> None:
    assert classify(action, status) == expected


def test_verp_addresses_are_signed_and_name_their_message() -> None:
    address = return_path(KEY, 4711, DOMAIN)
    assert address.startswith("bounces+4711-") and address.endswith(f"@{DOMAIN}")
    assert read_return_path(KEY, address, DOMAIN) == 4711
    assert read_return_path(KEY, address.upper(), DOMAIN) == 4711  # lower-cased on the way
    forged = address.replace("4711", "4712")
    assert read_return_path(KEY, forged, DOMAIN) is None
    assert read_return_path(KEY, address, "other.example") is None
    assert read_return_path(b"x" * 32, address, DOMAIN) is None


def test_a_hard_bounce_names_its_message_through_the_envelope_recipient() -> None:
    verp = return_path(KEY, 12, DOMAIN)
    (report,) = parse_report(
        dsn(ORIGINAL, verp, "bob@example.net"), key=KEY, domain=DOMAIN, recipients=[verp]
    )
    assert (report.kind, report.state, report.effect, report.detail) == (
        "bounce",
        "bounced",
        "undeliverable",
        "5.1.1",
    )
    assert report.outbox_id == 12
    assert report.evidence["final_recipient"] == "rfc822; bob@example.net"
    assert "User unknown" in report.evidence["diagnostic_code"]
    assert report.evidence["reporting_mta"] == "dns; mx.example.net"


def test_a_complaint_names_its_message_through_original_mail_from() -> None:
    verp = return_path(KEY, 13, DOMAIN)
    raw = arf(ORIGINAL, verp, "bob@example.net", f"fbl@{DOMAIN}")
    (report,) = parse_report(raw, key=KEY, domain=DOMAIN, recipients=[f"fbl@{DOMAIN}"])
    assert (report.kind, report.state, report.effect, report.outbox_id) == (
        "complaint",
        "complained",
        "block",
        13,
    )
    assert report.evidence["feedback_type"] == "abuse"
    assert report.evidence["user_agent"] == "ExampleFBL/1.0"


def test_not_spam_feedback_blocks_nothing() -> None:
    raw = arf(ORIGINAL, return_path(KEY, 14, DOMAIN), "b@example.net", "x@x").replace(
        b"Feedback-Type: abuse", b"Feedback-Type: not-spam"
    )
    (report,) = parse_report(raw, key=KEY, domain=DOMAIN)
    assert (report.state, report.effect) == ("delivered", "none")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"Subject: out of office\r\n\r\nI am away.\r\n", "not a multipart/report"),
        (
            b"Content-Type: multipart/report; report-type=disposition-notification; "
            b'boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nread\r\n--b--\r\n',
            "report-type disposition-notification is not handled",
        ),
        (
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            b"--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--b--\r\n",
            "delivery-status without recipient fields",
        ),
    ],
)
def test_what_cannot_be_read_says_why_and_keeps_the_message(raw: bytes, problem: str) -> None:
    found = parse_report(raw, key=KEY, domain=DOMAIN)
    assert isinstance(found, Unreadable)
    assert (found.problem, found.raw) == (problem, raw)
