"""E-mail settings: the SMTP relay, the sender, DKIM signing and where bounces come back.

With `bounces.domain` every message gets its own return path (VERP,
bounces+<token>@<domain>), so a bounce or complaint names the message it is about.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from candor.channels.email import SmtpConfigError, parse_smtp_url
from candor.core.durations import DurationLike, parse_duration

DEFAULT_FROM = "candor@localhost"
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^localhost$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def _domain(value: str) -> str:
    lowered = value.lower()
    if not _DOMAIN.match(lowered):
        raise ValueError("must be a domain name such as candor.example")
    return lowered


class DkimSettings(_Strict):
    """Sign with the private key in `key_file`, published as <selector>._domainkey.<domain>."""

    selector: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    domain: str
    key_file: str = Field(min_length=1)

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return _domain(value)


class BounceSettings(_Strict):
    """The VERP return-path domain, the soft-bounce rule and an optional IMAP mailbox."""

    domain: str
    soft_limit: int = Field(3, ge=1, le=100)  # soft bounces in `soft_window` that make it hard
    soft_window: str = "P30D"
    imap_url: str | None = None  # imaps://user@host[:port]/folder
    imap_password_env: str | None = None

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str) -> str:
        return _domain(value)

    @field_validator("soft_window")
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("imap_url")
    @classmethod
    def _imap(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise ValueError("must be imap:// or imaps://user@host[:port]/folder")
        return value

    @property
    def window(self) -> DurationLike:
        return parse_duration(self.soft_window)


class EmailSettings(_Strict):
    """SMTP server (smtp://, smtp+starttls://, smtps://), sender, DKIM and bounce handling."""

    smtp_url: str = "smtp://127.0.0.1:2525"
    from_: str = Field(DEFAULT_FROM, alias="from")
    bounce: str | None = None  # one fixed return path, when `bounces` is not set
    password_env: str | None = None
    connections: int = Field(1, ge=1, le=32)  # parallel SMTP connections per worker
    dkim: DkimSettings | None = None
    bounces: BounceSettings | None = None
    sender_id: str = Field("candor", pattern=r"^[A-Za-z0-9_.-]{1,64}$")  # Feedback-ID's last field

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
