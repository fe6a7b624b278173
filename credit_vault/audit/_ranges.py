"""Compact ranges over any interval of leaves, and proofs built in one streaming pass.

Standard library only (plus the core's ``_merkle``), so the offline verifier can use it.

A *compact range* of leaves ``[begin, end)`` is the list of roots of the maximal
aligned perfect subtrees that tile the interval, left to right: at most two per
tree level. Two adjacent ranges merge into one in O(log n), which lets several
processes hash disjoint slices of a log and a parent combine their results; the
range ``[0, n)`` is exactly :class:`~credit_vault.audit._merkle.CompactRange`.

A node is named by ``(height, index)``: the perfect subtree of leaves
``[index * 2**height, (index + 1) * 2**height)``. Every RFC 6962 proof element
and every compact-range node is such a node or a right-folded run of them, so a
:class:`ProofPlan` can list the nodes its proofs need, capture exactly those while
the leaf hashes stream past once, and then assemble the proofs from memory that
grows with the number of proofs, not with the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import sha256

from credit_vault.audit._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    consistency_proof_from,
    inclusion_proof_from,
)
from credit_vault.errors import InputError

__all__ = ["IntervalRange", "NodeKey", "ProofPlan", "perfect_pieces"]

_NODE = b"\x01"

NodeKey = tuple[int, int]
"""``(height, index)`` of a perfect subtree."""


def perfect_pieces(start: int, end: int) -> list[NodeKey]:
    """The aligned perfect subtrees whose right fold is the RFC 6962 root of ``[start, end)``.

    RFC 6962 splits a range at the largest power of two below its length, so its
    root is the right fold of the binary decomposition of ``end - start`` laid out
    from ``start``. Proofs and compact ranges only ask for ranges whose pieces are
    aligned; any other range is refused with InputError.
    """
    if not 0 <= start <= end:
        raise InputError("range must satisfy 0 <= start <= end")
    pieces: list[NodeKey] = []
    pos = start
    remaining = end - start
    while remaining:
        height = remaining.bit_length() - 1
        if pos & ((1 << height) - 1):
            raise InputError("range does not decompose into aligned perfect subtrees")
        pieces.append((height, pos >> height))
        pos += 1 << height
        remaining -= 1 << height
    return pieces


def _fold_right(hashes: list[bytes]) -> bytes:
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = sha256(_NODE + h + root).digest()
    return root


class IntervalRange:
    """The compact range of leaves ``[begin, end)``: maximal aligned perfect subtrees."""

    __slots__ = ("begin", "end", "hashes", "heights")

    def __init__(
        self,
        begin: int = 0,
        end: int | None = None,
        nodes: Iterable[tuple[int, bytes]] = (),
    ) -> None:
        if isinstance(begin, bool) or not isinstance(begin, int) or begin < 0:
            raise InputError("range start must be a non-negative integer")
        self.begin = begin
        self.end = begin
        self.heights: list[int] = []
        self.hashes: list[bytes] = []
        for height, node in nodes:
            self.append_node(height, node)
        if end is not None and end != self.end:
            raise InputError("range nodes do not cover the stated interval")

    @classmethod
    def from_compact(cls, compact: CompactRange) -> IntervalRange:
        """The range ``[0, size)`` of a :class:`CompactRange`."""
        size = compact.size
        heights = [b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        return cls(0, size, zip(heights, compact.nodes, strict=True))

    @classmethod
    def from_frontier(cls, size: int, hashes: Iterable[bytes]) -> IntervalRange:
        """The range ``[0, size)`` from its nodes, largest first (one per set bit of ``size``)."""
        return cls.from_compact(CompactRange(size, hashes))

    def copy(self) -> IntervalRange:
        """An independent copy."""
        clone = IntervalRange(self.begin)
        clone.end = self.end
        clone.heights = list(self.heights)
        clone.hashes = list(self.hashes)
        return clone

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at index ``end``."""
        self.append_node(0, leaf_hash)

    def append_node(self, height: int, node: bytes) -> None:
        """Add the perfect subtree of ``height`` that starts at ``end`` (it must be aligned)."""
        if len(node) != HASH_SIZE:
            raise InputError("tree hashes must be 32 bytes")
        end = self.end
        if end & ((1 << height) - 1):
            raise InputError("a subtree can only be appended at an aligned position")
        index = end >> height
        hashes, heights = self.hashes, self.heights
        self.end = end + (1 << height)
        # A right child merges with its left sibling when the sibling lies wholly
        # inside the range, which is exactly when the last node has the same height.
        while index & 1 and heights and heights[-1] == height:
            node = sha256(_NODE + hashes.pop() + node).digest()
            heights.pop()
            index >>= 1
            height += 1
        heights.append(height)
        hashes.append(bytes(node))

    def extend(self, other: IntervalRange) -> None:
        """Append the adjacent range ``other`` (it must start where this one ends)."""
        if other.begin != self.end:
            raise InputError("only adjacent ranges can be merged")
        for height, node in zip(other.heights, other.hashes, strict=True):
            self.append_node(height, node)

    def root(self) -> bytes:
        """The RFC 6962 root of leaves ``[0, end)``; only for ranges that start at 0."""
        if self.begin != 0:
            raise InputError("only a range starting at leaf 0 has a tree root")
        return _fold_right(self.hashes) if self.hashes else EMPTY_ROOT

    def to_compact(self) -> CompactRange:
        """This range (it must start at 0) as a :class:`CompactRange`."""
        if self.begin != 0:
            raise InputError("only a range starting at leaf 0 is a compact range")
        return CompactRange(self.end, self.hashes)

    def __repr__(self) -> str:
        return f"IntervalRange([{self.begin}, {self.end}), nodes={len(self.hashes)})"


