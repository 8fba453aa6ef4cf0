"""Python's cyclic garbage collector, run less often while a batch is walked.

A batch allocates a few objects per member (rows, members, decisions, moves), nearly none of
them in reference cycles, and frees them by reference counting. With the default threshold
(a young collection every 700 new objects) the collector still ran hundreds of times per
batch and promoted the batch's live objects into older generations it then scanned again.
Raising the young threshold while a batch is walked avoids that work.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000  # new objects between young collections while batches run

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young generation's threshold for the block; the last block out restores it.

    Thresholds are per process: batches walked at once by several threads share one raise.
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(YOUNG_THRESHOLD, _saved[0]), _saved[1], _saved[2])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
