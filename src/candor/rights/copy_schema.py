"""The documented shape of the access copy: pydantic models, exported as JSON Schema.

docs/access-copy.schema.json is generated from these models (`python -m
candor.rights.copy_schema > docs/access-copy.schema.json`); a test checks the file is current
and that compiled copies validate.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

JsonValue = Any


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Contact(Strict):
    id: int
    external_id: str | None
    first_name: str | None
    last_name: str | None
    language: str
    timezone: str
    source: str
    created_at: str
    updated_at: str
    restricted_at: str | None
    objected_at: str | None


class Address(Strict):
    id: int
    channel: str
    value: str | None
    deliverable: bool
    created_at: str


class Attribute(Strict):
    name: str
    value: JsonValue
    category: str
    description: str


class ConsentEvent(Strict):
    id: int
    seq: int
    purpose: str
    purpose_version: int
    theme: str | None
    channel: str | None
    address_id: int | None
    status: str
    source: str
    occurred_at: str
    recorded_at: str
    evidence: dict[str, JsonValue] | None
    communication_id: int | None
    confirms_event_id: int | None
    hash: str


class Lift(Strict):
    lifted_at: str
    reason: str
    source: str
    evidence: dict[str, JsonValue] | None


class Block(Strict):
    id: int
    contact: int
    kind: str
    channel: str | None
    address_id: int | None
    theme: str | None
    reason: str
    source: str
    communication_id: int | None
    created_at: str
    evidence: dict[str, JsonValue] | None
    lifted: Lift | None


class DecisionRecord(Strict):
    reason: str
    basis: str | None
    event: int | None


class Communication(Strict):
    id: int
    channel: str
    direction: Literal["in", "out"]
    address_id: int | None
    theme: str | None
    purpose: str | None
    occurred_at: str
    content_ref: str
    decision: DecisionRecord | None


class PendingMessage(Strict):
    id: int
    journey: str | None
    step: str | None
    channel: str
    template: str
    purpose: str
    theme: str | None
    kind: str
    status: str
    created_at: str | None
    sent_at: str | None
    decision: DecisionRecord


class JourneyTaken(Strict):
    journey: str
    name: str | None
    purpose: str | None
    step: str | None
    status: str
    entered_at: str | None
    data: dict[str, JsonValue]
    events: list[dict[str, JsonValue]]  # what a triggered journey heard and let them in by
    transitions: list[dict[str, JsonValue]]


class HistoryEntry(Strict):
    status: str
    at: str
    actor: str
    note: str


class Request(Strict):
    id: int
    type: str
    contact: int | None
    channel: str
    opened_by: str
    status: str
    received_at: str
    due_at: str
    extended_months: int
    overdue: bool
    awaiting_approval: bool
    approved_by: str | None
    verified_at: str | None
    closed_at: str | None
    summary: dict[str, JsonValue]
    history: list[HistoryEntry]


class AutomatedDecision(Strict):
    id: int
    journey: str | None
    purpose: str
    model: dict[str, JsonValue]
    factors: list[dict[str, JsonValue]]
    score: float
    threshold: float
    outcome: str
    status: str
    decided_at: str
    explanation: str
    history: list[HistoryEntry]


class Rectification(Strict):
    at: str
    actor: str
    field: str
    old_value: JsonValue
    new_value: JsonValue


class BusinessRecord(Strict):
    id: int
    category: str
    occurred_at: str
    data: JsonValue
    restricted: bool
    retain_until: str | None
    retained_under: str | None


class LegalHold(Strict):
    id: int
    category: str | None
    reason: str
    until: str | None
    created_at: str | None
    released_at: str | None


class PurposeVersion(Strict):
    version: int
    name: str
    wording: str


class PurposeInfo(Strict):
    id: str
    name: str
    kind: str
    legal_basis: str
    dpv: str
    current_version: int
    agreed_versions: list[PurposeVersion]


class Information(Strict):
    controller: JsonValue
    purposes: list[PurposeInfo]
    categories: list[dict[str, JsonValue]]
    recipients: list[dict[str, JsonValue]]
    retention: list[dict[str, JsonValue]]
    sources: dict[str, JsonValue]
    automated_decision_logic: str
    rights: list[dict[str, str]]
    complaint: dict[str, JsonValue]


class AccessCopy(Strict):
    """Everything Candor holds about one person (Art. 15) and the portability export (Art. 20)."""

    format: Literal["candor.access-copy"]
    version: Literal[1]
    kind: Literal["access", "portability"]
    generated_at: str
    contact: Contact
    addresses: list[Address]
    attributes: list[Attribute]
    consents: list[ConsentEvent]
    blocks: list[Block]
    communications: list[Communication]
    messages_pending: list[PendingMessage]
    journeys: list[JourneyTaken]
    requests: list[Request]
    automated_decisions: list[AutomatedDecision]
    rectifications: list[Rectification]
    business_records: list[BusinessRecord]
    legal_holds: list[LegalHold]
    information: Information


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the access copy."""
    schema = AccessCopy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://candor.dev/schemas/access-copy-1.json"
    schema["title"] = "Candor access copy"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover - developer tool
    import sys

    sys.stdout.write(schema_text())
