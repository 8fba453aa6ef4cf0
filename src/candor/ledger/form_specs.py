"""Sign-up forms as candor.yaml declares them (`forms`), checked against the registry.

A form offers purposes (each with the themes and channels it asks about), collects only the
attributes it lists, and names its languages, its double opt-in template and what its
thank-you and confirmed pages show: a text, or a redirect to an https URL whose host is
listed in `form_redirects`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, model_validator
from sqlalchemy import Connection, select

from candor.core.text_checks import Language
from candor.ledger.contacts import IDENTITY_FIELDS
from candor.ledger.registry import setting
from candor.ledger.spec_base import IDENT, Strict
from candor.store.journey_tables import templates

FormChannel = Literal["email", "sms", "whatsapp"]
HOST = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def _email_only() -> list[FormChannel]:
    return ["email"]


class FormPurposeSpec(Strict):
    """One purpose a form asks about: its themes (none: the purpose as a whole) and channels."""

    id: str = Field(pattern=IDENT)
    themes: list[str] = Field(default_factory=list)
    channels: list[FormChannel] = Field(default_factory=_email_only, min_length=1)


class FormPageSpec(Strict):
    """A page after a step: a text (one, or one per language), or a redirect URL."""

    text: str | dict[str, str] | None = None
    redirect: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FormPageSpec:
        if self.text is not None and self.redirect is not None:
            raise ValueError("give a text or a redirect, not both")
        return self

    def text_for(self, language: str) -> str | None:
        """The text in `language` (else English, else the first one), or None."""
        if isinstance(self.text, str) or self.text is None:
            return self.text
        return self.text.get(language) or self.text.get("en") or next(iter(self.text.values()))


class Box(NamedTuple):
    """One tick box of a form: a purpose, optionally one theme, on one channel."""

    purpose: str
    theme: str | None
    channel: str

    @property
    def value(self) -> str:
        """The box's form value: `purpose:theme:channel` (an empty theme for none)."""
        return f"{self.purpose}:{self.theme or ''}:{self.channel}"


class FormSpec(Strict):
    """A sign-up form: what it asks, what it collects, and what it shows afterwards."""

    id: str = Field(pattern=IDENT)
    name: str = Field(min_length=1, max_length=200)
    intro: str = ""
    purposes: list[FormPurposeSpec] = Field(min_length=1)
    attributes: list[str] = Field(default_factory=list)
    languages: list[Language] = Field(default_factory=lambda: ["en"], min_length=1)
    doi_template: str | None = Field(default=None, pattern=IDENT)
    min_fill_seconds: float = Field(default=2.0, ge=0, le=600)
    thank_you: FormPageSpec = Field(default_factory=FormPageSpec)
    confirmed: FormPageSpec = Field(default_factory=FormPageSpec)

    @property
    def channels(self) -> list[str]:
        """The channels whose address the form asks for, in a fixed order."""
        wanted = {c for p in self.purposes for c in p.channels}
        return [c for c in ("email", "sms", "whatsapp") if c in wanted]

    def boxes(self) -> list[Box]:
        """Every tick box, in the order the page shows them."""
        themes: dict[str, list[str | None]] = {p.id: [*p.themes] or [None] for p in self.purposes}
        return [
            Box(p.id, theme, channel)
            for p in self.purposes
            for theme in themes[p.id]
            for channel in p.channels
        ]


def form_problems(
    forms: Sequence[FormSpec], redirects: Sequence[str], names: dict[str, set[str]]
) -> list[tuple[str, str]]:
    """Problems of the `forms` and `form_redirects` sections, each with its key path."""
    problems = [
        (f"form_redirects[{i}]", "must be a lower-case host name, such as www.example.com")
        for i, host in enumerate(redirects)
        if not HOST.match(host)
    ]
    ids = [f.id for f in forms]
    for index, form in enumerate(forms):
        where = f"forms[{index}:{form.id}]"
        if ids.count(form.id) > 1:
            problems.append((f"{where}.id", "declared more than once"))
        problems += _references(where, form, names)
        for page in ("thank_you", "confirmed"):
            url = getattr(form, page).redirect
            if url is not None and not redirect_allowed(url, redirects):
                msg = "must be an https URL on a host listed in form_redirects"
                problems.append((f"{where}.{page}.redirect", msg))
    return problems


def _references(where: str, form: FormSpec, names: dict[str, set[str]]) -> list[tuple[str, str]]:
    problems = []
    for i, purpose in enumerate(form.purposes):
        if purpose.id not in names["purposes"]:
            problems.append((f"{where}.purposes[{i}].id", f"unknown purpose {purpose.id!r}"))
        for j, theme in enumerate(purpose.themes):
            if theme not in names["themes"]:
                problems.append((f"{where}.purposes[{i}].themes[{j}]", f"unknown theme {theme!r}"))
    allowed = names["attributes"] | set(IDENTITY_FIELDS)
    for i, name in enumerate(form.attributes):
        if name not in allowed:
            msg = f"{name!r} is not a declared attribute (data minimization)"
            problems.append((f"{where}.attributes[{i}]", msg))
    return problems


def redirect_allowed(url: str, hosts: Sequence[str]) -> bool:
    """Whether `url` is https and its host is on the allow-list."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and parts.username is None and parts.hostname in set(hosts)


def form_template_problems(conn: Connection, forms: Sequence[FormSpec]) -> list[tuple[str, str]]:
    """A named double opt-in template must exist with parts for the form's channels and
    carry the confirmation link (`{{ confirm_url }}`)."""
    named = {f.doi_template for f in forms if f.doi_template}
    if not named:
        return []
    stored = {
        row.id: dict(row.parts or {})
        for row in conn.execute(
            select(templates.c.id, templates.c.parts).where(templates.c.id.in_(named))
        )
    }
    problems = []
    for index, form in enumerate(forms):
        if not form.doi_template:
            continue
        where = f"forms[{index}:{form.id}].doi_template"
        parts = stored.get(form.doi_template)
        if parts is None:
            problems.append((where, f"no template {form.doi_template!r}: put it first"))
            continue
        for channel in form.channels:
            text = " ".join(str(v) for v in (parts.get(channel) or {}).values())
            if "confirm_url" not in text:
                msg = f"its {channel} parts must carry the confirmation link {{{{ confirm_url }}}}"
                problems.append((where, msg))
    return problems


def declared_forms(conn: Connection) -> dict[str, FormSpec]:
    """The forms `config apply` stored, by id."""
    out: dict[str, FormSpec] = {}
    for raw in setting(conn, "forms", []) or []:
        try:
            form = FormSpec.model_validate(raw)
        except ValidationError:
            continue  # stored by an apply that validated it; a newer model may differ
        out[form.id] = form
    return out


def load_form(conn: Connection, form_id: str) -> FormSpec | None:
    """One declared form, or None."""
    return declared_forms(conn).get(form_id)


def redirect_hosts(conn: Connection) -> list[str]:
    """The hosts form pages may redirect to (`form_redirects`)."""
    return list(setting(conn, "form_redirects", []) or [])
