"""Hypothesis: streaming ranges and proofs equal a naive RFC 6962 tree; the verifier's fast
canonical check agrees with the exact one; any tampering with a bundle is caught.
"""

from __future__ import annotations

import itertools
import random
import re
import tempfile
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from credit_vault.audit import (
    AccessEntry,
    IntervalRange,
    ProofPlan,
    is_canonical_entry,
    parse_canonical,
    verify_bundle,
    verify_consistency,
    verify_inclusion,
)
from credit_vault.errors import InputError
from tests.unit.test_audit_verify import build_bundle, entries, entry, key

MAX_SIZE = 1000


def leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def naive_root(hashes: list[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1, recursively, from leaf hashes."""
    n = len(hashes)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return sha256(b"\x01" + naive_root(hashes[:k]) + naive_root(hashes[k:])).digest()


def naive_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1."""
    n = len(hashes)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*naive_path(m, hashes[:k]), naive_root(hashes[k:])]
    return [*naive_path(m - k, hashes[k:]), naive_root(hashes[:k])]


def naive_subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2."""
    n = len(hashes)
    if m == n:
        return [] if b else [naive_root(hashes)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*naive_subproof(m, hashes[:k], b), naive_root(hashes[k:])]
    return [*naive_subproof(m - k, hashes[k:], False), naive_root(hashes[:k])]


def hashes_for(seed: int, n: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [leaf(rnd.randbytes(rnd.randrange(0, 9))) for _ in range(n)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, MAX_SIZE), cuts=st.integers(0, 6))
def test_merged_interval_ranges_equal_the_naive_root(seed: int, size: int, cuts: int) -> None:
    hs = hashes_for(seed, size)
    rnd = random.Random(seed)
    bounds = sorted({0, size, *(rnd.randrange(0, size + 1) for _ in range(cuts))})
    acc = IntervalRange(0)
    for a, b in itertools.pairwise(bounds):
        part = IntervalRange(a)
        for h in hs[a:b]:
            part.append(h)
        acc.extend(part)
    assert acc.end == size
    assert acc.root() == naive_root(hs)


def mutations(proof: list[bytes]) -> list[list[bytes]]:
    out: list[list[bytes]] = []
    for i, h in enumerate(proof):
        flipped = bytearray(h)
        flipped[i % 32] ^= 1 << (i % 8)
        out.append([*proof[:i], bytes(flipped), *proof[i + 1 :]])
    out.append([*proof, proof[-1] if proof else b"\x00" * 32])
    if proof:
        out.append(proof[:-1])
        out.append(proof[1:])
    return out


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32), size=st.integers(1, MAX_SIZE), data=st.data())
def test_planned_proofs_equal_naive_proofs_and_resist_mutation(
    seed: int, size: int, data: st.DataObject
) -> None:
    hs = hashes_for(seed, size)
    index = data.draw(st.integers(0, size - 1), label="index")
    new = data.draw(st.integers(index + 1, size), label="tree size")
    old = data.draw(st.integers(1, new), label="old size")
    plan = ProofPlan(size)
    plan.want_inclusion(index, new)
    plan.want_consistency(old, new)
    plan.want_frontier(old)
    plan.feed_many(hs)
    root_new, root_old = naive_root(hs[:new]), naive_root(hs[:old])

    inc = plan.inclusion(index, new)
    assert inc == naive_path(index, hs[:new])
    assert verify_inclusion(hs[index], index, new, inc, root_new)
    for bad in mutations(inc):
        assert not verify_inclusion(hs[index], index, new, bad, root_new)
    if new > 1:
        other = (index + 1) % new
        assert not verify_inclusion(hs[index], other, new, inc, root_new) or (
            hs[other] == hs[index]
        )

    con = plan.consistency(old, new)
    assert con == ([] if old == new else naive_subproof(old, hs[:new], True))
    assert verify_consistency(old, new, root_old, root_new, con)
    if old < new:
        for bad in mutations(con):
            assert not verify_consistency(old, new, root_old, root_new, bad)
        assert not verify_consistency(old, new, root_new, root_old, con)

    frontier = IntervalRange.from_frontier(old, plan.frontier(old))
    assert frontier.root() == root_old


_TEXT = st.text(max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 2**40),
    actor=_TEXT,
    reason=_TEXT,
    records=st.lists(_TEXT, max_size=3),
    extra=st.lists(st.tuples(st.from_regex(r"[a-z]{1,5}", fullmatch=True), _TEXT), max_size=2),
    seconds=st.integers(0, 10**9),
)
def test_fast_canonical_check_accepts_exactly_the_canonical_entries(
    seq: int,
    actor: str,
    reason: str,
    records: list[str],
    extra: list[tuple[str, str]],
    seconds: int,
) -> None:
    e = AccessEntry(
        op="query",
        outcome="ok",
        actor_id=actor,
        actor_role="r",
        reason=reason,
        records=tuple(records),
        extra=tuple(dict(extra).items()),
    )
    try:
        data = e.canonical(seq, datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds))
    except InputError:
        return  # lone surrogates cannot be encoded at all
    doc = parse_canonical(data)
    assert is_canonical_entry(data) == (seq, str(doc["ts"]).encode())


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_canonical_check_agrees_with_the_exact_check_on_damaged_lines(
    data: st.DataObject,
) -> None:
    line = bytearray(entry(data.draw(st.integers(0, 50)), reason='x"y\\z'))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(line) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            line[pos] ^= data.draw(st.integers(1, 255))
        elif action == "insert":
            line.insert(pos, data.draw(st.integers(0, 255)))
        elif len(line) > 1:
            del line[pos]
    damaged = bytes(line)
    fast = is_canonical_entry(damaged)
    try:
        doc = parse_canonical(damaged)
    except InputError:
        assert isinstance(fast, str)
        return
    seq, ts = doc.get("seq"), doc.get("ts")
    usable = (
        type(seq) is int
        and isinstance(ts, str)
        and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z", ts)
    )
    if isinstance(fast, str):
        # Canonical JSON, but not a usable entry: no integer seq or a malformed time.
        assert not usable
    else:
        assert fast == (seq, str(ts).encode())


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(2, 60),
    cut=st.integers(0, 60),
    tamper=st.sampled_from(["none", "flip", "delete", "swap", "insert", "truncate"]),
    data=st.data(),
)
def test_any_tampering_with_a_bundle_is_caught(
    size: int, cut: int, tamper: str, data: st.DataObject
) -> None:
    lines = entries(size)
    checkpoints = sorted({min(cut, size), size // 2})
    with tempfile.TemporaryDirectory() as d:
        bundle = build_bundle(Path(d) / "b", lines, checkpoints)
        path = bundle / "entries.jsonl"
        raw = path.read_bytes().split(b"\n")[:-1]
        i = data.draw(st.integers(0, size - 2), label="line")
        if tamper == "flip":
            b = bytearray(raw[i])
            pos = data.draw(st.integers(0, len(b) - 1), label="byte")
            b[pos] ^= 1 << data.draw(st.integers(0, 7), label="bit")
            raw[i] = bytes(b)
        elif tamper == "delete":
            del raw[i]
        elif tamper == "swap":
            raw[i], raw[i + 1] = raw[i + 1], raw[i]
        elif tamper == "insert":
            raw.insert(i, entry(i, actor_id="intruder"))
        elif tamper == "truncate":
            raw = raw[:i]
        path.write_bytes(b"".join(x + b"\n" for x in raw))
        report = verify_bundle(bundle, key())
    if tamper == "none":
        assert report.ok, report.problems
    else:
        assert not report.ok
        assert report.first_bad_seq is not None
        assert report.first_bad_seq <= i + 1
