"""Authoring message content: what a marketer writes in the studio, compiled to sendable parts.

E-mail bodies are written in MJML (compiled by mjml-python, without remote fonts), their CSS
inlined by css-inline (no remote stylesheets), and a text part generated from the HTML by
inscriptis when none is written; the preheader becomes the hidden preview line. SMS text is
counted in GSM-7 or UCS-2 segments. WhatsApp messages name the provider's approved template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal

import css_inline
import mjml
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from pydantic import BaseModel, ConfigDict, Field, model_validator

from candor.core.errors import InvalidInput

LANGUAGE: Final = re.compile(r"^[a-z]{2}$")
Kind = Literal["marketing", "service"]

# GSM 03.38: the basic set (one septet each) and the extension set (escape + one septet).
GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION: Final = frozenset("^{}\\[~]|€\f")
_LINK: Final = re.compile(r"\[([^\]\n]*)\]\(([^)\n]*)\)")
_INLINER: Final = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
_TEXT_CONFIG: Final = ParserConfig(display_links=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailSource(_Strict):
    """An e-mail as written: subject, preheader, body in MJML (or HTML), optional text."""

    subject: str = Field(min_length=1, max_length=500)
    preheader: str | None = Field(None, max_length=300)
    mjml: str | None = Field(None, max_length=200_000)
    html: str | None = Field(None, max_length=200_000)
    text: str | None = Field(None, max_length=100_000)

    @model_validator(mode="after")
    def _has_body(self) -> EmailSource:
        if not (self.mjml or self.html or self.text):
            raise ValueError("write a body: MJML, HTML or text")
        return self


class SmsSource(_Strict):
    """An SMS as written."""

    text: str = Field(min_length=1, max_length=2_000)


class WhatsAppSource(_Strict):
    """A WhatsApp message: the provider's approved template, its language and parameters,
    and the body text as approved (shown in previews and checked by the lint)."""

    template_name: str | None = Field(None, pattern=r"^[a-z0-9_]{1,512}$")
    language: str | None = Field(None, pattern=r"^[a-z]{2}(_[A-Z]{2})?$")
    parameters: list[str] = Field(default_factory=list, max_length=20)
    text: str = Field(min_length=1, max_length=4_096)


class LanguageSource(_Strict):
    """One language's content, per channel."""

    email: EmailSource | None = None
    sms: SmsSource | None = None
    whatsapp: WhatsAppSource | None = None

    def channels(self) -> list[str]:
        return [c for c in ("email", "sms", "whatsapp") if getattr(self, c) is not None]


class ContentSource(_Strict):
    """A template as the studio edits it: its languages (the first is the default)."""

    id: str
    kind: Kind = "marketing"
    languages: dict[str, LanguageSource] = Field(min_length=1)

    @model_validator(mode="after")
    def _same_channels(self) -> ContentSource:
        first = None
        for lang, source in self.languages.items():
            if not LANGUAGE.match(lang):
                raise ValueError(f"language {lang!r} must be two lower-case letters (en, de)")
            if not source.channels():
                raise ValueError(f"language {lang!r} has no channel")
            if first is None:
                first = source.channels()
            elif source.channels() != first:
                raise ValueError(f"language {lang!r} must have the same channels as the first")
        return self

    @property
    def default_language(self) -> str:
        return next(iter(self.languages))


@dataclass(frozen=True)
class CompiledContent:
    """Sendable parts per language and channel, and the authoring data kept beside them."""

    parts: dict[str, dict[str, dict[str, str]]]
    authoring: dict[str, Any]


def compile_content(source: ContentSource) -> CompiledContent:
    """Every language and channel compiled to parts (InvalidInput naming where it fails)."""
    parts: dict[str, dict[str, dict[str, str]]] = {}
    for lang, language in source.languages.items():
        out: dict[str, dict[str, str]] = {}
        if language.email is not None:
            out["email"] = email_parts(language.email, f"languages.{lang}.email")
        if language.sms is not None:
            out["sms"] = {"text": language.sms.text}
        if language.whatsapp is not None:
            out["whatsapp"] = {"text": language.whatsapp.text}
        parts[lang] = out
    authoring = source.model_dump(mode="json", exclude_none=True)
    return CompiledContent(parts, authoring)


def email_parts(source: EmailSource, field: str) -> dict[str, str]:
    """Subject, HTML (MJML compiled, CSS inlined, preheader first) and a text part."""
    html = None
    if source.mjml:
        html = inline_css(mjml_to_html(with_preview(source.mjml, source.preheader), field))
    elif source.html:
        html = inline_css(with_hidden_preheader(source.html, source.preheader))
    parts = {"subject": source.subject}
    if html is not None:
        parts["html"] = html
    parts["text"] = source.text or (text_from_html(html) if html else "")
    return parts


def mjml_to_html(source: str, field: str) -> str:
    """Compile MJML to responsive HTML (no web fonts: nothing loads from third parties)."""
    try:
        return str(mjml.mjml2html(source, fonts={}, disable_comments=True))
    except ValueError as exc:
        raise InvalidInput(f"{field}.mjml", f"not valid MJML: {exc}") from None


def with_preview(source: str, preheader: str | None) -> str:
    """The MJML with the preheader as its <mj-preview> (the inbox's preview line)."""
    if not preheader:
        return source
    preview = f"<mj-preview>{_escape(preheader)}</mj-preview>"
    if "<mj-head>" in source:
        return source.replace("<mj-head>", f"<mj-head>{preview}", 1)
    return re.sub(r"(<mjml[^>]*>)", rf"\1<mj-head>{preview}</mj-head>", source, count=1)


def with_hidden_preheader(html: str, preheader: str | None) -> str:
    """Plain HTML with the preheader as a hidden first line of the body."""
    if not preheader:
        return html
    hidden = f'<div style="display:none;max-height:0;overflow:hidden">{_escape(preheader)}</div>'
    if re.search(r"<body[^>]*>", html):
        return re.sub(r"(<body[^>]*>)", rf"\1{hidden}", html, count=1)
    return hidden + html


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline_css(html: str) -> str:
    """Move <style> rules into style attributes (mail clients drop <style>); media queries
    stay in the head for phones."""
    try:
        return str(_INLINER.inline(html))
    except ValueError as exc:
        raise InvalidInput("html", f"the CSS cannot be inlined: {exc}") from None


def text_from_html(html: str) -> str:
    """A readable text part from HTML: links written out as `text: URL`, blank runs folded."""
    raw = get_text(html, _TEXT_CONFIG)
    raw = _LINK.sub(lambda m: f"{m.group(1)}: {m.group(2)}" if m.group(1) else m.group(2), raw)
    lines = [line.strip() for line in raw.splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass(frozen=True)
class SmsCount:
    """An SMS text's length in its encoding's units, and how many segments it takes."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int
    per_segment: int


def sms_count(text: str) -> SmsCount:
    """GSM-7 when every character is in the GSM sets (extension characters count twice),
    else UCS-2 (UTF-16 code units); 160/70 units fit one segment, 153/67 each of several."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        units = sum(2 if ch in GSM_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsCount(encoding, units, 1 if units else 0, single)  # type: ignore[arg-type]
    segments = -(-units // multi)
    return SmsCount(encoding, units, segments, multi)  # type: ignore[arg-type]
