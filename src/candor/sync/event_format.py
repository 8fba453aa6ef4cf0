"""The inbound event format: the envelope and, per type, the shape of `data`.

Everything a connector sends is checked here before anything is looked up or written, so
bad input is answered 422 naming the field (a naive timestamp, a list where a theme goes,
a NUL character PostgreSQL cannot store), never a 500. Values of the right shape that this
instance does not know (a purpose, a theme, a channel) are ignored later, not refused.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from candor.core.text_checks import Ident, Language, Name, NoNul, TimeZone
from candor.ledger.connector_settings import EVENT_TYPES


def _int_as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Short = Annotated[str, StringConstraints(max_length=64), NoNul]
Long = Annotated[str, StringConstraints(min_length=1, max_length=320), NoNul]
BlockId = Annotated[Short, BeforeValidator(_int_as_text)]


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identifier_type: Literal["external_id", "email"]
    identifier: Long


class InboundEvent(BaseModel):
    """The event format every connector (and every Candor instance) sends."""

    model_config = ConfigDict(extra="ignore")
    id: Ident
    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    occurred_at: AwareDatetime
    source: Short = ""
    subject: Subject
    data: dict[str, Any] = Field(default_factory=dict)


class _Data(BaseModel):
    """The shape of `data` per type; values this instance does not know are ignored later."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ConsentData(_Data):
    purpose: Short
    theme: Short | None = None
    channel: Short | None = None
    address: bool = False
    status: Short


class BlockData(_Data):
    block_id: BlockId = ""
    theme: Short | None = None
    channel: Short | None = None
    address: bool = False


class LiftData(_Data):
    block_id: BlockId = ""


class RectifyChanges(_Data):
    """The fields a rectification may carry besides `attributes.<name>` (checked by the verb)."""

    first_name: Name | None = None
    last_name: Name | None = None
    language: Language | None = None
    timezone: TimeZone | None = None
    emails: list[Long] = Field(default_factory=list, alias="addresses.email")


class RectifyData(_Data):
    changes: RectifyChanges = Field(default_factory=RectifyChanges)


DATA: dict[str, type[_Data]] = {
    "consent.changed": ConsentData,
    "block.set": BlockData,
    "block.lifted": LiftData,
    "contact.rectified": RectifyData,
}


def checked(event: InboundEvent) -> InboundEvent:
    """The event with its data in its type's shape; ValidationError (under `data`) if not."""
    model = DATA.get(event.type)
    if model is None:
        return event
    parsed = model.model_validate(event.data)
    data = parsed.model_dump(by_alias=True)
    if isinstance(parsed, RectifyData):  # attributes.<name> stay as sent, for the verb
        named = parsed.changes.model_dump(by_alias=True, exclude_unset=True)
        data = {"changes": {**event.data["changes"], **named}}
    return event.model_copy(update={"data": data})


def errors(exc: ValidationError, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in (*prefix, *err["loc"])) or "(body)"
    return {"errors": [{"field": field, "problem": err["msg"]}]}
