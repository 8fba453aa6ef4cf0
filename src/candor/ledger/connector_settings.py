"""The `connectors` and `sync` settings: validated models, read once per transaction.

A webhook or candor connector receives this instance's events and may send its own; an sql
or http connector is a back-end system that feeds journeys (sync.sources). Secrets never live
in the settings: `secret_env` names the environment variable that holds them.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy import Connection

from candor.core.errors import InvalidInput
from candor.ledger.registry import setting

EVENT_TYPES = (
    "consent.changed",
    "block.set",
    "block.lifted",
    "contact.rectified",
    "contact.restricted",
    "contact.restriction_lifted",
    "contact.objected",
    "contact.erased",
)
# "connector:" + id must fit the 32-character source columns of the ledger.
CONNECTOR_ID = r"^[a-z][a-z0-9_\-]{0,21}$"
CACHE_KEY = "candor.sync.settings"
log = logging.getLogger("candor.sync")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class _Named(_Strict):
    """What every connector has; name and country are shown as recipients (Art. 15(1)(c))."""

    id: str = Field(pattern=CONNECTOR_ID)
    name: str | None = None
    country: str | None = None


class WebhookConnector(_Named):
    """A system that holds copies of our people: events go out to it and come in from it."""

    kind: Literal["webhook", "candor"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    events: list[str] | Literal["*"] = "*"
    identifier: Literal["external_id", "email"] = "external_id"
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    retry_base_seconds: float | None = Field(default=None, gt=0, le=86_400)
    timeout_seconds: float | None = Field(default=None, gt=0, le=300)

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            unknown = [v for v in value if v not in EVENT_TYPES]
            if unknown:
                raise ValueError(f"unknown event type {unknown[0]!r}")
        return value

    def wants(self, event_type: str) -> bool:
        return self.events == "*" or event_type in self.events

    def secret(self) -> bytes | None:
        """The shared HMAC secret from the environment (None when the variable is unset)."""
        value = os.environ.get(self.secret_env)
        return value.encode() if value else None


class SqlSource(_Named):
    """A back-end database: `query` is a SELECT returning external_id and attribute columns."""

    kind: Literal["sql"]
    url: str = Field(min_length=1)
    query: str = Field(pattern=r"(?is)^\s*select\s")


class HttpSource(_Named):
    """A back-end HTTP endpoint: GET returns a JSON list of {external_id, ...fields}."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://")
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_seconds: float = Field(default=30, gt=0, le=600)


Connector = Annotated[WebhookConnector | SqlSource | HttpSource, Field(discriminator="kind")]


class SyncSettings(_Strict):
    """The `sync` section: this instance's name and delivery defaults."""

    name: str = Field(default="candor", pattern=CONNECTOR_ID)
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_base_seconds: float = Field(default=30, gt=0, le=86_400)
    retry_max_seconds: float = Field(default=6 * 3600, gt=0)
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    batch: int = Field(default=200, ge=1, le=10_000)


_CONNECTORS: TypeAdapter[list[Connector]] = TypeAdapter(list[Connector])


def _with_kind(raw: Any) -> Any:
    """Items without a kind are webhooks (the discriminator needs the key present)."""
    if isinstance(raw, list):
        return [{"kind": "webhook", **i} if isinstance(i, dict) else i for i in raw]
    return raw


def connector_problems(raw: Any) -> list[tuple[str, str]]:
    """(key path, message) per problem of a `connectors` section, e.g. connectors[1:shop].url."""
    if raw is None:
        return []
    try:
        items = _CONNECTORS.validate_python(_with_kind(raw))
    except ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = list(err["loc"])
            path = "connectors"
            first = loc[0] if loc else None
            if isinstance(first, int):
                index = first
                loc.pop(0)
                item = raw[index] if index < len(raw) else None
                ident = item.get("id") if isinstance(item, dict) else None
                path += f"[{index}:{ident}]" if ident else f"[{index}]"
                if loc and loc[0] in ("webhook", "candor", "sql", "http"):
                    loc.pop(0)  # the discriminator's branch name
            path += "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in loc)
            out.append((path, err["msg"]))
        return out
    ids = [c.id for c in items]
    return [
        (f"connectors[{i}:{c.id}].id", "declared more than once")
        for i, c in enumerate(items)
        if ids.count(c.id) > 1
    ]


RECEIVERS = ("webhook", "candor")
NAME_HINT = (
    "name this instance: connectors receive its events under this name (a Candor on the "
    "other side declares a connector with this id), e.g. sync: {name: crm}"
)


def settings_problems(connectors: Any, sync: Any) -> list[tuple[str, str]]:
    """Every problem of the `connectors` and `sync` sections (for `config apply`)."""
    problems = connector_problems(connectors)
    try:
        parse_sync(sync)
    except InvalidInput as exc:
        problems.append((exc.field, exc.problem))
    named = isinstance(sync, dict) and sync.get("name") is not None
    if _receivers(connectors) and not named:
        problems.append(("sync.name", f"not set while connectors are declared; {NAME_HINT}"))
    return problems


def _receivers(raw: Any) -> list[Any]:
    """The declared connectors that receive this instance's events (webhook or candor)."""
    items = raw if isinstance(raw, list) else []
    return [i for i in items if isinstance(i, dict) and i.get("kind", "webhook") in RECEIVERS]


def parse_connectors(raw: Any) -> list[WebhookConnector | SqlSource | HttpSource]:
    """The validated connectors; InvalidInput naming the first bad key."""
    problems = connector_problems(raw)
    if problems:
        raise InvalidInput(*problems[0])
    return list(_CONNECTORS.validate_python(_with_kind(raw or [])))


def parse_sync(raw: Any) -> SyncSettings:
    """The validated `sync` section (defaults when absent)."""
    try:
        return SyncSettings.model_validate(raw or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput("sync." + ".".join(str(p) for p in err["loc"]), err["msg"]) from None


def usable_connectors(raw: Any) -> list[WebhookConnector | SqlSource | HttpSource]:
    """The well-formed connectors of stored settings; `config apply` refuses the others,
    settings written another way (a recipient declared without url) are left unused here."""
    out = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            out.append(_CONNECTORS.validate_python(_with_kind([item]))[0])
        except ValidationError:
            log.warning("connectors[%d] is not a usable connector; ignored", index)
    return out


def _sync_or_default(conn: Connection) -> SyncSettings:
    try:
        return parse_sync(setting(conn, "sync"))
    except InvalidInput:
        log.warning("the sync settings are invalid; defaults used")
        return SyncSettings()


class Settings:
    """Connectors and sync settings as read in one transaction."""

    def __init__(self, connectors: list[Any], sync: SyncSettings) -> None:
        self.connectors = connectors
        self.sync = sync
        self.webhooks = [c for c in connectors if isinstance(c, WebhookConnector)]

    def webhook(self, connector_id: str) -> WebhookConnector | None:
        return next((c for c in self.webhooks if c.id == connector_id), None)

    def source(self, connector_id: str) -> SqlSource | HttpSource | None:
        found = next((c for c in self.connectors if c.id == connector_id), None)
        return found if isinstance(found, SqlSource | HttpSource) else None


def load_settings(conn: Connection) -> Settings:
    """The sync settings, cached on the connection for the current transaction."""
    transaction = conn.get_transaction()
    cached = conn.info.get(CACHE_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        settings: Settings = cached[1]
        return settings
    raw = setting(conn, "connectors")
    settings = Settings(usable_connectors(raw) if raw else [], _sync_or_default(conn))
    if transaction is not None:
        conn.info[CACHE_KEY] = (transaction, settings)
    return settings
