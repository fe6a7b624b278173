"""Merkle tree API: hashing primitives, CompactRange, MerkleTree, argument checks."""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256

import pytest

from credit_vault.audit._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    inclusion_proof_from,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from credit_vault.errors import InputError

HASHES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]


def test_domain_separated_hashes() -> None:
    assert sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"") == bytes.fromhex(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    a, b = HASHES[0], HASHES[1]
    assert node_hash(a, b) == sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)  # order is kept, never sorted
    # A leaf can never pose as a node: the prefixes differ.
    assert leaf_hash(a + b) != node_hash(a, b)


def test_root_accepts_any_sequence() -> None:
    assert root_from_leaf_hashes(tuple(HASHES[:5])) == root_from_leaf_hashes(HASHES[:5])
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert root_from_leaf_hashes([HASHES[0]]) == HASHES[0]
    as_bytearrays: list[bytes] = [bytearray(h) for h in HASHES[:3]]  # type: ignore[misc]
    assert root_from_leaf_hashes(as_bytearrays) == root_from_leaf_hashes(HASHES[:3])


@pytest.mark.parametrize("bad", [b"short", HASHES[0] + b"\x00", "x" * 32, 32])
def test_root_refuses_malformed_leaf_hashes(bad: object) -> None:
    with pytest.raises(InputError):
        root_from_leaf_hashes([HASHES[0], bad])  # type: ignore[list-item]
    with pytest.raises(InputError):
        MerkleTree([HASHES[0], bad])  # type: ignore[list-item]


def test_compact_range_tracks_the_frontier() -> None:
    compact = CompactRange()
    assert (compact.size, compact.nodes, compact.to_bytes()) == (0, (), b"")
    compact.extend(HASHES[:6])  # 6 = 0b110: subtrees of 4 and 2 leaves
    assert compact.size == 6
    assert compact.nodes == (
        root_from_leaf_hashes(HASHES[:4]),
        root_from_leaf_hashes(HASHES[4:6]),
    )
    assert compact.to_bytes() == b"".join(compact.nodes)
    compact.append(HASHES[6])
    assert len(compact.to_bytes()) == 3 * HASH_SIZE
    compact.append(HASHES[7])
    assert compact.to_bytes() == root_from_leaf_hashes(HASHES[:8])  # one perfect tree


def test_compact_range_large_run_matches_root() -> None:
    compact = CompactRange()
    hashes = [leaf_hash(i.to_bytes(4, "big")) for i in range(2**12 + 5)]
    compact.extend(hashes)
    assert compact.root() == root_from_leaf_hashes(hashes) == MerkleTree(hashes).root()


def test_compact_range_copy_is_independent() -> None:
    compact = CompactRange()
    compact.extend(HASHES[:3])
    clone = compact.copy()
    clone.append(HASHES[3])
    assert compact.size == 3
    assert clone.size == 4
    assert compact != clone
    assert compact == CompactRange(3, compact.nodes)
    assert compact != "not a range"


def test_compact_range_is_not_hashable_and_repr_shows_no_nodes() -> None:
    compact = CompactRange()
    compact.extend(HASHES[:3])
    with pytest.raises(TypeError):
        hash(compact)
    text = repr(compact)
    assert "size=3" in text
    assert compact.nodes[0].hex() not in text


@pytest.mark.parametrize(
    ("size", "nodes"),
    [
        (-1, ()),
        (1, ()),
        (0, (HASHES[0],)),
        (3, (HASHES[0],)),
        (2, (b"\x00" * 31,)),
        (2, (32,)),
        (True, (HASHES[0],)),
    ],
)
def test_compact_range_refuses_inconsistent_state(size: int, nodes: tuple[bytes, ...]) -> None:
    with pytest.raises(InputError):
        CompactRange(size, nodes)


@pytest.mark.parametrize(("size", "length"), [(3, 32), (3, 96), (1, 0), (0, 32), (-1, 0), (4, 33)])
def test_compact_range_from_bytes_checks_length(size: int, length: int) -> None:
    with pytest.raises(InputError):
        CompactRange.from_bytes(size, b"\x00" * length)


def test_compact_range_append_refuses_non_hashes() -> None:
    compact = CompactRange()
    with pytest.raises(InputError):
        compact.append(b"\x00" * 33)
    assert compact.size == 0


def test_merkle_tree_unaligned_subtrees() -> None:
    tree = MerkleTree(HASHES[:100])
    assert tree.size == 100
    assert tree.leaf_hash(7) == HASHES[7]
    for start, end in [(3, 4), (3, 7), (5, 13), (1, 100), (37, 64), (0, 0), (100, 100)]:
        assert tree.subtree_root(start, end) == root_from_leaf_hashes(HASHES[start:end])
    for start, end in [(-1, 3), (5, 4), (0, 101)]:
        with pytest.raises(InputError):
            tree.subtree_root(start, end)
    with pytest.raises(InputError):
        tree.inclusion_proof(0, 101)
    with pytest.raises(InputError):
        tree.consistency_proof(3, 101)


