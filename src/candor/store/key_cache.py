"""A bounded cache of unwrapped contact keys: memory stays flat however many contacts pass.

An unwrapped key (an AESGCM object) costs a few kilobytes; a cache that kept every key it
ever saw grew by about 300 MB per 100,000 imported contacts and without end in a server.
The least recently used keys are dropped beyond the limit, but never keys of the same
`put_all` (a batch that loaded its keys keeps them all until it has used them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DEFAULT_LIMIT = 10_000


class Missing:
    """Marks a key the cache does not hold (None means: the key was destroyed)."""


MISSING = Missing()


class KeyCache:
    """key id -> AESGCM (None once destroyed), least recently used dropped; thread-safe."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._keys: OrderedDict[str, AESGCM | None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key_id: str) -> AESGCM | Missing | None:
        """The key (None if destroyed), or MISSING when it has to be loaded."""
        with self._lock:
            found = self._keys.get(key_id, MISSING)
            if found is not MISSING:
                self._keys.move_to_end(key_id)
            return found

    def put_all(self, entries: dict[str, AESGCM | None]) -> None:
        """Remember these keys as the most recent; drop the oldest beyond the limit."""
        with self._lock:
            for key_id, cipher in entries.items():
                self._keys[key_id] = cipher
                self._keys.move_to_end(key_id)
            keep = max(self._limit, len(entries))
            while len(self._keys) > keep:
                self._keys.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
