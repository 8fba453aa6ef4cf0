"""What a sign-up form shows: each purpose with its current wording and version, its boxes
(by theme and channel, all unticked), the address fields and the attribute inputs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from candor.ledger.contacts import IDENTITY_FIELDS
from candor.ledger.form_specs import Box, FormSpec
from candor.ledger.profile import attribute_types
from candor.store.tables import purpose_versions, purposes, themes

# The HTML input each attribute type is asked with.
INPUT_TYPES = {"string": "text", "number": "number", "integer": "number", "date": "date"}


@dataclass(frozen=True)
class BoxView:
    """One tick box: its form value, theme name (None: the purpose as a whole), channel."""

    value: str
    theme: str | None
    channel: str


@dataclass(frozen=True)
class PurposeView:
    """A purpose as the form asks about it, in the wording the person agrees to."""

    id: str
    name: str
    wording: str
    version: int
    boxes: tuple[BoxView, ...]


@dataclass(frozen=True)
class FieldView:
    """An attribute the form collects, with the input that asks for it."""

    name: str
    input: str  # text, number, date, checkbox
    step: str | None = None  # "any" for numbers with decimals


@dataclass(frozen=True)
class FormView:
    """Everything the page (and the embeddable snippet) renders."""

    form: FormSpec
    purposes: tuple[PurposeView, ...]
    fields: tuple[FieldView, ...]

    @property
    def channels(self) -> list[str]:
        return self.form.channels


def form_view(conn: Connection, form: FormSpec) -> FormView:
    """The form with the registry's current names and wordings (a handful of queries)."""
    p, v = purposes, purpose_versions
    rows = conn.execute(
        select(p.c.id, p.c.name, p.c.current_version, v.c.wording)
        .join(v, (v.c.purpose_id == p.c.id) & (v.c.version == p.c.current_version))
        .where(p.c.id.in_([fp.id for fp in form.purposes]))
    )
    current = {r.id: r for r in rows}
    names = {r.id: r.name for r in conn.execute(select(themes.c.id, themes.c.name))}
    by_purpose: dict[str, list[Box]] = {}
    for box in form.boxes():
        by_purpose.setdefault(box.purpose, []).append(box)
    views = tuple(
        PurposeView(
            fp.id,
            current[fp.id].name,
            current[fp.id].wording,
            current[fp.id].current_version,
            tuple(
                BoxView(b.value, names.get(b.theme, b.theme) if b.theme else None, b.channel)
                for b in by_purpose[fp.id]
            ),
        )
        for fp in form.purposes
        if fp.id in current
    )
    return FormView(form, views, _fields(conn, form))


def _fields(conn: Connection, form: FormSpec) -> tuple[FieldView, ...]:
    types = attribute_types(conn)
    out = []
    for name in form.attributes:
        kind = "string" if name in IDENTITY_FIELDS else types.get(name, "string")
        if kind == "boolean":
            out.append(FieldView(name, "checkbox"))
        else:
            out.append(FieldView(name, INPUT_TYPES[kind], "any" if kind == "number" else None))
    return tuple(out)
