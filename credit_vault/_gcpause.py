"""Pause Python's cyclic garbage collector around a bulk step.

Building thousands of rows allocates many small containers that live until the
batch is written. Each allocation counts towards the collector's thresholds, so
a 10,000-record ingest triggers repeated full collections that walk every live
object in the process: measured at 6–10 µs a record, as much as the encryption.
None of the batch's objects form reference cycles (rows are lists of strings,
bytes, dates and numbers), so reference counting frees them all, and the
collector has nothing to find. The pause ends when the step ends, whether it
succeeds or fails.

The collector's switch is process-wide. Nested and concurrent pauses are
counted: the collector is switched back on when the last one ends, and only if
it was on when the first one began (an application that turned it off keeps
it off). An application thread that calls :func:`gc.enable` meanwhile simply
gets collections again; nothing breaks.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


class _Pauses:
    """The count of pauses in progress and whether the collector was on before the first."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False


_PAUSES = _Pauses()


@contextmanager
def gc_paused() -> Iterator[None]:
    """Switch the cyclic collector off for the ``with`` block (counted; see the module doc)."""
    p = _PAUSES
    with p.lock:
        if p.depth == 0:
            p.was_enabled = gc.isenabled()
            gc.disable()
        p.depth += 1
    try:
        yield
    finally:
        with p.lock:
            p.depth -= 1
            if p.depth == 0 and p.was_enabled:
                gc.enable()
