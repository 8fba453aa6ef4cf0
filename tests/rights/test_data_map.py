"""The registry of personal data places: no table naming a contact can be forgotten."""

from __future__ import annotations

from sqlalchemy import LargeBinary

import candor.web.app  # noqa: F401  (every module that declares tables is imported)
from candor.core.context import Candor
from candor.rights.access import compile_access_copy
from candor.rights.data_map import NOT_PERSONAL, PLACES, sections
from candor.store.engine import reading
from candor.store.schema import metadata


def _names_contact(table: object) -> bool:
    return any(
        c.name == "contact_id" or any(f.column.table.name == "contacts" for f in c.foreign_keys)
        for c in table.columns  # type: ignore[attr-defined]
    )


def test_every_table_naming_a_contact_is_in_the_registry() -> None:
    registered = {p.name for p in PLACES} | set(NOT_PERSONAL)
    missing = [
        t.name for t in metadata.sorted_tables if _names_contact(t) and t.name not in registered
    ]
    assert missing == [], f"add these tables to candor.rights.data_map: {missing}"


def test_every_table_hanging_off_a_registered_table_is_registered() -> None:
    registered = {p.name for p in PLACES}
    children = [
        t.name
        for t in metadata.sorted_tables
        if t.name not in registered
        and any(
            f.column.table.name in registered - {"contacts"}
            for c in t.columns
            for f in c.foreign_keys
        )
    ]
    assert children == [], f"rows of these tables belong to a person: register them: {children}"


def test_entries_name_real_columns_and_encrypted_ones_hold_ciphertext() -> None:
    for place in PLACES:
        assert place.table.name in metadata.tables, place.name
        if place.contact_column:
            assert place.contact_column in place.table.c, place.name
        for column in (*place.encrypted, *place.scrub):
            assert column in place.table.c, f"{place.name}.{column}"
        for column in place.encrypted:
            assert isinstance(place.table.c[column].type, LargeBinary), f"{place.name}.{column}"
    # children come before their parents, so erasure deletes in a valid order
    order = [p.name for p in PLACES]
    for place in PLACES:
        if place.parent:
            assert order.index(place.name) < order.index(place.parent[1].name)


def test_every_binary_column_of_a_registered_table_is_declared_encrypted() -> None:
    """Sealed columns (evidence, identity, values) must be named, so erasure and the scan
    account for them; a new one left out of `encrypted=` fails here."""
    undeclared = [
        f"{place.name}.{column.name}"
        for place in PLACES
        for column in place.table.columns
        if isinstance(column.type, LargeBinary) and column.name not in place.encrypted
    ]
    assert undeclared == []


def test_every_registry_section_is_a_section_of_the_copy(configured: Candor, alice: int) -> None:
    with reading(configured.engine) as conn:
        copy = compile_access_copy(conn, configured.vault, alice, at=configured.clock.now())
    assert set(sections()) <= set(copy), set(sections()) - set(copy)
