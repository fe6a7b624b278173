"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

Hashes are SHA-256. A leaf hash is ``SHA-256(0x00 ‖ entry)``, an interior node
``SHA-256(0x01 ‖ left ‖ right)``; a tree of ``n`` leaves splits at the largest
power of two below ``n``; the empty tree's root is ``SHA-256()``.

Proof builders raise :class:`~credit_vault.errors.InputError` on impossible
arguments. Verifiers never raise on bad input: they return ``False``, and they
follow RFC 9162 §2.1.3.2 and §2.1.4.2 to the letter, so every proof element must
be consumed, left and right are never swapped, and elements that are not exactly
32 bytes are refused.

A verifier learns a tree's size only through its root. RFC 9162 uses the size to
choose the shape of the hash chain, so a proof checked against the right root
also passes with another size whose tree has the same shape there (leaf 5 of 8 and
of 7, say). That is safe only when size and root come together from one signed
checkpoint, never from separate sources.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from hashlib import sha256

from credit_vault.errors import InputError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "MerkleTree",
    "consistency_proof",
    "consistency_proof_from",
    "inclusion_proof",
    "inclusion_proof_from",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = sha256(b"").digest()
"""Root of the tree with no leaves: SHA-256 of the empty string."""

_LEAF = b"\x00"
_NODE = b"\x01"

SubtreeRoot = Callable[[int, int], bytes]
"""``subtree_root(start, end)``: the RFC 6962 root of leaves ``[start, end)``."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return sha256(_NODE + left + right).digest()


def _as_hash(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview) or len(value) != HASH_SIZE:
        raise InputError("tree hashes must be 32 bytes")
    return bytes(value)


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """The RFC 6962 root of the tree whose leaf hashes are ``hashes``, in order."""
    if not hashes:
        return EMPTY_ROOT
    # Pairing level by level and carrying an odd last node up unchanged builds
    # exactly the RFC 6962 tree (its split point is the largest power of two).
    # An odd last element has no partner (strict=False drops it; it is carried below).
    level = hashes if isinstance(hashes, list) else list(hashes)
    if not all(type(h) is bytes and len(h) == HASH_SIZE for h in level):
        level = [_as_hash(h) for h in level]
    while len(level) > 1:
        odd = len(level) & 1
        upper = [
            sha256(_NODE + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if odd:
            upper.append(level[-1])
        level = upper
    return level[0]


class CompactRange:
    """The roots of the perfect subtrees covering leaves ``[0, size)``, left to right.

    One node per set bit of ``size``, largest subtree first. It is all a log needs
    to append a leaf and compute the new root in O(log n) without reading old leaves.
    """

    __slots__ = ("_nodes", "_size")

    def __init__(self, size: int = 0, nodes: Iterable[bytes] = ()) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InputError("compact range size must be a non-negative integer")
        node_list = [_as_hash(node) for node in nodes]
        if len(node_list) != size.bit_count():
            raise InputError("compact range needs exactly one node per set bit of its size")
        self._size = size
        self._nodes = node_list

    @property
    def size(self) -> int:
        """Number of leaves covered."""
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """The subtree roots, left (largest) to right (smallest)."""
        return tuple(self._nodes)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf hash at index ``size``."""
        node = _as_hash(leaf_hash)
        nodes = self._nodes
        carry = self._size
        # Each trailing one bit of the old size is a perfect subtree of the same
        # height as the node being carried, so the two merge.
        while carry & 1:
            node = sha256(_NODE + nodes.pop() + node).digest()
            carry >>= 1
        nodes.append(node)
        self._size += 1

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Add leaf hashes in order."""
        for h in hashes:
            self.append(h)

    def root(self) -> bytes:
        """The RFC 6962 root of leaves ``[0, size)``."""
        nodes = self._nodes
        if not nodes:
            return EMPTY_ROOT
        root = nodes[-1]
        for node in reversed(nodes[:-1]):
            root = sha256(_NODE + node + root).digest()
        return root

    def to_bytes(self) -> bytes:
        """The nodes concatenated (32 bytes each); pair with ``size`` to restore."""
        return b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> CompactRange:
        """Restore from :meth:`to_bytes`; raises InputError if the length does not fit ``size``."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InputError("compact range size must be a non-negative integer")
        if len(data) != HASH_SIZE * size.bit_count():
            raise InputError("compact range bytes do not match its size")
        raw = bytes(data)
        return cls(size, [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)])

    def copy(self) -> CompactRange:
        """An independent copy."""
        clone = CompactRange()
        clone._size = self._size
        clone._nodes = list(self._nodes)
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


