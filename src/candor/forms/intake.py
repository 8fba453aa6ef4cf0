"""Taking a sign-up form post at the door: check it against the form, seal it, queue it.

Everything a visitor can get wrong is refused here, naming the field, with nothing stored.
What passes is sealed under a key of its own and queued for the worker (forms.process) in
one short transaction that does the same work whatever the address: known, new and erased
addresses get the same answer in the same time. A filled honeypot, or a form sent back
sooner than its `min_fill_seconds` after the page was served, is answered like anyone else
and dropped (`looks_automated`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, insert, select

from candor.core import tokens
from candor.core.errors import InvalidInput
from candor.ledger.addresses import AddressError, normalize
from candor.ledger.contacts import IDENTITY_FIELDS
from candor.ledger.form_specs import FormSpec
from candor.ledger.profile import attribute_types, coerce_value
from candor.store.tables import form_submissions, purposes
from candor.store.vault import Vault
from candor.store.wakeup import notify

HONEYPOT: Final = "website"  # hidden from people; bots fill in what looks like a URL field
STAMP: Final = "started"  # when the hosted page was served (signed)
LANGUAGE: Final = "lang"
BOXES: Final = "consent"
STAMP_PURPOSE: Final = "form-started"
STAMP_VALID_FOR: Final = timedelta(days=1)
MAX_VALUE: Final = 1000  # characters per field
SEALED_FIELD: Final = "form"


def address_field(channel: str) -> str:
    """The form field asking for a channel's address: `email`, or `phone` (SMS, WhatsApp)."""
    return "email" if channel == "email" else "phone"


@dataclass(frozen=True)
class Submission:
    """A checked sign-up: addresses (normalised), the boxes ticked, the wording versions
    shown, the answers, and the evidence of the request (page, time, IP, user agent)."""

    form_id: str
    language: str
    addresses: dict[str, str]
    boxes: tuple[str, ...]
    versions: dict[str, int]
    attributes: dict[str, Any] = field(default_factory=dict)
    identity: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


def stamp(key: bytes, form_id: str, now: datetime) -> str:
    """The signed moment the page was served (the hosted page carries it in STAMP)."""
    claims = {"f": form_id, "s": int(now.timestamp())}
    return tokens.sign(key, STAMP_PURPOSE, claims, now + STAMP_VALID_FOR)


def looks_automated(
    form: FormSpec, fields: Mapping[str, Sequence[str]], key: bytes, now: datetime
) -> bool:
    """A filled honeypot, a forged or foreign stamp, or a form filled too fast.

    A post without a stamp comes from the embeddable snippet (static HTML, which cannot
    carry the moment it was shown): it relies on the honeypot, the rate limits and the
    double opt-in itself.
    """
    if any(v.strip() for v in fields.get(HONEYPOT, ())):
        return True
    given = fields.get(STAMP)
    if not given:
        return False
    try:
        claims = tokens.verify(key, given[0], STAMP_PURPOSE, now)
    except tokens.TokenError:
        return True
    started = claims.get("s")
    if claims.get("f") != form.id or not isinstance(started, int):
        return True
    return now.timestamp() - started < form.min_fill_seconds


def read_submission(
    conn: Connection,
    form: FormSpec,
    fields: Mapping[str, Sequence[str]],
    language: str,
    evidence: dict[str, Any],
) -> Submission:
    """Check a post against the form; InvalidInput names the first field at fault."""
    allowed = {BOXES, HONEYPOT, STAMP, LANGUAGE, *form.attributes}
    allowed |= {address_field(c) for c in form.channels}
    allowed |= {f"wording.{p.id}" for p in form.purposes}
    for name, values in fields.items():
        if name not in allowed:
            raise InvalidInput(name, "not a field of this form")
        for value in values:
            if "\x00" in value:
                raise InvalidInput(name, "must not contain NUL characters")
            if len(value) > MAX_VALUE:
                raise InvalidInput(name, f"is longer than {MAX_VALUE} characters")
        if name != BOXES and len(values) > 1:
            raise InvalidInput(name, "was given more than once")
    boxes = _boxes(form, fields.get(BOXES, ()))
    return Submission(
        form_id=form.id,
        language=language,
        addresses=_addresses(form, fields, boxes),
        boxes=boxes,
        versions=_versions(conn, form, fields),
        attributes=_attributes(conn, form, fields),
        identity={
            name: _one(fields, name).strip()
            for name in form.attributes
            if name in IDENTITY_FIELDS and _one(fields, name).strip()
        },
        evidence=evidence,
    )


