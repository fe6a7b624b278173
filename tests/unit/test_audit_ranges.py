"""Interval compact ranges and proofs planned before one pass over the leaves."""

from __future__ import annotations

import itertools
from hashlib import sha256

import pytest

from credit_vault.audit import (
    EMPTY_ROOT,
    CompactRange,
    IntervalRange,
    MerkleTree,
    ProofPlan,
    leaf_hash,
    perfect_pieces,
    verify_consistency,
    verify_inclusion,
)
from credit_vault.errors import InputError


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_perfect_pieces_follow_the_rfc_split() -> None:
    assert perfect_pieces(0, 0) == []
    assert perfect_pieces(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert perfect_pieces(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(InputError):
        perfect_pieces(3, 7)  # [3, 7) has no aligned decomposition of that shape
    with pytest.raises(InputError):
        perfect_pieces(5, 4)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100])
def test_interval_ranges_merge_to_the_tree_root(n: int) -> None:
    hs = leaves(n)
    tree = MerkleTree(hs)
    for cut1, cut2 in itertools.combinations(range(n + 1), 2):
        parts = [(0, cut1), (cut1, cut2), (cut2, n)]
        acc = IntervalRange(0)
        for a, b in parts:
            part = IntervalRange(a)
            for h in hs[a:b]:
                part.append(h)
            assert (part.begin, part.end) == (a, b)
            acc.extend(part)
        assert acc.root() == tree.root()
        assert acc.to_compact().root() == tree.root()


def test_interval_range_nodes_are_at_most_two_per_level() -> None:
    hs = leaves(1000)
    r = IntervalRange(333)
    for h in hs[333:900]:
        r.append(h)
    per_level: dict[int, int] = {}
    for height in r.heights:
        per_level[height] = per_level.get(height, 0) + 1
    assert max(per_level.values()) <= 2


def test_interval_range_conversions_and_errors() -> None:
    hs = leaves(11)
    cr = CompactRange()
    cr.extend(hs)
    r = IntervalRange.from_compact(cr)
    assert r.to_compact() == cr
    assert IntervalRange.from_frontier(11, cr.nodes).root() == cr.root()
    assert IntervalRange(0).root() == EMPTY_ROOT
    tail = IntervalRange(5)
    with pytest.raises(InputError):
        tail.root()
    with pytest.raises(InputError):
        tail.to_compact()
    with pytest.raises(InputError):
        r.extend(IntervalRange(12))  # not adjacent
    with pytest.raises(InputError):
        IntervalRange(1).append_node(1, hs[0])  # unaligned subtree
    with pytest.raises(InputError):
        IntervalRange(0).append(b"short")
    with pytest.raises(InputError):
        IntervalRange(-1)
    with pytest.raises(InputError):
        IntervalRange(0, 3, [(0, hs[0])])  # nodes do not reach the stated end
    copy = r.copy()
    copy.append(hs[0])
    assert r.end == 11
    assert copy.end == 12
    assert "IntervalRange([0, 12)" in repr(copy)


def test_merge_is_the_rfc_node_hash_with_order_kept() -> None:
    a, b = leaves(2)
    r = IntervalRange(0)
    r.append(a)
    r.append(b)
    assert r.hashes == [sha256(b"\x01" + a + b).digest()]


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 31, 100])
def test_proof_plan_matches_the_merkle_tree(n: int) -> None:
    hs = leaves(n)
    tree = MerkleTree(hs)
    plan = ProofPlan(n)
    for i in range(n):
        plan.want_inclusion(i)
    for m in range(n + 1):
        plan.want_consistency(m)
        plan.want_frontier(m)
    for m in range(1, n + 1):
        plan.want_inclusion(m - 1, m)
    plan.feed_many(hs)
    assert plan.root() == tree.root()
    assert plan.fed == plan.size == n
    for i in range(n):
        proof = plan.inclusion(i)
        assert proof == tree.inclusion_proof(i)
        assert verify_inclusion(hs[i], i, n, proof, tree.root())
    for m in range(n + 1):
        assert plan.consistency(m) == tree.consistency_proof(m)
        assert verify_consistency(m, n, tree.root(m), tree.root(), plan.consistency(m))
        cr = CompactRange()
        cr.extend(hs[:m])
        assert plan.frontier(m) == list(cr.nodes)
    for m in range(1, n + 1):
        assert plan.inclusion(m - 1, m) == tree.inclusion_proof(m - 1, m)


def test_proof_plan_keeps_only_the_nodes_it_needs() -> None:
    n = 4096
    plan = ProofPlan(n)
    plan.want_inclusion(1234)
    plan.want_consistency(1000, 4000)
    plan.feed_many(leaves(n))
    assert len(plan._captured) < 64  # logarithmic, not the whole tree


def test_proof_plan_refuses_misuse() -> None:
    plan = ProofPlan(4)
    with pytest.raises(InputError):
        plan.want_inclusion(0, 5)
    with pytest.raises(InputError):
        plan.want_frontier(9)
    with pytest.raises(InputError):
        plan.feed(b"short")
    plan.want_inclusion(3)
    plan.feed_many(leaves(2))
    with pytest.raises(InputError):
        plan.inclusion(3)  # leaves not fed yet
    with pytest.raises(InputError):
        plan.frontier(3)
    plan.feed_many(leaves(2))
    with pytest.raises(InputError):
        plan.feed(leaves(1)[0])  # more than the planned tree
    with pytest.raises(InputError):
        ProofPlan(-1)
