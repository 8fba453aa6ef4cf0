"""The key cache stays bounded, keeps a batch's keys together and remembers destroyed keys."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from candor.core.context import Candor
from candor.store.key_cache import MISSING, KeyCache


def _key() -> AESGCM:
    return AESGCM(AESGCM.generate_key(bit_length=256))


def test_the_least_recently_used_keys_go_beyond_the_limit() -> None:
    cache = KeyCache(limit=3)
    keys = {f"k{i}": _key() for i in range(4)}
    cache.put_all({"k0": keys["k0"], "k1": keys["k1"], "k2": keys["k2"]})
    assert cache.get("k0") is keys["k0"]  # k0 used: k1 is now the oldest
    cache.put_all({"k3": keys["k3"]})
    assert len(cache) == 3
    assert cache.get("k1") is MISSING
    assert [cache.get(k) for k in ("k0", "k2", "k3")] == [keys["k0"], keys["k2"], keys["k3"]]


def test_one_batch_larger_than_the_limit_is_kept_whole() -> None:
    cache = KeyCache(limit=2)
    cache.put_all({"old": _key()})
    batch = {f"b{i}": _key() for i in range(5)}
    cache.put_all(batch)
    assert len(cache) == 5 and "old" not in cache
    assert all(cache.get(k) is v for k, v in batch.items())


def test_a_destroyed_key_is_none_not_missing() -> None:
    cache = KeyCache()
    cache.put_all({"gone": None})
    assert cache.get("gone") is None and cache.get("never") is MISSING


def test_vault_memory_is_bounded_and_evicted_keys_are_fetched_again(cx: Candor) -> None:
    vault = cx.vault
    vault._cache = KeyCache(limit=4)  # a small cache to show the behaviour
    ids = vault.create_keys(6)
    blobs = {k: vault.encrypt(k, "identity", k.encode()) for k in ids}
    assert len(vault._cache) == 6  # one batch is kept whole
    vault.load(ids[:1])
    assert len(vault._cache) == 6
    vault.forget_cache()
    vault.load(ids[:3])
    vault.load(ids[3:])
    assert len(vault._cache) == 4
    # Every key still decrypts: the dropped ones come back from the key store.
    assert [vault.decrypt(k, "identity", blobs[k]) for k in ids] == [k.encode() for k in ids]
    vault.destroy(ids[:1])
    assert vault.decrypt(ids[0], "identity", blobs[ids[0]]) is None
