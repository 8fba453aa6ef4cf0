"""The identity vault: nothing identifying in clear, keys apart, shredding is final."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import select

from candor.core.context import Candor
from candor.ledger.contacts import (
    NewAddress,
    NewContact,
    create_contact,
    find_by_address,
    read_contact,
)
from candor.store.keystore import contact_keys
from candor.store.tables import contacts


def make(cx: Candor) -> int:
    with cx.engine.begin() as conn:
        return create_contact(
            conn,
            cx.vault,
            NewContact(
                external_id="c1",
                first_name="Grete",
                last_name="Vogelsang",
                addresses=[
                    NewAddress("email", "Grete.Vogelsang@Example.org"),
                    NewAddress("sms", "0171 1234567"),
                ],
                attributes={"country": "DE"},
            ),
            actor="t",
            at=cx.clock.now(),
        )


def test_identifying_data_is_not_stored_in_clear(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    contact_id = make(cx)
    if cx.engine.dialect.name == "sqlite":
        cx.engine.dispose()
        raw = Path(cx.engine.url.database or "").read_bytes()
        wal = Path(str(cx.engine.url.database) + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        for secret in (b"Grete", b"Vogelsang", b"grete.vogelsang@example.org", b"+491711234567"):
            assert secret not in raw
    with cx.engine.connect() as conn:
        assert read_contact(conn, cx.vault, contact_id)["first_name"] == "Grete"
        assert find_by_address(conn, cx.vault, "email", "GRETE.vogelsang@example.org") == contact_id
        assert find_by_address(conn, cx.vault, "whatsapp", "+49 171 1234567") == contact_id


def test_keys_live_in_the_key_store_not_the_data_database(configured: Candor) -> None:
    cx = configured
    contact_id = make(cx)
    with cx.engine.connect() as conn:
        key_id = conn.execute(
            select(contacts.c.key_id).where(contacts.c.id == contact_id)
        ).scalar_one()
    with cx.vault.keystore.connect() as conn:
        assert (
            conn.execute(
                select(contact_keys.c.key_id).where(contact_keys.c.key_id == key_id)
            ).scalar()
            == key_id
        )
    table_names = set(cx.engine.dialect.get_table_names(cx.engine.connect()))
    assert "contact_keys" not in table_names


def test_destroyed_key_leaves_nothing_readable(configured: Candor, tmp_path: Path) -> None:
    cx = configured
    contact_id = make(cx)
    with cx.engine.connect() as conn:
        key_id = conn.execute(
            select(contacts.c.key_id).where(contacts.c.id == contact_id)
        ).scalar_one()
    cx.vault.destroy([key_id])
    cx.vault.forget_cache()
    with cx.engine.connect() as conn:
        view = read_contact(conn, cx.vault, contact_id)
    assert view["first_name"] is None
    assert all(a["value"] is None for a in view["addresses"])
    keystore_file = Path(cx.vault.keystore.url.database or "")
    with sqlite3.connect(keystore_file) as db:
        assert (
            db.execute("select count(*) from contact_keys where key_id = ?", (key_id,)).fetchone()[
                0
            ]
            == 0
        )


def test_decrypt_many_matches_decrypt_and_isolates_a_tampered_blob(configured: Candor) -> None:
    vault = configured.vault
    (key_id,) = vault.create_keys(1)
    blobs = [vault.encrypt(key_id, "evidence", f"e{i}".encode()) for i in range(3)]
    tampered = blobs[1][:-1] + bytes([blobs[1][-1] ^ 1])
    assert vault.decrypt_many(key_id, "evidence", [blobs[0], None, blobs[2]]) == [
        b"e0",
        None,
        b"e2",
    ]
    assert vault.decrypt_many(key_id, "evidence", [blobs[0], tampered, blobs[2]]) == [
        b"e0",
        None,
        b"e2",
    ]
    assert vault.decrypt_many(key_id, "other-field", blobs[:1]) == [None]
    vault.destroy([key_id])
    assert vault.decrypt_many(key_id, "evidence", blobs) == [None, None, None]


def test_json_values_round_trip_and_are_unreadable_once_the_key_is_gone(
    configured: Candor,
) -> None:
    vault = configured.vault
    (key_id,) = vault.create_keys(1)
    value = {"ip": "192.0.2.7", "page": "preferences", "wording": {"version": 2}}
    sealed = vault.encrypt_json(key_id, "evidence", value)
    assert b"192.0.2.7" not in sealed
    assert vault.decrypt_json(key_id, "evidence", sealed) == value
    assert vault.decrypt_json(key_id, "block_evidence", sealed) is None  # bound to its field
    assert vault.decrypt_json(key_id, "evidence", None) is None
    vault.destroy([key_id])
    assert vault.decrypt_json(key_id, "evidence", sealed) is None
