"""Channel settings: the `channels` and `public_url` sections of candor.yaml, env overrides.

`candor config apply` stores the sections in the settings table; everything that sends,
links or receives reads them here, validated once, so a bad value names its key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection

from candor.channels.base import MessageT, SendResult, Transport
from candor.channels.email import SmtpConfigError, SmtpTransport, parse_smtp_url
from candor.channels.keywords import KeywordConfig, LanguageKeywords
from candor.channels.sms import HttpProviderTransport
from candor.core.errors import CandorError
from candor.ledger.config import ConfigFile
from candor.ledger.registry import setting

ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "CANDOR_SMTP_URL": ("email", "smtp_url"),
    "CANDOR_SMS_URL": ("sms", "provider_url"),
    "CANDOR_WHATSAPP_URL": ("whatsapp", "provider_url"),
}
DEFAULT_FROM = "candor@localhost"


class ChannelSettingsError(CandorError, ValueError):
    """Unusable channel settings; the message starts with the key path (never a secret)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class EmailSettings(_Strict):
    """SMTP server (smtp://, smtp+starttls://, smtps://), sender and bounce address."""

    smtp_url: str = "smtp://127.0.0.1:2525"
    from_: str = Field(DEFAULT_FROM, alias="from")
    bounce: str | None = None
    password_env: str | None = None
    connections: int = Field(1, ge=1, le=32)  # parallel SMTP connections per worker

    @field_validator("smtp_url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            parse_smtp_url(value, environ={})
        except SmtpConfigError as exc:
            if "password" not in str(exc):  # credentials are checked when a transport opens
                raise ValueError(str(exc)) from None
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        local, at, domain = value.rpartition("<")[2].rstrip(">").rpartition("@")
        if not at or not local or not domain or any(ch in domain for ch in " <>@"):
            raise ValueError("must be an e-mail address such as news@example.org")
        return value

    @property
    def domain(self) -> str:
        """The sender's domain: Message-IDs and the mailto unsubscribe address use it."""
        return self.from_.rpartition("<")[2].rstrip(">").rpartition("@")[2].lower()


class ProviderSettings(_Strict):
    """An HTTP SMS/WhatsApp provider; its API key (from the environment) also signs hooks."""

    provider_url: str
    api_key_env: str | None = None
    connections: int = Field(1, ge=1, le=32)  # parallel requests per worker

    @field_validator("provider_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        return value

    def api_key(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The provider key from `api_key_env`, None when unset."""
        env = os.environ if environ is None else environ
        return env.get(self.api_key_env) if self.api_key_env else None


class DispatchSettings(_Strict):
    """Outbox dispatch: lease of a claimed row, retries and their back-off."""

    lease_seconds: float = Field(300.0, ge=0)
    max_attempts: int = Field(8, ge=1)
    backoff_seconds: float = Field(60.0, ge=0)
    backoff_max_seconds: float = Field(6 * 3600.0, ge=0)
    batch_size: int = Field(200, ge=1, le=10_000)


class ChannelSettings(_Strict):
    """Everything about channels: transports, the public link base, keywords, dispatch."""

    public_url: str | None = None
    email: EmailSettings | None = None
    sms: ProviderSettings | None = None
    whatsapp: ProviderSettings | None = None
    keywords: dict[str, LanguageKeywords] = Field(default_factory=dict)
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings)

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https URL (RFC 8058 one-click unsubscribe needs https)")
        return value.rstrip("/")

    def provider(self, channel: str) -> ProviderSettings | None:
        """The provider settings of sms or whatsapp."""
        found = getattr(self, channel, None) if channel in ("sms", "whatsapp") else None
        return found if isinstance(found, ProviderSettings) else None

    def keyword_config(self) -> KeywordConfig:
        """Per-language STOP/START keywords: defaults merged with the configured ones."""
        return KeywordConfig(languages=self.keywords)

    def require_public_url(self) -> str:
        """The link base, or ChannelSettingsError when neither file nor env sets it."""
        if not self.public_url:
            raise ChannelSettingsError("public_url: not set (candor.yaml or CANDOR_PUBLIC_URL)")
        return self.public_url


def parse_settings(
    channels: Mapping[str, Any] | None,
    public_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> ChannelSettings:
    """Validate the sections with env overrides applied; errors name the key path."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {
        k: dict(v) if isinstance(v, Mapping) else v for k, v in (channels or {}).items()
    }
    for var, (channel, key) in ENV_OVERRIDES.items():
        if env.get(var):
            section = raw.get(channel)
            raw[channel] = {**(section if isinstance(section, dict) else {}), key: env[var]}
    raw["public_url"] = env.get("CANDOR_PUBLIC_URL") or public_url
    lease = env.get("CANDOR_OUTBOX_LEASE_SECONDS")
    if lease:
        dispatch = raw.get("dispatch")
        raw["dispatch"] = {
            **(dispatch if isinstance(dispatch, dict) else {}),
            "lease_seconds": lease,
        }
    try:
        return ChannelSettings.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{path}: {problem}" for path, problem in _problems(exc)]
        raise ChannelSettingsError("; ".join(problems)) from None


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(key path in candor.yaml, problem) per error of the channel settings model."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]).replace("from_", "from")
        path = loc if loc == "public_url" else f"channels.{loc}"
        out.append((path, err["msg"].removeprefix("Value error, ")))
    return out


def section_problems(config: ConfigFile) -> list[tuple[str, str]]:
    """The `channels` and `public_url` sections checked as the workers will read them, so
    `config apply` refuses what would fail later: (key path, problem) per fault."""
    try:
        ChannelSettings.model_validate({**(config.channels or {}), "public_url": config.public_url})
    except ValidationError as exc:
        return _problems(exc)
    return []


def load_settings(conn: Connection, environ: Mapping[str, str] | None = None) -> ChannelSettings:
    """The channel settings stored by `config apply`, with CANDOR_* overrides."""
    return parse_settings(setting(conn, "channels"), setting(conn, "public_url"), environ)


def transports_for(
    settings: ChannelSettings, environ: Mapping[str, str] | None = None
) -> dict[str, Transport[Any]]:
    """One transport per configured channel (the caller closes them)."""
    env = os.environ if environ is None else environ
    out: dict[str, Transport[Any]] = {}
    email = settings.email
    if email is not None:
        try:
            smtp = [
                SmtpTransport(email.smtp_url, password_env=email.password_env)
                for _ in range(email.connections)
            ]
        except SmtpConfigError as exc:
            raise ChannelSettingsError(f"channels.email.smtp_url: {exc}") from None
        out["email"] = smtp[0] if len(smtp) == 1 else PooledTransport(smtp)
    for channel in ("sms", "whatsapp"):
        provider = settings.provider(channel)
        if provider is None:
            continue
        key = provider.api_key(env)
        if key is None:
            raise ChannelSettingsError(
                f"channels.{channel}.api_key_env: environment variable "
                f"{provider.api_key_env or '(not named)'} is not set"
            )
        mobile = [
            HttpProviderTransport(channel, provider.provider_url, key)
            for _ in range(provider.connections)
        ]
        out[channel] = mobile[0] if len(mobile) == 1 else PooledTransport(mobile)
    return out


class PooledTransport(Generic[MessageT]):
    """Several transports (each one reused connection) sending a batch's slices in parallel.

    While one connection waits for the server, another renders and writes: throughput nears
    the server's own intake. Results keep the batch's order.
    """

    def __init__(self, members: Sequence[Transport[MessageT]]) -> None:
        self.members = list(members)
        self._pool = ThreadPoolExecutor(len(self.members), thread_name_prefix="candor-send")

    def send(self, messages: Iterable[MessageT]) -> list[SendResult]:
        """Split into contiguous slices, one per member, and join the results in order."""
        items = list(messages)
        size = -(-len(items) // len(self.members)) or 1
        slices = [items[i : i + size] for i in range(0, len(items), size)]
        futures = [
            self._pool.submit(m.send, part) for m, part in zip(self.members, slices, strict=False)
        ]
        return [result for future in futures for result in future.result()]

    def close(self) -> None:
        """Close every member and stop the threads."""
        for member in self.members:
            member.close()
        self._pool.shutdown(wait=True)
