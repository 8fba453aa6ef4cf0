"""built-in rights messages already stored are signed with the controller's name

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 02:00:00.000000

The built-in templates (verification link, extension notice, lifted restriction, data copy,
double opt-in confirmation) are stored on first use. Stored ones that still end with the
product's signature get the controller's ({{ controller }}); templates someone changed are
left as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BUILTIN = ("dsr-verify", "dsr-extended", "restriction-lifted", "data-copy", "doi-confirm")
PRODUCT = {"en": "Your Candor privacy team", "de": "Ihr Candor-Datenschutzteam"}
CONTROLLER = {
    "en": "{% if controller %}Your privacy team at {{ controller }}"
    "{% else %}Your privacy team{% endif %}",
    "de": "{% if controller %}Ihr Datenschutzteam von {{ controller }}"
    "{% else %}Ihr Datenschutzteam{% endif %}",
}
templates = sa.table("templates", sa.column("id", sa.String), sa.column("parts", sa.JSON))


def _resign(old: dict[str, str], new: dict[str, str]) -> None:
    """Replace the signature `old` by `new` at the end of each built-in e-mail text."""
    conn = op.get_bind()
    ids = [*BUILTIN, *(f"{base}-de" for base in BUILTIN)]
    rows = conn.execute(
        sa.select(templates.c.id, templates.c.parts).where(templates.c.id.in_(ids))
    ).all()
    for template_id, parts in rows:
        language = "de" if template_id.endswith("-de") else "en"
        email = (parts or {}).get("email") or {}
        text, tail = email.get("text") or "", f"\n\n{old[language]}\n"
        if text.endswith(tail):
            signed = text[: -len(tail)] + f"\n\n{new[language]}\n"
            conn.execute(
                sa.update(templates)
                .where(templates.c.id == template_id)
                .values(parts={**parts, "email": {**email, "text": signed}})
            )


def upgrade() -> None:
    _resign(PRODUCT, CONTROLLER)


def downgrade() -> None:
    _resign(CONTROLLER, PRODUCT)