class ProofPlan:
    """Proofs over one tree, planned first and assembled after one pass over its leaves.

    Ask for proofs with :meth:`want_inclusion`, :meth:`want_consistency` and
    :meth:`want_frontier`; then :meth:`feed` every leaf hash from index 0, in
    order; then read them back with :meth:`inclusion`, :meth:`consistency` and
    :meth:`frontier`. Memory is proportional to the nodes the proofs need.
    """

    __slots__ = ("_captured", "_count", "_hashes", "_heights", "_needed", "_size")

    def __init__(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InputError("tree size must be a non-negative integer")
        self._size = size
        self._needed: set[int] = set()
        self._captured: dict[int, bytes] = {}
        self._count = 0
        self._heights: list[int] = []
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """The tree size the proofs are for (the largest)."""
        return self._size

    @property
    def fed(self) -> int:
        """Leaf hashes fed so far."""
        return self._count

    @staticmethod
    def _key(height: int, index: int) -> int:
        return (index << 6) | height

    def _need_range(self, start: int, end: int) -> bytes:
        for height, index in perfect_pieces(start, end):
            self._needed.add(self._key(height, index))
        return EMPTY_ROOT  # a placeholder: only the ranges asked for matter here

    def want_inclusion(self, index: int, size: int | None = None) -> None:
        """Plan the inclusion proof of leaf ``index`` in the tree of ``size`` (default: all)."""
        n = self._size if size is None else size
        self._check(n)
        inclusion_proof_from(index, n, self._need_range)

    def want_consistency(self, old_size: int, new_size: int | None = None) -> None:
        """Plan the consistency proof from ``old_size`` to ``new_size`` (default: all)."""
        n = self._size if new_size is None else new_size
        self._check(n)
        consistency_proof_from(old_size, n, self._need_range)

    def want_frontier(self, size: int) -> None:
        """Plan the compact range of ``[0, size)``."""
        self._check(size)
        self._need_range(0, size)

    def _check(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self._size:
            raise InputError("proof tree size must be within the planned tree")

    def feed(self, leaf_hash: bytes) -> None:
        """The next leaf hash, in order from index 0."""
        if self._count >= self._size:
            raise InputError("more leaves fed than the planned tree holds")
        node = leaf_hash
        if len(node) != HASH_SIZE:
            raise InputError("tree hashes must be 32 bytes")
        index = self._count
        height = 0
        needed, captured = self._needed, self._captured
        hashes, heights = self._hashes, self._heights
        key = index << 6
        if key in needed:
            captured[key] = node
        while index & 1:
            node = sha256(_NODE + hashes.pop() + node).digest()
            heights.pop()
            index >>= 1
            height += 1
            key = (index << 6) | height
            if key in needed:
                captured[key] = node
        heights.append(height)
        hashes.append(node)
        self._count += 1

    def feed_many(self, leaf_hashes: Iterable[bytes]) -> None:
        """Feed leaf hashes in order."""
        for h in leaf_hashes:
            self.feed(h)

    def _subtree(self, start: int, end: int) -> bytes:
        if end > self._count:
            raise InputError("a proof needs leaves that were not fed")
        parts = [self._captured[self._key(h, i)] for h, i in perfect_pieces(start, end)]
        return _fold_right(parts) if parts else EMPTY_ROOT

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        """The planned inclusion proof (after the leaves were fed)."""
        n = self._size if size is None else size
        return inclusion_proof_from(index, n, self._subtree)

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The planned consistency proof (after the leaves were fed)."""
        n = self._size if new_size is None else new_size
        return consistency_proof_from(old_size, n, self._subtree)

    def frontier(self, size: int) -> list[bytes]:
        """The planned compact range of ``[0, size)``: its nodes, largest first."""
        if size > self._count:
            raise InputError("a frontier needs leaves that were not fed")
        return [self._captured[self._key(h, i)] for h, i in perfect_pieces(0, size)]

    def root(self) -> bytes:
        """The root of the leaves fed so far."""
        return _fold_right(self._hashes) if self._hashes else EMPTY_ROOT
