"""The buffered nonce source: no repeats across threads, calls, or a fork."""

from __future__ import annotations

import os
import threading
import warnings

import pytest

from credit_vault.crypto import FieldCipher, KeySet, _random
from credit_vault.crypto._envelope import DataKey

NONCE = 12


def chunks(data: bytes, size: int = NONCE) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_reads_have_the_requested_length() -> None:
    for n in (0, 1, 12, 100, 2048, 2049, 4096, 10_000):
        assert len(_random.nonce_bytes(n)) == n


def test_consecutive_reads_do_not_overlap() -> None:
    seen = [_random.nonce_bytes(NONCE) for _ in range(5_000)]
    assert len(set(seen)) == len(seen)


def test_pool_nonces_are_twelve_bytes_and_distinct() -> None:
    seen = [_random.next_nonce() for _ in range(5_000)]  # several refills
    assert {len(n) for n in seen} == {NONCE}
    assert len(set(seen)) == len(seen)


@pytest.mark.parametrize("source", ["pool", "buffer"])
def test_threads_never_receive_the_same_bytes(source: str) -> None:
    results: list[list[bytes]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def draw() -> bytes:
        return _random.next_nonce() if source == "pool" else _random.nonce_bytes(NONCE)

    def work(slot: int) -> None:
        barrier.wait()
        results[slot].extend(draw() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for result in results for n in result]
    assert len(everything) == 20_000
    assert len(set(everything)) == 20_000


def _fork() -> int:
    with warnings.catch_warnings():
        # Python 3.12+ warns when forking a process that has threads; this test
        # forks on purpose and the child only computes and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_repeat_the_parents_next_nonces() -> None:
    cipher = FieldCipher(DataKey._from_bytes("r_fork", 1, bytes(range(32))))
    cipher.encrypt("r_fork", "name", b"x")  # the buffer now holds the parent's next nonces
    count = 100
    read_end, write_end = os.pipe()
    pid = _fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            blobs = [cipher.encrypt("r_fork", "name", b"x") for _ in range(count)]
            os.write(write_end, b"".join(b[5:17] for b in blobs))
        finally:
            os._exit(0)
    os.close(write_end)
    parent = {cipher.encrypt("r_fork", "name", b"x")[5:17] for _ in range(count)}
    received = b""
    while chunk := os.read(read_end, 65536):
        received += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    child = set(chunks(received))
    assert len(child) == count
    assert parent.isdisjoint(child)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_without_the_fork_hook_the_child_would_repeat() -> None:
    # The control experiment: a buffer that is NOT reset hands the child the
    # parent's bytes, which is exactly what the registered hook prevents.
    buffer = _random._NonceBuffer()
    buffer.read(NONCE)
    buffer.nonce()
    read_end, write_end = os.pipe()
    pid = _fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(read_end)
            os.write(write_end, buffer.read(NONCE * 10) + buffer.nonce())
        finally:
            os._exit(0)
    os.close(write_end)
    parent = buffer.read(NONCE * 10) + buffer.nonce()
    received = os.read(read_end, 1024)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert received == parent
    buffer.reset_after_fork()
    assert buffer.read(NONCE * 10) + buffer.nonce() != parent


def test_key_material_is_not_buffered() -> None:
    # Keys come straight from os.urandom: generating key sets leaves the nonce
    # buffer's position where it was.
    state = _random._BUFFER
    before = state._pos, state._buf, list(state._pool)
    KeySet.generate()
    assert (state._pos, state._buf, list(state._pool)) == before
