"""New contact keys made ahead and stored later encrypt exactly like stored ones."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import func, select

from candor.core.context import Candor
from candor.store.keystore import contact_keys
from candor.store.vault import Vault, parse_master_key


def _stored(vault: Vault) -> int:
    with vault.keystore.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(contact_keys)).scalar_one())


def _fresh_vault(cx: Candor, master_key: str) -> Vault:
    """Another process's vault: nothing cached, keys come from the key store."""
    return Vault(parse_master_key(master_key), cx.vault.keystore)


def test_pending_keys_are_not_stored_until_asked(cx: Candor, master_key: str) -> None:
    before = _stored(cx.vault)
    first, second = cx.vault.new_keys(2)
    assert first.key_id != second.key_id and _stored(cx.vault) == before
    blob = first.encrypt("identity", b'{"first_name": "Ann"}')
    assert cx.vault.store_keys([first]) == [first.key_id]
    assert _stored(cx.vault) == before + 1
    assert cx.vault.decrypt(first.key_id, "identity", blob) == b'{"first_name": "Ann"}'
    other = _fresh_vault(cx, master_key)
    assert other.decrypt(first.key_id, "identity", blob) == b'{"first_name": "Ann"}'
    assert other.decrypt(first.key_id, "evidence", blob) is None  # bound to its field
    assert other.decrypt(second.key_id, "identity", second.encrypt("identity", b"x")) is None


def test_create_keys_stores_and_caches(cx: Candor, master_key: str) -> None:
    before = _stored(cx.vault)
    ids = cx.vault.create_keys(3)
    assert len(set(ids)) == 3 and _stored(cx.vault) == before + 3
    assert cx.vault.create_keys(0) == [] and cx.vault.store_keys([]) == []
    blob = cx.vault.encrypt(ids[0], "external_id", b"c-1")
    assert _fresh_vault(cx, master_key).decrypt(ids[0], "external_id", blob) == b"c-1"


def test_blind_index_is_the_keyed_sha256(cx: Candor) -> None:
    key = cx.vault._index_key
    expected = hmac.new(key, b"phone:+4915123456789", hashlib.sha256).hexdigest()
    assert cx.vault.blind_index("sms", "+4915123456789") == expected
    assert cx.vault.blind_index("whatsapp", "+4915123456789") == expected
