"""Merkle tree properties against a naive tree written straight from RFC 6962 §2.1."""

from __future__ import annotations

import functools
import random
from hashlib import sha256

from hypothesis import given, settings
from hypothesis import strategies as st

from credit_vault.audit._merkle import (
    CompactRange,
    MerkleTree,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 1000


class NaiveTree:
    """MTH, PATH and PROOF/SUBPROOF transcribed from RFC 6962 §2.1, memoised by range."""

    def __init__(self, entries: list[bytes]) -> None:
        self.entries = entries
        self.mth = functools.cache(self._mth)

    @staticmethod
    def split(n: int) -> int:
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return sha256(b"").digest()
        if n == 1:
            return sha256(b"\x00" + self.entries[start]).digest()
        k = self.split(n)
        return sha256(b"\x01" + self.mth(start, start + k) + self.mth(start + k, end)).digest()

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = self.split(n)
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.mth(start, end)]
        k = self.split(n)
        if m <= k:
            return [*self.subproof(m, start, start + k, complete), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]

    def consistency(self, m: int, n: int) -> list[bytes]:
        return self.subproof(m, 0, n, True)


@functools.cache
def dataset(seed: int) -> tuple[NaiveTree, list[bytes]]:
    """Distinct random entries (0-40 bytes), their naive tree and leaf hashes."""
    rng = random.Random(seed)
    # Distinct, so that another leaf's hash is always a wrong leaf; one spare
    # entry so that a size just past MAX_SIZE has a root to compare with.
    entries: list[bytes] = []
    seen: set[bytes] = set()
    while len(entries) <= MAX_SIZE:
        entry = rng.randbytes(rng.randrange(41))
        if entry not in seen:
            seen.add(entry)
            entries.append(entry)
    return NaiveTree(entries), [leaf_hash(e) for e in entries]


seeds = st.integers(min_value=0, max_value=11)
sizes = st.integers(min_value=0, max_value=MAX_SIZE)


def flip(proof: list[bytes], element: int, bit: int) -> list[bytes]:
    changed = bytearray(proof[element])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:element], bytes(changed), *proof[element + 1 :]]


@settings(max_examples=150, deadline=None)
@given(seed=seeds, size=sizes)
def test_roots_equal_naive(seed: int, size: int) -> None:
    naive, hashes = dataset(seed)
    expected = naive.mth(0, size)
    assert root_from_leaf_hashes(hashes[:size]) == expected
    assert MerkleTree(hashes[:size]).root() == expected
    compact = CompactRange()
    compact.extend(hashes[:size])
    assert compact.size == size
    assert compact.root() == expected
    restored = CompactRange.from_bytes(size, compact.to_bytes())
    assert restored == compact
    assert restored.root() == expected
    assert CompactRange(size, compact.nodes) == compact


@settings(max_examples=20, deadline=None)
@given(seed=seeds, size=sizes)
def test_compact_range_root_at_every_size(seed: int, size: int) -> None:
    naive, hashes = dataset(seed)
    compact = CompactRange()
    assert compact.root() == naive.mth(0, 0)
    for n in range(1, size + 1):
        compact.append(hashes[n - 1])
        assert compact.root() == naive.mth(0, n)
        assert len(compact.nodes) == n.bit_count()
        assert CompactRange.from_bytes(n, compact.to_bytes()) == compact
    # Resuming from a stored frontier continues the same tree.
    half = size // 2
    resumed = CompactRange()
    resumed.extend(hashes[:half])
    resumed = CompactRange.from_bytes(half, resumed.to_bytes())
    resumed.extend(hashes[half:size])
    assert resumed == compact


@settings(max_examples=100, deadline=None)
@given(seed=seeds, a=sizes, b=sizes)
def test_subtree_roots_equal_naive(seed: int, a: int, b: int) -> None:
    naive, hashes = dataset(seed)
    start, end = min(a, b), max(a, b)
    assert MerkleTree(hashes).subtree_root(start, end) == naive.mth(start, end)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), seed=seeds, size=st.integers(min_value=1, max_value=MAX_SIZE))
