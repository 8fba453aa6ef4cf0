"""SMS and WhatsApp provider settings: `provider: http | twilio | meta` under channels.sms/whatsapp.

Secrets never sit in candor.yaml: each names the environment variable that holds it. Base
URLs are configurable so a test (or a regional endpoint) can stand in for the provider.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

TWILIO_BASE = "https://api.twilio.com"
META_BASE = "https://graph.facebook.com"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


def env_value(name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the environment variable `name`, None when unnamed or unset."""
    env = os.environ if environ is None else environ
    return env.get(name) or None if name else None


class HttpProvider(_Strict):
    """A generic HTTP provider: JSON {to, text, channel, message_id} with a bearer API key."""

    provider: Literal["http"] = "http"
    provider_url: str
    api_key_env: str | None = None
    connections: int = Field(1, ge=1, le=32)  # parallel requests per worker

    @field_validator("provider_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The provider key from `api_key_env`, None when unset."""
        return env_value(self.api_key_env, environ)


class _Remote(_Strict):
    """A provider whose API lives at a configurable base URL (a test stands in for it)."""

    base_url: str

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")


class TwilioProvider(_Remote):
    """Twilio's Messages API: account SID and auth token from the environment."""

    provider: Literal["twilio"]
    account_sid_env: str
    auth_token_env: str
    from_: str | None = Field(None, alias="from")  # the sending number (E.164)
    messaging_service_sid: str | None = None  # or a Messaging Service that picks one
    base_url: str = TWILIO_BASE
    connections: int = Field(1, ge=1, le=32)

    @field_validator("from_")
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        if value is not None and not _E164.match(value):
            raise ValueError("must be an E.164 number such as +4915100000000")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioProvider:
        if not self.from_ and not self.messaging_service_sid:
            raise ValueError("needs `from` (a number) or `messaging_service_sid`")
        return self

    def sender(self) -> dict[str, str]:
        """The form field naming the sender: MessagingServiceSid, else From."""
        if self.messaging_service_sid:
            return {"MessagingServiceSid": self.messaging_service_sid}
        return {"From": self.from_ or ""}


class MetaProvider(_Remote):
    """Meta's WhatsApp Cloud API: the business phone number id and tokens from the environment."""

    provider: Literal["meta"]
    phone_number_id: str = Field(pattern=r"^[0-9]{1,32}$")
    access_token_env: str
    app_secret_env: str  # signs webhooks (X-Hub-Signature-256)
    verify_token_env: str  # answers the webhook verification challenge
    api_version: str = Field("v21.0", pattern=r"^v[0-9]+\.[0-9]+$")
    base_url: str = META_BASE
    connections: int = Field(1, ge=1, le=32)


def _which(value: Any) -> str:
    """The provider a section names; `http` when it names none (the generic adapter)."""
    if isinstance(value, Mapping):
        return str(value.get("provider") or "http")
    return str(getattr(value, "provider", "http"))


ProviderSettings = Annotated[
    Annotated[HttpProvider, Tag("http")]
    | Annotated[TwilioProvider, Tag("twilio")]
    | Annotated[MetaProvider, Tag("meta")],
    Discriminator(_which),
]
AnyProvider = HttpProvider | TwilioProvider | MetaProvider
PROVIDERS_OF: Mapping[str, frozenset[str]] = {
    "sms": frozenset({"http", "twilio"}),
    "whatsapp": frozenset({"http", "meta"}),
}
