"""The in-memory RecordingTransport used by other packages' tests."""

from __future__ import annotations

from candor.channels.base import RecordingTransport, SendResult, Transport
from candor.channels.email import OutgoingEmail, SmtpTransport
from candor.channels.sms import HttpProviderTransport, OutgoingSms


def sms(n: int) -> OutgoingSms:
    return OutgoingSms(to="+4915112345678", text=f"t{n}", message_id=f"m{n}")


def test_records_and_fails_on_request() -> None:
    transport: RecordingTransport[OutgoingSms] = RecordingTransport()
    transport.fail("m2", permanent=True, error="smtp_550")
    transport.fail(lambda m: m.text == "t3", error="http_503", times=1)
    first = transport.send([sms(1), sms(2), sms(3)])
    assert first == [
        SendResult("m1", ok=True),
        SendResult("m2", ok=False, permanent=True, error="smtp_550"),
        SendResult("m3", ok=False, permanent=False, error="http_503"),
    ]
    second = transport.send([sms(2), sms(3)])
    assert [r.ok for r in second] == [False, True]  # m3 failed only once
    assert [m.message_id for m in transport.sent] == ["m1", "m3"]
    assert [m.message_id for m in transport.attempts] == ["m1", "m2", "m3", "m2", "m3"]
    assert transport.batches == 2
    assert not transport.closed
    as_protocol: Transport[OutgoingSms] = transport
    as_protocol.close()
    assert transport.closed


def test_real_transports_satisfy_the_protocol() -> None:
    """Static check (mypy) plus a runtime smoke test: constructing connects to nothing."""
    email: Transport[OutgoingEmail] = SmtpTransport("smtp://127.0.0.1:1")
    mobile: Transport[OutgoingSms] = HttpProviderTransport("sms", "http://127.0.0.1:1/", "k")
    assert email.send([]) == []
    assert mobile.send([]) == []
    email.close()
    mobile.close()
