"""Rows of imported consent events, hashed exactly like chain.event_hash, but faster.

chain.event_hash builds a dict and serialises it as sorted JSON for every event. Within an
import batch most fields are the same for every event of a consent column, so their JSON is
formatted once into a template with holes for the rest: hashing an event then costs one
string format and one SHA-256 (tests/ledger/test_import_chain.py proves the hashes equal).
"""

from __future__ import annotations

import hashlib
import json
from binascii import b2a_base64
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from candor.ledger.chain import HASHED_FIELDS
from candor.store.sql import to_driver
from candor.store.tables import consent_events

if TYPE_CHECKING:
    from candor.ledger.imports.plan import ConsentColumn

EVENT_COLUMNS = (
    "id",
    "contact_id",
    "seq",
    "purpose_id",
    "purpose_version",
    "theme",
    "channel",
    "status",
    "source",
    "occurred_at",
    "recorded_at",
    "evidence",
    "prev_hash",
    "hash",
)
OCCURRED = EVENT_COLUMNS.index("occurred_at")
# The fields that differ from event to event, in the canonical (sorted) order of the hash.
VARYING = ("contact_id", "evidence", "occurred_at", "prev_hash", "seq", "source", "status")


class EventRows:
    """Driver-ready consent_events rows (EVENT_COLUMNS) of one batch, recorded at `at`."""

    def __init__(self, conn: Connection, at: datetime) -> None:
        self._conn = conn
        self._at = at
        self._times: dict[datetime, tuple[Any, str]] = {}
        self._recorded = self._time(at)[0]
        self._templates: dict[str, str] = {}  # by column name

    def event(
        self,
        event_id: int,
        contact_id: int,
        seq: int,
        col: ConsentColumn,
        status: str,
        source: str,
        when: datetime,
        evidence: bytes,
        prev_hash: str,
    ) -> tuple[Any, ...]:
        """One row; its last value is the event's hash (chain.event_hash of the stored row)."""
        template = self._templates.get(col.column)
        if template is None:
            template = self._templates[col.column] = self._template(col)
        occurred, occurred_json = self._time(when)
        digest = hash_event(
            template, contact_id, evidence, occurred_json, prev_hash, seq, source, status
        )
        purpose = col.purpose
        return (
            event_id,
            contact_id,
            seq,
            purpose.id,
            purpose.current_version,
            col.theme,
            col.channel,
            status,
            source,
            occurred,
            self._recorded,
            evidence,
            prev_hash,
            digest,
        )

    def _template(self, col: ConsentColumn) -> str:
        return event_template(
            purpose_id=col.purpose.id,
            purpose_version=col.purpose.current_version,
            theme=col.theme,
            channel=col.channel,
            recorded_at=self._at,
        )

    def _time(self, moment: datetime) -> tuple[Any, str]:
        """(driver form, canonical JSON) of a time; a batch has few distinct ones."""
        found = self._times.get(moment)
        if found is None:
            stored = to_driver(self._conn, consent_events.c.occurred_at, moment)
            found = self._times[moment] = (stored, json.dumps(canonical_time(moment)))
        return found


def canonical_time(moment: datetime) -> str:
    """A time as chain.event_hash writes it: naive UTC in ISO format."""
    return (moment.astimezone(UTC) if moment.tzinfo else moment).replace(tzinfo=None).isoformat()


def event_template(
    *,
    purpose_id: str,
    purpose_version: int,
    theme: str | None,
    channel: str | None,
    recorded_at: datetime,
) -> str:
    """The canonical JSON of chain.event_hash with %s holes for the VARYING fields.

    Fields an import never sets (address, communication, confirmed event) are null.
    """
    fixed: dict[str, Any] = {
        "address_id": None,
        "channel": channel,
        "communication_id": None,
        "confirms_event_id": None,
        "purpose_id": purpose_id,
        "purpose_version": purpose_version,
        "recorded_at": canonical_time(recorded_at),
        "theme": theme,
    }
    if set(fixed) | set(VARYING) != set(HASHED_FIELDS):  # chain.py changed: update both
        raise RuntimeError("import event template does not cover chain.HASHED_FIELDS")
    parts = [
        f'"{name}":%s'
        if name in VARYING
        else f'"{name}":' + json.dumps(fixed[name]).replace("%", "%%")
        for name in sorted(HASHED_FIELDS)
    ]
    return "{" + ",".join(parts) + "}"


def hash_event(
    template: str,
    contact_id: int,
    evidence: bytes,
    occurred_json: str,
    prev_hash: str,
    seq: int,
    source: str,
    status: str,
) -> str:
    """chain.event_hash of an event given its template and its VARYING fields (in order)."""
    canonical = template % (
        str(contact_id),
        '"' + b2a_base64(evidence, newline=False).decode() + '"',
        occurred_json,
        encode_basestring_ascii(prev_hash),
        str(seq),
        encode_basestring_ascii(source),
        encode_basestring_ascii(status),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
