"""RFC 6962 known answers (tests/vectors/merkle_rfc6962.json), positive and corrupted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from credit_vault.audit._merkle import (
    EMPTY_ROOT,
    CompactRange,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "merkle_rfc6962.json").read_text("utf-8"))
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
LEAF_HASHES = [leaf_hash(x) for x in LEAVES]
ROOTS = {int(n): bytes.fromhex(r) for n, r in VECTORS["roots"].items()}
INCLUSION = VECTORS["inclusion"][0]
CONSISTENCY = VECTORS["consistency"][0]
INCLUSION_PROOF = [bytes.fromhex(x) for x in INCLUSION["proof"]]
CONSISTENCY_PROOF = [bytes.fromhex(x) for x in CONSISTENCY["proof"]]


def flipped_bit(proof: list[bytes], element: int, bit: int) -> list[bytes]:
    """``proof`` with one bit of one element inverted."""
    changed = bytearray(proof[element])
    changed[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:element], bytes(changed), *proof[element + 1 :]]


def structural_corruptions(proof: list[bytes]) -> Iterator[tuple[str, list[bytes]]]:
    """Every element dropped, an element added anywhere, trailing bytes, reordering."""
    for i in range(len(proof)):
        yield f"drop {i}", proof[:i] + proof[i + 1 :]
        yield f"trailing byte on {i}", [*proof[:i], proof[i] + b"\x00", *proof[i + 1 :]]
        yield f"truncated {i}", [*proof[:i], proof[i][:-1], *proof[i + 1 :]]
    extras = [b"\x00" * 32, EMPTY_ROOT, *proof, *LEAF_HASHES]
    for position in range(len(proof) + 1):
        for extra in extras:
            yield f"add at {position}", [*proof[:position], extra, *proof[position:]]
    yield "reversed", proof[::-1]
    yield "first two swapped", [proof[1], proof[0], *proof[2:]]
    yield "empty", []


def test_vector_file_matches_reference_shape() -> None:
    assert len(LEAVES) == 8
    assert sorted(ROOTS) == list(range(9))
    assert (INCLUSION["index"], INCLUSION["size"]) == (5, 8)
    assert (CONSISTENCY["old_size"], CONSISTENCY["new_size"]) == (6, 8)


@pytest.mark.parametrize("size", range(9))
def test_roots(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    assert CompactRange().root() == EMPTY_ROOT == ROOTS[0]
    compact = CompactRange()
    compact.extend(LEAF_HASHES[:size])
    assert compact.root() == ROOTS[size]
    assert MerkleTree(LEAF_HASHES).root(size) == ROOTS[size]


def test_inclusion_proof_vector() -> None:
    assert inclusion_proof(5, 8, LEAF_HASHES) == INCLUSION_PROOF
    assert MerkleTree(LEAF_HASHES).inclusion_proof(5) == INCLUSION_PROOF
    assert verify_inclusion(LEAF_HASHES[5], 5, 8, INCLUSION_PROOF, ROOTS[8])


def test_consistency_proof_vector() -> None:
    assert consistency_proof(6, 8, LEAF_HASHES) == CONSISTENCY_PROOF
    assert MerkleTree(LEAF_HASHES).consistency_proof(6) == CONSISTENCY_PROOF
    assert verify_consistency(6, 8, ROOTS[6], ROOTS[8], CONSISTENCY_PROOF)


def test_every_proof_among_the_vector_trees_verifies() -> None:
    for size in range(1, 9):
        for index in range(size):
            proof = inclusion_proof(index, size, LEAF_HASHES)
            assert verify_inclusion(LEAF_HASHES[index], index, size, proof, ROOTS[size])
    for new in range(9):
        for old in range(new + 1):
            proof = consistency_proof(old, new, LEAF_HASHES)
            assert verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


# --- corrupted inclusion probes ----------------------------------------------


@pytest.mark.parametrize("index", [4, 6, -1, 7, 8, 9])
def test_inclusion_wrong_index_fails(index: int) -> None:
    assert not verify_inclusion(LEAF_HASHES[5], index, 8, INCLUSION_PROOF, ROOTS[8])


@pytest.mark.parametrize("size", [s for s in range(-1, 40) if s != 8])
def test_inclusion_wrong_size_with_that_sizes_root_fails(size: int) -> None:
    root = ROOTS.get(size, ROOTS[8])
    if size in ROOTS:
        assert not verify_inclusion(LEAF_HASHES[5], 5, size, INCLUSION_PROOF, root)
    # A size whose tree has a different shape along this path fails even when
    # the root is left unchanged.
    if size not in (7,):
        assert not verify_inclusion(LEAF_HASHES[5], 5, size, INCLUSION_PROOF, ROOTS[8])


def test_inclusion_size_is_bound_only_through_the_signed_root() -> None:
    # Documented RFC 9162 property (see _merkle's docstring): size 7 has the
    # same path shape for leaf 5, so only the (size, root) pair of one signed
    # checkpoint authenticates the size. Paired with size 7's own root it fails.
    assert verify_inclusion(LEAF_HASHES[5], 5, 7, INCLUSION_PROOF, ROOTS[8])
    assert not verify_inclusion(LEAF_HASHES[5], 5, 7, INCLUSION_PROOF, ROOTS[7])


@pytest.mark.parametrize("wrong", [0, 1, 2, 3, 4, 6, 7])
def test_inclusion_wrong_leaf_fails(wrong: int) -> None:
    assert not verify_inclusion(LEAF_HASHES[wrong], 5, 8, INCLUSION_PROOF, ROOTS[8])
    # The entry bytes themselves (not their leaf hash) are not a leaf hash.
    assert not verify_inclusion(
        LEAVES[5] + b"\x00" * (32 - len(LEAVES[5])), 5, 8, INCLUSION_PROOF, ROOTS[8]
    )


def test_inclusion_every_flipped_bit_fails() -> None:
    for element in range(len(INCLUSION_PROOF)):
        for bit in range(256):
            proof = flipped_bit(INCLUSION_PROOF, element, bit)
            assert not verify_inclusion(LEAF_HASHES[5], 5, 8, proof, ROOTS[8]), (element, bit)
    for bit in range(256):
        bad_leaf = flipped_bit([LEAF_HASHES[5]], 0, bit)[0]
        assert not verify_inclusion(bad_leaf, 5, 8, INCLUSION_PROOF, ROOTS[8])
        bad_root = flipped_bit([ROOTS[8]], 0, bit)[0]
        assert not verify_inclusion(LEAF_HASHES[5], 5, 8, INCLUSION_PROOF, bad_root)


def test_inclusion_structural_corruptions_fail() -> None:
    for label, proof in structural_corruptions(INCLUSION_PROOF):
        assert not verify_inclusion(LEAF_HASHES[5], 5, 8, proof, ROOTS[8]), label


@pytest.mark.parametrize("root", [ROOTS[n] for n in range(8)])
def test_inclusion_other_roots_fail(root: bytes) -> None:
    assert not verify_inclusion(LEAF_HASHES[5], 5, 8, INCLUSION_PROOF, root)


def test_inclusion_trailing_bytes_on_leaf_or_root_fail() -> None:
    assert not verify_inclusion(LEAF_HASHES[5] + b"\x00", 5, 8, INCLUSION_PROOF, ROOTS[8])
    assert not verify_inclusion(LEAF_HASHES[5], 5, 8, INCLUSION_PROOF, ROOTS[8] + b"\x00")


# --- corrupted consistency probes --------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [(o, n) for o in range(9) for n in range(9) if (o, n) != (6, 8)],
)
def test_consistency_wrong_sizes_with_their_roots_fail(old: int, new: int) -> None:
    assert not verify_consistency(old, new, ROOTS[old], ROOTS[new], CONSISTENCY_PROOF)


@pytest.mark.parametrize(("old", "new"), [(-1, 8), (6, -1), (-6, -8), (9, 8)])
def test_consistency_impossible_sizes_fail(old: int, new: int) -> None:
    assert not verify_consistency(old, new, ROOTS[6], ROOTS[8], CONSISTENCY_PROOF)


@pytest.mark.parametrize(("old", "new"), [(5, 8), (7, 8), (6, 9), (4, 8), (6, 6), (8, 6)])
def test_consistency_size_changes_that_alter_the_shape_fail(old: int, new: int) -> None:
    assert not verify_consistency(old, new, ROOTS[6], ROOTS[8], CONSISTENCY_PROOF)


def test_consistency_size_is_bound_only_through_the_signed_roots() -> None:
    # 6 -> 7 has the same proof shape as 6 -> 8 (documented in _merkle); with
    # size 7's own root it fails.
    assert verify_consistency(6, 7, ROOTS[6], ROOTS[8], CONSISTENCY_PROOF)
    assert not verify_consistency(6, 7, ROOTS[6], ROOTS[7], CONSISTENCY_PROOF)


def test_consistency_swapped_or_wrong_roots_fail() -> None:
    assert not verify_consistency(6, 8, ROOTS[8], ROOTS[6], CONSISTENCY_PROOF)
    assert not verify_consistency(6, 8, ROOTS[8], ROOTS[8], CONSISTENCY_PROOF)
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[6], CONSISTENCY_PROOF)
    for n in range(9):
        if n != 6:
            assert not verify_consistency(6, 8, ROOTS[n], ROOTS[8], CONSISTENCY_PROOF)
        if n != 8:
            assert not verify_consistency(6, 8, ROOTS[6], ROOTS[n], CONSISTENCY_PROOF)


def test_consistency_every_flipped_bit_fails() -> None:
    for element in range(len(CONSISTENCY_PROOF)):
        for bit in range(256):
            proof = flipped_bit(CONSISTENCY_PROOF, element, bit)
            assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], proof), (element, bit)
    for bit in range(256):
        bad_old = flipped_bit([ROOTS[6]], 0, bit)[0]
        bad_new = flipped_bit([ROOTS[8]], 0, bit)[0]
        assert not verify_consistency(6, 8, bad_old, ROOTS[8], CONSISTENCY_PROOF)
        assert not verify_consistency(6, 8, ROOTS[6], bad_new, CONSISTENCY_PROOF)


def test_consistency_structural_corruptions_fail() -> None:
    for label, proof in structural_corruptions(CONSISTENCY_PROOF):
        assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], proof), label


def test_consistency_trailing_bytes_on_roots_fail() -> None:
    assert not verify_consistency(6, 8, ROOTS[6] + b"\x00", ROOTS[8], CONSISTENCY_PROOF)
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8] + b"\x00", CONSISTENCY_PROOF)


def test_consistency_edge_cases() -> None:
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[8], CONSISTENCY_PROOF)
    assert not verify_consistency(0, 8, ROOTS[1], ROOTS[8], [])
    assert verify_consistency(8, 8, ROOTS[8], ROOTS[8], [])
    assert not verify_consistency(8, 8, ROOTS[8], ROOTS[8], [ROOTS[8]])
    assert not verify_consistency(8, 8, ROOTS[7], ROOTS[8], [])
    assert not verify_consistency(6, 8, ROOTS[6], ROOTS[8], [])
