"""The verification scan: what it finds, where, and that cached statements take new values."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, insert

from candor.core.context import Candor
from candor.rights import scan
from candor.rights.scan import Identifiers, verification_scan
from candor.store.tables import attributes, settings


def _alice(**extra: Any) -> Identifiers:
    return Identifiers(
        contact_ids=[424242],
        blind_indexes={"f" * 64},
        distinctive={"alice@example.com", "shop-77"},
        names={"Alice", "Example"},
        **extra,
    )


def _plant(conn: Connection) -> None:
    """Leftovers: an address inside a text column, a name quoted in JSON, an exact digest."""
    conn.execute(
        insert(attributes),
        [
            {
                "name": "note1",
                "type": "text",
                "category": "x",
                "description": "mail alice@example.com",
            },
            {"name": "note2", "type": "text", "category": "f" * 64, "description": ""},
        ],
    )
    conn.execute(insert(settings).values(key="leftover", value={"who": "Alice"}))


def _scan(cx: Candor, ids: Identifiers, plant: bool = True) -> dict[str, Any]:
    with cx.engine.connect() as conn, conn.begin() as tx:
        if plant:
            _plant(conn)
        result = verification_scan(conn, ids)
        tx.rollback()
    return result


def test_the_scan_names_each_column_holding_an_identifier(configured: Candor) -> None:
    result = _scan(configured, _alice())
    assert result["method"] == "substring" and not result["clean"]
    assert result["found"] == [
        {"table": "attributes", "column": "category", "matches": 1},
        {"table": "attributes", "column": "description", "matches": 1},
        {"table": "settings", "column": "value", "matches": 1},
    ]
    assert result["expected"] == [] and result["remaining_rows"] == []
    assert result["identifiers"] == {"blind_indexes": 1, "plaintext_values": 4}
    assert result["tables_scanned"] == len(scan.metadata.sorted_tables)


def test_a_scan_with_other_values_of_the_same_shape_is_clean(configured: Candor) -> None:
    _scan(configured, _alice())  # builds and caches the statements for this shape
    other = Identifiers(
        contact_ids=[424242],
        blind_indexes={"e" * 64},
        distinctive={"bob@example.org", "shop-78"},
        names={"Bobby", "Person"},
    )
    result = _scan(configured, other)
    assert result["clean"] and result["found"] == []


def test_like_wildcards_in_a_value_match_only_themselves(configured: Candor) -> None:
    ids = Identifiers(contact_ids=[1], distinctive={"a_c%d@example.com"})
    with configured.engine.connect() as conn, conn.begin() as tx:
        conn.execute(
            insert(attributes).values(
                name="n", type="text", category="x", description="abxcyd@example.com"
            )
        )
        assert verification_scan(conn, ids)["found"] == []
        conn.execute(
            insert(attributes).values(
                name="m", type="text", category="x", description="to a_c%d@example.com"
            )
        )
        found = verification_scan(conn, ids)["found"]
        tx.rollback()
    assert found == [{"table": "attributes", "column": "description", "matches": 1}]


def test_large_batches_match_exactly(configured: Candor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "SUBSTRING_LIMIT", 2)
    result = _scan(configured, _alice())
    assert result["method"] == "exact"
    # Only the column holding a whole value is found; substrings and JSON are not searched.
    assert result["found"] == [{"table": "attributes", "column": "category", "matches": 1}]
    text = [c for t in scan.metadata.sorted_tables for c in scan._text_columns(t)]
    assert result["columns_scanned"] == sum(not isinstance(c.type, scan.JSON) for c in text)


def test_rows_left_behind_are_counted_across_statements(
    configured: Candor, alice: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "PARAMS_PER_STATEMENT", 1)  # one contact id per statement
    ids = Identifiers(contact_ids=[999_001, alice, 999_002])
    result = _scan(configured, ids, plant=False)
    remaining = {r["table"]: r["rows"] for r in result["remaining_rows"]}
    assert remaining["addresses"] == 2 and remaining["consent_events"] == 2
    assert not result["clean"]


def test_a_scan_after_one_that_failed_in_the_same_transaction(
    configured: Candor, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(conn: Connection, contact_ids: list[int]) -> list[dict[str, Any]]:
        raise RuntimeError("interrupted")

    with configured.engine.connect() as conn, conn.begin() as tx:
        with monkeypatch.context() as patch:
            patch.setattr(scan, "_remaining_rows", broken)
            patch.setattr(scan.VALUES, "drop", lambda *a, **k: None)  # fails before dropping
            with pytest.raises(RuntimeError):
                verification_scan(conn, _alice())
        _plant(conn)
        result = verification_scan(conn, _alice())
        tx.rollback()
    assert len(result["found"]) == 3
