"""Shared transport contract: the send result, the Transport protocol and an in-memory fake.

Every transport answers a batch with one SendResult per message, in order, so the journey
runtime can mark each outbox row as sent, to retry, or permanently failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True, slots=True)
class SendResult:
    """Outcome of one message: ok, or failed (permanent: retrying cannot help).

    `error` is a stable machine code such as ``smtp_550`` or ``http_503``; it never contains
    an address or other personal data.
    """

    message_id: str
    ok: bool
    permanent: bool = False
    error: str | None = None
    provider_ref: str | None = None  # the provider's own id (Twilio SID, WhatsApp wamid)
    state: str = "sent"  # delivery state on acceptance: `queued` where the provider reports on


class HasMessageId(Protocol):
    """Anything a transport sends: it carries the caller-given, idempotent message id."""

    @property
    def message_id(self) -> str: ...


MessageT = TypeVar("MessageT", bound=HasMessageId)
MessageT_contra = TypeVar("MessageT_contra", bound=HasMessageId, contravariant=True)


class Transport(Protocol[MessageT_contra]):
    """A channel transport: sends batches, answers one SendResult per message, in order."""

    def send(self, messages: Iterable[MessageT_contra]) -> list[SendResult]: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class _FailureRule(Generic[MessageT]):
    """One configured failure of a RecordingTransport."""

    matches: Callable[[MessageT], bool]
    permanent: bool
    error: str
    remaining: int | None


class RecordingTransport(Generic[MessageT]):
    """In-memory transport for tests of other packages: records messages, fails on request.

    `attempts` holds every message handed to `send`, `sent` only the accepted ones.
    """

    def __init__(self) -> None:
        self.attempts: list[MessageT] = []
        self.sent: list[MessageT] = []
        self.batches = 0
        self.closed = False
        self._rules: list[_FailureRule[MessageT]] = []

    def fail(
        self,
        match: str | Callable[[MessageT], bool],
        *,
        permanent: bool = False,
        error: str = "simulated",
        times: int | None = None,
    ) -> None:
        """Fail messages with this id (or matching the predicate), `times` times or always."""
        matches: Callable[[MessageT], bool]
        if isinstance(match, str):
            wanted = match
            matches = lambda message: message.message_id == wanted  # noqa: E731
        else:
            matches = match
        self._rules.append(_FailureRule(matches, permanent, error, times))

    def send(self, messages: Iterable[MessageT]) -> list[SendResult]:
        """Record the batch and answer each message per the configured failures."""
        self.batches += 1
        results = []
        for message in messages:
            self.attempts.append(message)
            rule = self._matching_rule(message)
            if rule is None:
                self.sent.append(message)
                results.append(SendResult(message.message_id, ok=True))
            else:
                results.append(
                    SendResult(
                        message.message_id, ok=False, permanent=rule.permanent, error=rule.error
                    )
                )
        return results

    def close(self) -> None:
        """Mark the transport closed (tests can assert the runtime closes it)."""
        self.closed = True

    def _matching_rule(self, message: MessageT) -> _FailureRule[MessageT] | None:
        """The first rule that still applies to this message, consuming one of its uses."""
        for rule in self._rules:
            if (rule.remaining is None or rule.remaining > 0) and rule.matches(message):
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule
        return None
