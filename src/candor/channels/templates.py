"""Message templates per channel, rendered in Jinja2's immutable sandbox.

Templates are written by marketers, so they run sandboxed (no attribute escapes, no mutation,
bounded repetition) with StrictUndefined: a missing field is an error, never a blank.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import jinja2
from jinja2 import StrictUndefined, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from pydantic import BaseModel, ConfigDict, model_validator

Channel = Literal["email", "sms", "whatsapp"]
Part = Literal["subject", "html", "text"]

#: The parts each channel's template may have, and which of them are required.
# WhatsApp: free `text` (inside the 24-hour window), or an approved `template` by name with
# its `language` and body `parameters`, one per line (each line rendered like any part).
CHANNEL_PARTS: Mapping[str, frozenset[str]] = {
    "email": frozenset({"subject", "html", "text"}),
    "sms": frozenset({"text"}),
    "whatsapp": frozenset({"text", "template", "language", "parameters"}),
}
REQUIRED_PARTS: Mapping[str, frozenset[str]] = {
    "email": frozenset({"subject", "text"}),
    "sms": frozenset({"text"}),
    "whatsapp": frozenset(),
}

#: Top-level variables the runtime provides besides the journey's declared fields.
LINK_VARIABLES: frozenset[str] = frozenset(
    {"unsubscribe_url", "preferences_url", "confirm_url", "download_url", "click_url"}
    | {"controller"}  # the controller's name (candor.yaml `controller.name`), for signatures
)
_UNSUBSCRIBE_LINKS = frozenset({"unsubscribe_url", "preferences_url"})
_STOP_WORD = re.compile(r"\b(?:STOP|STOPP)\b", re.IGNORECASE)
_MAX_REPEAT = 100_000  # longest string/sequence a template may build with `*`
_MAX_EXPONENT = 100
_MAX_BITS = 4096  # largest integer a template may compute with `**`


class TemplateError(Exception):
    """A template cannot be compiled or rendered; names the template, part and line."""

    def __init__(self, template_id: str, part: str, line: int | None, reason: str) -> None:
        where = f"template {template_id!r}, part {part!r}"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {reason}")
        self.template_id = template_id
        self.part = part
        self.line = line
        self.reason = reason


class TemplateSecurityError(TemplateError):
    """A template tried something the sandbox forbids (attribute escape, mutation, blow-up)."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """Immutable sandbox that also bounds `*` repetition and `**` (denial of service)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        """Refuse repetition beyond _MAX_REPEAT items and exponents beyond _MAX_EXPONENT."""
        if operator == "**":
            if isinstance(right, int) and abs(right) > _MAX_EXPONENT:
                raise SecurityError("exponent too large")
            if isinstance(left, int) and left.bit_length() * abs(int(right)) > _MAX_BITS:
                raise SecurityError("power too large")
            return left**right
        for seq, count in ((left, right), (right, left)):
            sized = isinstance(seq, str | list | tuple) and isinstance(count, int)
            if sized and len(seq) * count > _MAX_REPEAT:
                raise SecurityError("repetition too large")
        return left * right


_TEXT_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False)
_HTML_ENV = _Sandbox(undefined=StrictUndefined, autoescape=True)
_GLOBAL_NAMES = frozenset(_TEXT_ENV.globals)


class MessageTemplate(BaseModel):
    """A message template of one channel: email has subject, html, text; sms/whatsapp text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    channel: Channel
    parts: dict[str, str]

    @model_validator(mode="after")
    def _check_parts(self) -> MessageTemplate:
        """Reject unknown parts and missing required parts for the channel."""
        unknown = set(self.parts) - CHANNEL_PARTS[self.channel]
        if unknown:
            raise ValueError(f"{self.channel} template has unknown parts: {sorted(unknown)}")
        missing = REQUIRED_PARTS[self.channel] - set(self.parts)
        if missing:
            raise ValueError(f"{self.channel} template lacks parts: {sorted(missing)}")
        if self.channel == "whatsapp":
            if "text" not in self.parts and "template" not in self.parts:
                raise ValueError("whatsapp template needs `text` or an approved `template`")
            if ("template" in self.parts) != ("language" in self.parts):
                raise ValueError("whatsapp `template` and `language` go together")
            if "parameters" in self.parts and "template" not in self.parts:
                raise ValueError("whatsapp `parameters` belong to a `template`")
        return self

    @property
    def approved(self) -> bool:
        """Whether this is a WhatsApp message by approved template (not free text)."""
        return self.channel == "whatsapp" and "template" in self.parts


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """The rendered parts of a template: subject and html only for e-mail."""

    template_id: str
    channel: Channel
    text: str
    subject: str | None = None
    html: str | None = None
    approved: tuple[str, str, tuple[str, ...]] | None = None  # WhatsApp: name, language, params


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A compiled part and its globals as a plain dict (Jinja keeps them in a ChainMap)."""

    template: jinja2.Template
    globals: dict[str, Any]

    def render(self, context: Mapping[str, object]) -> str:
        """Template.render, merging the globals with C-speed dict unpacking.

        Jinja copies the globals out of their ChainMap key by key on every render: a third
        of rendering a short e-mail part. The sandbox lives in the compiled code: unchanged.
        """
        ctx = self.template.new_context({**self.globals, **context}, shared=True)
        try:
            return self.template.environment.concat(self.template.root_render_func(ctx))
        except Exception:
            self.template.environment.handle_exception()


