"""Buffered, fork-safe, thread-safe randomness for nonces.

A 12-byte ``os.urandom`` call costs about as much as the AES-GCM encryption it
feeds, so nonces come from a buffer refilled in large ``os.urandom`` reads.

Two rules keep the buffer safe:

* Two threads never receive the same bytes: batch reads take a lock, and
  single nonces are popped from a list (an atomic operation) that only a locked
  refill replaces.
* :func:`os.register_at_fork` drops the buffered bytes in a forked child, so a
  child never hands out the nonces its parent is about to use. (A child created
  by a raw ``fork()`` from C code, bypassing :func:`os.fork`, is not covered;
  no supported path does that.)

Secret keys never come from this buffer: they are read from ``os.urandom``
directly (see :mod:`credit_vault.crypto._envelope`), so no future key sits in a
long-lived buffer. Nonces are public once used, so buffering them costs nothing.
"""

from __future__ import annotations

import os
import threading

__all__ = ["next_nonce", "nonce_bytes", "secret_bytes"]

# Large enough that the refill cost is amortised over ~340 nonces, small enough
# that a fork or a short-lived process wastes little entropy.
_CHUNK = 4096
_NONCE = 12
_POOL_NONCES = 340  # one 4,080-byte read per refill


class _NonceBuffer:
    """A locked byte buffer refilled from the operating system's CSPRNG.

    Single 12-byte nonces, the hot path, come from ``_pool``: a list of nonces
    cut from one ``os.urandom`` read. ``list.pop`` is atomic (CPython documents
    it as thread-safe; free-threaded builds lock the list), so two threads never
    pop the same nonce and the fast path needs no Python-level lock; refills
    take the lock and install a new list, never touching the old one.
    """

    __slots__ = ("_buf", "_lock", "_pool", "_pos")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0
        self._pool: list[bytes] = []

    def nonce(self) -> bytes:
        """One fresh 12-byte nonce."""
        try:
            return self._pool.pop()
        except IndexError:
            return self._refill_pool()

    def _refill_pool(self) -> bytes:
        with self._lock:
            raw = os.urandom(_POOL_NONCES * _NONCE)
            pool = [raw[i : i + _NONCE] for i in range(0, len(raw), _NONCE)]
            nonce = pool.pop()
            self._pool = pool
            return nonce

    def read(self, n: int) -> bytes:
        """``n`` fresh random bytes, never handed out before in this process."""
        with self._lock:
            pos = self._pos
            end = pos + n
            if end > len(self._buf):
                if n > _CHUNK // 2:
                    # Big batches read directly; the buffer keeps its remainder.
                    return os.urandom(n)
                self._buf = os.urandom(_CHUNK)
                pos = 0
                end = n
            self._pos = end
            return self._buf[pos:end]

    def reset_after_fork(self) -> None:
        """Forget buffered bytes (they belong to the parent's future) and any held lock."""
        # A thread of the parent may have held the lock at fork time; the child
        # has only the forking thread, so a fresh lock is the only safe one.
        self._lock = threading.Lock()
        self._buf = b""
        self._pos = 0
        self._pool = []


_BUFFER = _NonceBuffer()
os.register_at_fork(after_in_child=_BUFFER.reset_after_fork)

#: ``n`` random bytes for nonces (buffered; never for keys).
nonce_bytes = _BUFFER.read

#: One fresh 12-byte AES-GCM nonce (the fast path).
next_nonce = _BUFFER.nonce

#: ``n`` random bytes for key material, straight from the OS CSPRNG (unbuffered).
secret_bytes = os.urandom
