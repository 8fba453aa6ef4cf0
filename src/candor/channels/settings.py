"""Channel settings: the `channels` and `public_url` sections of candor.yaml, env overrides.

`candor config apply` stores the sections in the settings table; everything that sends,
links or receives reads them here, validated once, so a bad value names its key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import Connection

from candor.channels.base import MessageT, SendResult, Transport
from candor.channels.dkim_sign import DkimKeyError, DkimSigner
from candor.channels.email import SmtpConfigError, SmtpTransport
from candor.channels.email_settings import DEFAULT_FROM as DEFAULT_FROM
from candor.channels.email_settings import EmailSettings as EmailSettings
from candor.channels.keywords import KeywordConfig, LanguageKeywords
from candor.channels.meta import MetaTransport
from candor.channels.provider_settings import (
    PROVIDERS_OF,
    AnyProvider,
    MetaProvider,
    ProviderSettings,
    TwilioProvider,
    env_value,
)
from candor.channels.sms import HttpProviderTransport
from candor.channels.twilio import TwilioTransport
from candor.core.errors import CandorError
from candor.ledger.config import ConfigFile
from candor.ledger.registry import setting

ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "CANDOR_SMTP_URL": ("email", "smtp_url"),
    "CANDOR_SMS_URL": ("sms", "provider_url"),
    "CANDOR_WHATSAPP_URL": ("whatsapp", "provider_url"),
}


class ChannelSettingsError(CandorError, ValueError):
    """Unusable channel settings; the message starts with the key path (never a secret)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


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

    @model_validator(mode="after")
    def _providers_fit(self) -> ChannelSettings:
        for channel, allowed in PROVIDERS_OF.items():
            found = getattr(self, channel)
            if found is not None and found.provider not in allowed:
                raise ValueError(
                    f"channels.{channel}.provider: {found.provider} does not carry {channel}; "
                    f"use one of {', '.join(sorted(allowed))}"
                )
        return self

    def provider(self, channel: str) -> AnyProvider | None:
        """The provider settings of sms or whatsapp."""
        found = getattr(self, channel, None) if channel in ("sms", "whatsapp") else None
        return found if found is not None and hasattr(found, "provider") else None

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
            section = section if isinstance(section, dict) else {}
            if section.get("provider") in ("twilio", "meta"):
                key = "base_url"  # the stand-in for the provider's API
            raw[channel] = {**section, key: env[var]}
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


_PROVIDER_TAGS = frozenset({"http", "twilio", "meta"})


def _problem(err: Any) -> tuple[str, str]:
    """One validation error as (key path in candor.yaml, problem), provider tags left out."""
    message = str(err["msg"]).removeprefix("Value error, ")
    parts = [str(p) for p in err["loc"]]
    if len(parts) > 1 and parts[0] in ("sms", "whatsapp") and parts[1] in _PROVIDER_TAGS:
        del parts[1]
    if not parts:  # a whole-section check: its message starts with the key path
        path, _, rest = message.partition(": ")
        return (path, rest) if rest else ("channels", message)
    if err["type"] == "union_tag_invalid":
        parts.append("provider")
        message = f"must be one of {', '.join(sorted(_PROVIDER_TAGS))}"
    loc = ".".join(parts).replace("from_", "from")
    return (loc if loc == "public_url" else f"channels.{loc}", message)


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(key path in candor.yaml, problem) per error of the channel settings model."""
    return [_problem(err) for err in exc.errors()]


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
        signer = None
        if email.dkim is not None:
            dkim = email.dkim
            try:
                signer = DkimSigner.from_file(dkim.selector, dkim.domain, dkim.key_file)
            except DkimKeyError as exc:
                raise ChannelSettingsError(f"channels.email.dkim.key_file: {exc}") from None
        try:
            smtp = [
                SmtpTransport(email.smtp_url, password_env=email.password_env, signer=signer)
                for _ in range(email.connections)
            ]
        except SmtpConfigError as exc:
            raise ChannelSettingsError(f"channels.email.smtp_url: {exc}") from None
        out["email"] = smtp[0] if len(smtp) == 1 else PooledTransport(smtp)
    for channel in ("sms", "whatsapp"):
        provider = settings.provider(channel)
        if provider is not None:
            mobile = [
                _mobile_transport(channel, provider, settings.public_url, env)
                for _ in range(provider.connections)
            ]
            out[channel] = mobile[0] if len(mobile) == 1 else PooledTransport(mobile)
    return out


def _secret(channel: str, key: str, name: str | None, env: Mapping[str, str]) -> str:
    """The value of the environment variable a key names, or the error naming the key."""
    value = env_value(name, env)
    if value is None:
        raise ChannelSettingsError(
            f"channels.{channel}.{key}: environment variable {name or '(not named)'} is not set"
        )
    return value


def _mobile_transport(
    channel: str, provider: AnyProvider, public_url: str | None, env: Mapping[str, str]
) -> Transport[Any]:
    """The transport of one SMS/WhatsApp provider, its secrets read from the environment."""
    if isinstance(provider, TwilioProvider):
        callback = f"{public_url}/hooks/twilio/{channel}/status" if public_url else None
        return TwilioTransport(
            account_sid=_secret(channel, "account_sid_env", provider.account_sid_env, env),
            auth_token=_secret(channel, "auth_token_env", provider.auth_token_env, env),
            sender=provider.sender(),
            base_url=provider.base_url,
            status_callback=callback,
        )
    if isinstance(provider, MetaProvider):
        return MetaTransport(
            phone_number_id=provider.phone_number_id,
            access_token=_secret(channel, "access_token_env", provider.access_token_env, env),
            base_url=provider.base_url,
            api_version=provider.api_version,
        )
    key = _secret(channel, "api_key_env", provider.api_key_env, env)
    mobile: Literal["sms", "whatsapp"] = "sms" if channel == "sms" else "whatsapp"
    return HttpProviderTransport(mobile, provider.provider_url, key)


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
