"""Domain errors: each names the field and the problem, never personal data."""

from __future__ import annotations

from datetime import datetime


class CandorError(Exception):
    """Base of the errors that are the caller's to fix (4xx, non-zero exit)."""


class InvalidInput(CandorError):
    """Bad input: `field` is the key path, `problem` what is wrong with it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(CandorError):
    """The named object does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class Erased(NotFound):
    """The contact was erased: gone for good, with the time it happened (410 in the API)."""

    def __init__(self, contact_id: int, erased_at: datetime) -> None:
        super().__init__("contact", contact_id)
        self.args = (f"contact {contact_id} was erased at {erased_at.isoformat()}",)
        self.erased_at = erased_at


class Conflict(CandorError):
    """The request clashes with the current state (a used token, an erased contact)."""