def test_inclusion_proofs_equal_naive_and_resist_mutation(
    data: st.DataObject, seed: int, size: int
) -> None:
    naive, hashes = dataset(seed)
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    root = naive.mth(0, size)
    leaf = hashes[index]

    proof = inclusion_proof(index, size, hashes)
    assert proof == naive.path(index, 0, size)
    assert inclusion_proof_from(index, size, naive.mth) == proof
    assert verify_inclusion(leaf, index, size, proof, root)

    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        assert not verify_inclusion(leaf, index, size, flip(proof, element, bit), root)
        assert not verify_inclusion(leaf, index, size, proof[:element] + proof[element + 1 :], root)
        trailing = [*proof[:element], proof[element] + b"\x00", *proof[element + 1 :]]
        assert not verify_inclusion(leaf, index, size, trailing, root)
    position = data.draw(st.integers(0, len(proof)), label="position")
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    assert not verify_inclusion(
        leaf, index, size, [*proof[:position], extra, *proof[position:]], root
    )

    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index), label="other")
        assert not verify_inclusion(leaf, other, size, proof, root)
        assert not verify_inclusion(hashes[other], index, size, proof, root)
    assert not verify_inclusion(leaf, size, size, proof, root)
    assert not verify_inclusion(leaf, -1, size, proof, root)

    # A different size, paired with the root of that size (as a checkpoint would be).
    other_size = data.draw(
        st.integers(index + 1, MAX_SIZE + 1).filter(lambda n: n != size), label="other_size"
    )
    assert not verify_inclusion(leaf, index, other_size, proof, naive.mth(0, other_size))
    assert not verify_inclusion(leaf, index, size, proof, naive.mth(0, other_size))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), seed=seeds, a=sizes, b=sizes)
def test_consistency_proofs_equal_naive_and_resist_mutation(
    data: st.DataObject, seed: int, a: int, b: int
) -> None:
    naive, hashes = dataset(seed)
    old, new = min(a, b), max(a, b)
    old_root, new_root = naive.mth(0, old), naive.mth(0, new)

    proof = consistency_proof(old, new, hashes)
    expected = [] if old == 0 else naive.consistency(old, new)
    assert proof == expected
    assert consistency_proof_from(old, new, naive.mth) == proof
    assert verify_consistency(old, new, old_root, new_root, proof)

    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        bit = data.draw(st.integers(0, 255), label="bit")
        assert not verify_consistency(old, new, old_root, new_root, flip(proof, element, bit))
        dropped = proof[:element] + proof[element + 1 :]
        assert not verify_consistency(old, new, old_root, new_root, dropped)
        trailing = [*proof[:element], proof[element] + b"\x00", *proof[element + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, trailing)
    position = data.draw(st.integers(0, len(proof)), label="position")
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")
    added = [*proof[:position], extra, *proof[position:]]
    assert not verify_consistency(old, new, old_root, new_root, added)

    if old != new:
        assert not verify_consistency(old, new, new_root, old_root, proof)
    # Other sizes, each paired with its own root.
    other_old = data.draw(st.integers(0, new + 1).filter(lambda n: n != old), label="other_old")
    if proof or other_old not in (0, new):  # an empty proof is right for those
        assert not verify_consistency(other_old, new, naive.mth(0, other_old), new_root, proof)
    other_new = data.draw(
        st.integers(old, MAX_SIZE + 1).filter(lambda n: n != new), label="other_new"
    )
    if old != 0:
        assert not verify_consistency(old, other_new, old_root, naive.mth(0, other_new), proof)


@settings(max_examples=50, deadline=None)
@given(seed=seeds, size=st.integers(min_value=1, max_value=MAX_SIZE))
def test_merkle_tree_answers_every_smaller_tree(seed: int, size: int) -> None:
    naive, hashes = dataset(seed)
    tree = MerkleTree(hashes)
    rng = random.Random(size)
    index = rng.randrange(size)
    old = rng.randrange(size + 1)
    assert tree.root(size) == naive.mth(0, size)
    assert tree.inclusion_proof(index, size) == naive.path(index, 0, size)
    assert tree.consistency_proof(old, size) == ([] if old == 0 else naive.consistency(old, size))
