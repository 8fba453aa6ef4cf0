"""The erasure's index checks: exact values in indexed columns, rows left behind, nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, insert

from candor.core.context import Candor
from candor.rights import scan
from candor.rights.scan import Identifiers, index_checks, indexed_columns
from candor.store.rights_tables import suppression
from candor.store.tables import attributes, settings


def _alice() -> Identifiers:
    return Identifiers(
        contact_ids=[424242],
        blind_indexes={"f" * 64},
        distinctive={"alice@example.com", "shop-77"},
        names={"Alice", "Example"},
    )


def _plant(conn: Connection, at: Any) -> None:
    """An external id as a whole key, an address inside free text, the digest suppressed."""
    conn.execute(
        insert(attributes),
        [
            {"name": "shop-77", "type": "text", "category": "x", "description": ""},
            {"name": "n2", "type": "text", "category": "x", "description": "alice@example.com!"},
        ],
    )
    conn.execute(insert(settings).values(key="Alice", value={}))
    conn.execute(
        insert(suppression).values(
            blind_index="f" * 64, kind="email", reason="erased", created_at=at
        )
    )


def _checks(cx: Candor, ids: Identifiers, plant: bool = True) -> dict[str, Any]:
    with cx.engine.connect() as conn, conn.begin() as tx:
        if plant:
            _plant(conn, cx.clock.now())
        result = index_checks(conn, ids)
        tx.rollback()
    return result


def test_exact_values_in_indexed_columns_are_found_and_free_text_is_left_to_the_sweep(
    configured: Candor,
) -> None:
    result = _checks(configured, _alice())
    values = result["indexed_values"]
    assert values["found"] == [
        {"table": "attributes", "column": "name", "matches": 1},
        {"table": "settings", "column": "key", "matches": 1},
    ]  # the address inside attributes.description is the substring sweep's to find
    assert values["expected"] == [{"table": "suppression", "column": "blind_index", "matches": 1}]
    assert values["identifiers"] == {"blind_indexes": 1, "plaintext_values": 4}
    assert not result["clean"] and result["references"]["remaining_rows"] == []


def test_other_values_of_the_same_shape_are_clean(configured: Candor) -> None:
    other = Identifiers(
        contact_ids=[424242],
        blind_indexes={"e" * 64},
        distinctive={"bob@example.org", "shop-78"},
        names={"Bobby", "Person"},
    )
    result = _checks(configured, other)
    assert result["clean"] and result["indexed_values"]["found"] == []
    assert result["indexed_values"]["expected"] == []


def test_only_columns_leading_an_index_are_checked() -> None:
    checked = {(t.name, c.name) for t, c in indexed_columns()}
    assert {("addresses", "blind_index"), ("contacts", "external_index")} <= checked
    assert ("suppression", "blind_index") in checked
    assert ("communications", "content_ref") not in checked  # free text: the sweep's


def test_rows_left_behind_are_counted_across_statements(
    configured: Candor, alice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "PARAMS_PER_STATEMENT", 1)  # one contact id per statement
    ids = Identifiers(contact_ids=[999_001, alice, 999_002])
    result = _checks(configured, ids, plant=False)
    remaining = {r["table"]: r["rows"] for r in result["references"]["remaining_rows"]}
    assert remaining["addresses"] == 2 and remaining["consent_events"] == 2
    assert not result["clean"]


def test_many_values_are_checked_in_several_statements(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "PARAMS_PER_STATEMENT", 2)
    found = _checks(configured, _alice())["indexed_values"]["found"]
    assert {(h["table"], h["column"]) for h in found} == {
        ("attributes", "name"),
        ("settings", "key"),
    }