def _one(fields: Mapping[str, Sequence[str]], name: str) -> str:
    values = fields.get(name) or ("",)
    return values[0]


def _boxes(form: FormSpec, ticked: Sequence[str]) -> tuple[str, ...]:
    offered = [b.value for b in form.boxes()]
    for value in ticked:
        if value not in offered:
            raise InvalidInput(BOXES, "not a box of this form")
    if not ticked:
        raise InvalidInput(BOXES, "tick at least one box")
    return tuple(v for v in offered if v in set(ticked))


def _addresses(
    form: FormSpec, fields: Mapping[str, Sequence[str]], boxes: tuple[str, ...]
) -> dict[str, str]:
    """The address for each channel a ticked box names (normalised), or InvalidInput."""
    needed = {value.rsplit(":", 1)[1] for value in boxes}
    out: dict[str, str] = {}
    for channel in form.channels:
        name = address_field(channel)
        value = _one(fields, name).strip()
        if not value:
            if channel in needed:
                raise InvalidInput(name, "is required for the boxes you ticked")
            continue
        try:
            normalized = normalize(channel, value)
        except AddressError as exc:
            raise InvalidInput(name, str(exc)) from None
        if channel in needed:
            out[channel] = normalized
    return out


def _versions(
    conn: Connection, form: FormSpec, fields: Mapping[str, Sequence[str]]
) -> dict[str, int]:
    """The wording version each purpose was shown in (the current one unless the page says)."""
    ids = [p.id for p in form.purposes]
    query = select(purposes.c.id, purposes.c.current_version).where(purposes.c.id.in_(ids))
    current = {row.id: row.current_version for row in conn.execute(query)}
    out = {}
    for purpose_id in ids:
        name = f"wording.{purpose_id}"
        given = _one(fields, name).strip()
        latest = int(current.get(purpose_id, 1))
        if not given:
            out[purpose_id] = latest
            continue
        if not given.isdigit() or not 1 <= int(given) <= latest:
            raise InvalidInput(name, "is not a version of this purpose's wording")
        out[purpose_id] = int(given)
    return out


def _attributes(
    conn: Connection, form: FormSpec, fields: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """The answers typed by their declaration (an empty answer is no answer)."""
    types = attribute_types(conn)
    out: dict[str, Any] = {}
    for name in form.attributes:
        if name in IDENTITY_FIELDS:
            continue
        value = _one(fields, name).strip()
        kind = types.get(name, "string")
        if kind == "boolean":
            out[name] = value == "on" if name in fields else None
        elif value:
            out[name] = coerce_value(value, kind, name)
    return {k: v for k, v in out.items() if v is not None}


def queue_submission(conn: Connection, vault: Vault, submission: Submission, at: datetime) -> int:
    """Seal the submission under a new key of its own and queue it; returns its row id."""
    (key_id,) = vault.create_keys(1)
    sealed = vault.encrypt_json(key_id, SEALED_FIELD, asdict(submission))
    row_id = conn.execute(
        insert(form_submissions)
        .values(form_id=submission.form_id, key_id=key_id, payload=sealed, received_at=at)
        .returning(form_submissions.c.id)
    ).scalar_one()
    notify(conn)
    return int(row_id)