@functools.lru_cache(maxsize=1024)
def _compile(source: str, html: bool) -> _Compiled:
    """Compile (and cache) one part's source in the right environment."""
    template = (_HTML_ENV if html else _TEXT_ENV).from_string(source)
    return _Compiled(template, dict(template.globals))


@functools.lru_cache(maxsize=1024)
def _parse(source: str) -> nodes.Template:
    """Parse (and cache) one part's source to its AST for static analysis."""
    return _TEXT_ENV.parse(source)


def _syntax_error(
    template: MessageTemplate, part: str, exc: jinja2.TemplateSyntaxError
) -> TemplateError:
    """Wrap a Jinja syntax error with the template id, part and line."""
    return TemplateError(template.id, part, exc.lineno, exc.message or "syntax error")


def _compiled(template: MessageTemplate, part: str) -> _Compiled:
    """The compiled part, or TemplateError naming where the syntax is wrong."""
    try:
        return _compile(template.parts[part], part == "html")
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(template, part, exc) from exc


def _ast(template: MessageTemplate, part: str) -> nodes.Template:
    """The parsed part, or TemplateError naming where the syntax is wrong."""
    try:
        return _parse(template.parts[part])
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax_error(template, part, exc) from exc


def _template_line(tb: TracebackType | None) -> int | None:
    """The template line of the innermost frame that ran template code, if any."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_part(template: MessageTemplate, part: str, context: Mapping[str, object]) -> str:
    """Render one part; sandbox violations and undefined fields become TemplateError."""
    compiled = _compiled(template, part)
    try:
        return compiled.render(context)
    except SecurityError as exc:
        line = _template_line(exc.__traceback__)
        raise TemplateSecurityError(template.id, part, line, str(exc)) from exc
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        line = _template_line(exc.__traceback__)
        raise TemplateError(template.id, part, line, str(exc)) from exc


def validate_template(template: MessageTemplate) -> None:
    """Compile every part so syntax errors surface when a template is saved, not sent."""
    for part in template.parts:
        _compiled(template, part)


def render(template: MessageTemplate, context: Mapping[str, object]) -> RenderedMessage:
    """Render all parts with journey fields and links as top-level variables.

    The subject is folded to one line; SMS/WhatsApp text is stripped of surrounding blanks.
    """
    rendered = {part: _render_part(template, part, context) for part in template.parts}
    subject = rendered.get("subject")
    if subject is not None:
        subject = " ".join(subject.split())
    text = rendered.get("text", "")
    if template.channel != "email":
        text = text.strip()
    approved = None
    if template.approved:
        lines = rendered.get("parameters", "").splitlines()
        parameters = tuple(" ".join(line.split()) for line in lines if line.strip())
        approved = (rendered["template"].strip(), rendered["language"].strip(), parameters)
    return RenderedMessage(
        template_id=template.id,
        channel=template.channel,
        text=text,
        subject=subject,
        html=rendered.get("html"),
        approved=approved,
    )


def _part_variables(template: MessageTemplate, part: str) -> set[str]:
    """Names one part reads from the context (Jinja globals such as `range` excluded)."""
    return set(meta.find_undeclared_variables(_ast(template, part))) - _GLOBAL_NAMES


def referenced_fields(template: MessageTemplate) -> set[str]:
    """Every top-level variable the template reads, link variables included.

    A linter subtracts LINK_VARIABLES and checks the rest against the journey's fields.
    """
    names: set[str] = set()
    for part in template.parts:
        names |= _part_variables(template, part)
    return names


def _literal_text(template: MessageTemplate, part: str) -> str:
    """The fixed text of a part (template data outside of tags and expressions)."""
    return " ".join(node.data for node in _ast(template, part).find_all(nodes.TemplateData))


def has_unsubscribe(template: MessageTemplate) -> bool:
    """Whether the message offers a way out: an unsubscribe/preferences link, or STOP for SMS."""
    if template.channel == "email":
        return any(
            _part_variables(template, part) & _UNSUBSCRIBE_LINKS
            for part in ("html", "text")
            if part in template.parts
        )
    if "text" not in template.parts:
        # An approved WhatsApp template: its wording (and opt-out) lives at the provider,
        # and an inbound STOP is honoured whatever it says.
        return template.approved
    if "unsubscribe_url" in _part_variables(template, "text"):
        return True
    return _STOP_WORD.search(_literal_text(template, "text")) is not None