def test_proof_from_callback_asks_only_for_logarithmically_many_subtrees() -> None:
    tree = MerkleTree(HASHES)
    asked: list[tuple[int, int]] = []

    def subtree_root(start: int, end: int) -> bytes:
        asked.append((start, end))
        return tree.subtree_root(start, end)

    proof = inclusion_proof_from(137, 300, subtree_root)
    assert len(asked) == len(proof) <= 9
    assert verify_inclusion(HASHES[137], 137, 300, proof, tree.root())
    asked.clear()
    proof = consistency_proof_from(137, 300, subtree_root)
    assert len(asked) == len(proof) <= 2 * 9
    assert verify_consistency(137, 300, tree.root(137), tree.root(), proof)


def test_single_leaf_and_power_of_two_edges() -> None:
    assert inclusion_proof(0, 1, HASHES) == []
    assert verify_inclusion(HASHES[0], 0, 1, [], HASHES[0])
    assert not verify_inclusion(HASHES[0], 0, 1, [HASHES[1]], HASHES[0])
    proof = consistency_proof(4, 8, HASHES)
    assert proof == [root_from_leaf_hashes(HASHES[4:8])]
    assert verify_consistency(
        4, 8, root_from_leaf_hashes(HASHES[:4]), root_from_leaf_hashes(HASHES[:8]), proof
    )
    assert consistency_proof(0, 5, HASHES) == []
    assert consistency_proof(5, 5, HASHES) == []


@pytest.mark.parametrize(("index", "size"), [(0, 0), (5, 5), (-1, 3), (3, 400), (True, 3)])
def test_inclusion_proof_refuses_impossible_arguments(index: int, size: int) -> None:
    with pytest.raises(InputError):
        inclusion_proof(index, size, HASHES)


@pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 3), (3, 400), (1, 2.0)])
def test_consistency_proof_refuses_impossible_arguments(old: int, new: int) -> None:
    with pytest.raises(InputError):
        consistency_proof(old, new, HASHES)


def test_verifiers_return_false_on_malformed_arguments() -> None:
    root = root_from_leaf_hashes(HASHES[:4])
    proof = inclusion_proof(1, 4, HASHES)
    assert verify_inclusion(HASHES[1], 1, 4, proof, root)
    assert not verify_inclusion(HASHES[1], True, 4, proof, root)
    assert not verify_inclusion(HASHES[1], 1, 4.0, proof, root)  # type: ignore[arg-type]
    assert not verify_inclusion(HASHES[1].hex(), 1, 4, proof, root)  # type: ignore[arg-type]
    assert not verify_inclusion(HASHES[1], 1, 4, [p.hex() for p in proof], root)  # type: ignore[misc]
    assert not verify_inclusion(HASHES[1], 1, 4, proof, root[:31])
    old = root_from_leaf_hashes(HASHES[:3])
    cproof = consistency_proof(3, 4, HASHES)
    assert verify_consistency(3, 4, old, root, cproof)
    assert not verify_consistency(3, 4, old, root, [*cproof[:-1], cproof[-1][:16]])
    assert not verify_consistency(3, 4.0, old, root, cproof)  # type: ignore[arg-type]
    assert not verify_consistency(3, 4, old.hex(), root, cproof)  # type: ignore[arg-type]


def sparse_tree(pivot: int) -> Callable[[int, int], bytes]:
    """A tree too large to build: perfect subtrees away from leaf ``pivot`` are opaque.

    Proof checking only recomputes ancestors of one leaf (``pivot``), so every other
    perfect subtree may stand for any fixed hash without changing the arithmetic.
    """

    def mth(start: int, end: int) -> bytes:
        n = end - start
        if n & (n - 1) == 0 and not start <= pivot < end:
            return sha256(f"{start}:{end}".encode()).digest()
        if n == 1:
            return leaf_hash(b"pivot")
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(mth(start, start + k), mth(start + k, end))

    return mth


@pytest.mark.parametrize("size", [2**64, 2**64 + 1, 2**70 + 3, 3 * 2**80 - 1])
def test_huge_sizes_are_exact(size: int) -> None:
    # Sizes beyond 64 bits follow the same integer arithmetic (no overflow, no float).
    for index in (0, 1, size // 3, size - 2, size - 1):
        mth = sparse_tree(index)
        proof = inclusion_proof_from(index, size, mth)
        assert verify_inclusion(mth(index, index + 1), index, size, proof, mth(0, size))
        assert not verify_inclusion(mth(index, index + 1), index ^ 1, size, proof, mth(0, size))
        assert not verify_inclusion(mth(index, index + 1), index, size, proof[:-1], mth(0, size))
    for old in (1, 2**63, size // 3, size - 1):
        mth = sparse_tree(old - 1)
        proof = consistency_proof_from(old, size, mth)
        assert verify_consistency(old, size, mth(0, old), mth(0, size), proof)
        assert not verify_consistency(old, size, mth(0, size), mth(0, old), proof)
        assert not verify_consistency(old, size, mth(0, old), mth(0, size), proof[1:])