class MerkleTree:
    """All perfect subtree roots of a fixed list of leaf hashes, for many proofs at once.

    Building costs about one hash per leaf; afterwards :meth:`subtree_root` answers
    any range a proof needs in O(log n), for this tree and every smaller one.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes]) -> None:
        level = [
            h if type(h) is bytes and len(h) == HASH_SIZE else _as_hash(h) for h in leaf_hashes
        ]
        # levels[j][i] is the root of the perfect subtree [i * 2**j, (i + 1) * 2**j).
        levels = [level]
        while len(level) > 1:
            level = [
                sha256(_NODE + a + b).digest()
                for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            levels.append(level)
        self._levels = levels

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][index]

    def _perfect(self, start: int, height: int) -> bytes:
        if start % (1 << height) == 0:
            return self._levels[height][start >> height]
        # Not aligned: only reachable through a direct subtree_root call.
        half = 1 << (height - 1)
        left = self._perfect(start, height - 1)
        return sha256(_NODE + left + self._perfect(start + half, height - 1)).digest()

    def subtree_root(self, start: int, end: int) -> bytes:
        """The RFC 6962 root of leaves ``[start, end)`` (empty range: EMPTY_ROOT)."""
        if not 0 <= start <= end <= self.size:
            raise InputError("subtree range is outside the tree")
        if start == end:
            return EMPTY_ROOT
        # MTH splits at the largest power of two, so a range is its binary
        # decomposition into perfect subtrees, folded from the right.
        parts: list[bytes] = []
        remaining = end - start
        while remaining:
            height = remaining.bit_length() - 1
            parts.append(self._perfect(start, height))
            start += 1 << height
            remaining -= 1 << height
        root = parts[-1]
        for part in reversed(parts[:-1]):
            root = sha256(_NODE + part + root).digest()
        return root

    def root(self, size: int | None = None) -> bytes:
        """The root of the first ``size`` leaves (default: all)."""
        return self.subtree_root(0, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 6962 inclusion proof of leaf ``index`` in the tree of ``size`` (default: all)."""
        n = self.size if size is None else size
        if n > self.size:
            raise InputError("proof tree size exceeds the leaves available")
        return inclusion_proof_from(index, n, self.subtree_root)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 6962 consistency proof from ``old_size`` to ``new_size`` (default: all)."""
        n = self.size if new_size is None else new_size
        if n > self.size:
            raise InputError("proof tree size exceeds the leaves available")
        return consistency_proof_from(old_size, n, self.subtree_root)


def _check_size(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be an integer")


def inclusion_proof_from(index: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(index, D[0:size]), asking ``subtree_root`` for each sibling."""
    _check_size(index, "leaf index")
    _check_size(size, "tree size")
    if not 0 <= index < size:
        raise InputError("leaf index must be within the tree size")
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            siblings.append(subtree_root(start + k, end))
            end = start + k
        else:
            siblings.append(subtree_root(start, start + k))
            start += k
    # Siblings were found root-down; the proof lists them leaf-up.
    siblings.reverse()
    return siblings


def consistency_proof_from(old_size: int, new_size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(old_size, D[0:new_size]); empty when old_size is 0 or equal."""
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    if not 0 <= old_size <= new_size:
        raise InputError("consistency proof needs 0 <= old size <= new size")
    if old_size in (0, new_size):
        return []
    nodes: list[bytes] = []
    start, end = 0, new_size
    complete = True  # SUBPROOF's flag b: the old tree is this whole subtree, not a part
    # The old tree's boundary stays at old_size; descend until a subtree ends there.
    while end != old_size:
        k = _largest_power_of_two_below(end - start)
        if old_size - start <= k:
            nodes.append(subtree_root(start + k, end))
            end = start + k
        else:
            nodes.append(subtree_root(start, start + k))
            start += k
            complete = False
    if not complete:
        nodes.append(subtree_root(start, end))
    nodes.reverse()
    return nodes


def _tree_for(size: int, leaf_hashes: Sequence[bytes]) -> MerkleTree:
    _check_size(size, "tree size")
    if not 0 <= size <= len(leaf_hashes):
        raise InputError("proof tree size exceeds the leaves available")
    return MerkleTree(leaf_hashes[:size])


def inclusion_proof(index: int, size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 inclusion proof of leaf ``index`` in the tree of the first ``size`` leaf hashes."""
    return inclusion_proof_from(index, size, _tree_for(size, leaf_hashes).subtree_root)


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 consistency proof between the trees of the first old/new ``size`` leaf hashes."""
    return consistency_proof_from(old_size, new_size, _tree_for(new_size, leaf_hashes).subtree_root)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when ``proof`` shows ``leaf_hash`` is leaf ``index`` of the tree ``root`` (RFC 9162)."""
    if not (_is_int(index) and _is_int(size) and 0 <= index < size):
        return False
    if not (_is_hash(leaf_hash) and _is_hash(root)) or not all(_is_hash(p) for p in proof):
        return False
    fn, sn = index, size - 1
    r = bytes(leaf_hash)
    for p in proof:
        if sn == 0:
            return False  # more elements than the tree has levels
        if fn & 1 or fn == sn:
            r = sha256(_NODE + p + r).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the new tree extends the old one (RFC 9162 §2.1.4.2).

    A tree of size 0 is consistent with every tree; its root must be EMPTY_ROOT and
    the proof empty.
    """
    if not (_is_int(old_size) and _is_int(new_size) and 0 <= old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)) or not all(_is_hash(p) for p in proof):
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if len(proof) == 0:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, bytes(old_root))
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # more elements than the trees need
        if fn & 1 or fn == sn:
            fr = sha256(_NODE + c + fr).digest()
            sr = sha256(_NODE + c + sr).digest()
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
