"""The offline bundle verifier on bundles built here from the core alone (no database).

Every tamper an auditor must catch (an edited byte, a removed, moved or added
line, a truncated or rewritten history, a forged or mismatched checkpoint, a
broken proof) makes ``verify_bundle`` fail and name the first failing entry.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from credit_vault.audit import (
    AccessEntry,
    BundleWriter,
    Checkpoint,
    CompactRange,
    MerkleTree,
    _verify,
    canonical_json,
    format_ts,
    is_canonical_entry,
    leaf_hash,
    parse_canonical,
    sign_note,
    verifier_key_line,
    verify_bundle,
)
from credit_vault.crypto._primitives import Ed25519Signer
from credit_vault.errors import InputError

ORIGIN = "test-log"
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
T0 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)


def key(seed: bytes = SEED, origin: str = ORIGIN) -> str:
    """The verifier key line of a test signer."""
    return verifier_key_line(origin, Ed25519Signer(seed).public_key)


def sign_checkpoint(size: int, root: bytes, seed: bytes = SEED, origin: str = ORIGIN) -> bytes:
    """A signed checkpoint note."""
    s = Ed25519Signer(seed)
    return sign_note(Checkpoint(origin, size, root).body(), origin, s.sign, s.public_key)


def entry(seq: int, *, seconds: int | None = None, **kw: Any) -> bytes:
    """The canonical bytes of a realistic query entry."""
    fields: dict[str, object] = {
        "op": "query",
        "outcome": "ok",
        "actor_id": f"officer-{seq % 7}",
        "actor_role": "licensing_officer",
        "actor_org": "market-bureau",
        "purpose": "licensing_review",
        "ticket": f"T-{seq}",
        "subject": f"{seq:064x}",
        "records": (f"r_{seq:024x}",),
        "categories": ("tax.major_violation",),
        "fields": ("amount", "summary"),
        "request_id": f"{seq:032x}",
    }
    fields.update(kw)
    e = AccessEntry(**fields)  # type: ignore[arg-type]
    return e.canonical(seq, T0 + timedelta(seconds=seq if seconds is None else seconds))


def export_entry(seq: int, *, since: int | None = None, until: int | None = None) -> bytes:
    """The log entry of a bundle export of the times of entries ``[since, until)``."""
    extra: tuple[tuple[str, str], ...] = (("format", "bundle"),)
    for name, bound in (("since", since), ("until", until)):
        if bound is not None:
            extra += ((name, format_ts(T0 + timedelta(seconds=bound))),)
    return entry(seq, op="export", purpose="audit", actor_role="auditor", extra=extra)


def entries(n: int, *, since: int | None = None, until: int | None = None) -> list[bytes]:
    """``n`` entries, one second apart; the last is the export's own entry, as in a real log."""
    return [*(entry(i) for i in range(n - 1)), export_entry(n - 1, since=since, until=until)]


def build_bundle(
    dest: Path,
    lines: list[bytes],
    checkpoints: Iterable[int] = (),
    *,
    start: int = 0,
    end: int | None = None,
    extra_proofs: Iterable[tuple[int, int]] = (),
) -> Path:
    """A bundle of ``lines[start:end]`` with signed checkpoints at the given sizes and at the end.

    Proofs come from :class:`MerkleTree`, independent of the exporter's streaming plan.
    """
    n = len(lines)
    stop = n if end is None else end
    tree = MerkleTree([leaf_hash(b) for b in lines])
    sizes = sorted({*checkpoints, n})
    links = list(itertools.pairwise(sizes))
    if stop not in sizes:
        links.append((stop, min(s for s in sizes if s > stop)))
    links.extend(extra_proofs)
    frontier = CompactRange()
    frontier.extend(tree.leaf_hash(i) for i in range(start))
    export = parse_canonical(lines[-1]) if lines else {}
    bounds = sorted(s for s in {start - 1, stop, n - 1} if 0 <= s < n and not start <= s < stop)
    with BundleWriter(dest) as w:
        w.write_entries(lines[start:stop])
        cps = [
            {"size": s, "file": w.add_checkpoint(s, sign_checkpoint(s, tree.root(s)))}
            for s in sizes
        ]
        w.finish(
            {
                "format": "credit-vault-audit-bundle",
                "version": 2,
                "origin": ORIGIN,
                "range": {
                    "start": start,
                    "end": stop,
                    "since": export.get("x_since"),
                    "until": export.get("x_until"),
                },
                "start_frontier": [h.hex() for h in frontier.nodes],
                "entries": {"file": "entries.jsonl", "count": stop - start},
                "checkpoints": cps,
                "consistency": [
                    {
                        "old_size": a,
                        "new_size": b,
                        "proof": [h.hex() for h in tree.consistency_proof(a, b)],
                    }
                    for a, b in links
                ],
                "bounds": [
                    {
                        "seq": s,
                        "entry": lines[s].decode("utf-8"),
                        "proof": [h.hex() for h in tree.inclusion_proof(s, n)],
                    }
                    for s in bounds
                ],
            }
        )
    return dest


def rewrite_lines(bundle: Path, edit: object) -> None:
    """Apply ``edit(lines)`` (in place) to a directory bundle's entries file."""
    path = bundle / "entries.jsonl"
    lines = path.read_bytes().split(b"\n")[:-1]
    edit(lines)  # type: ignore[operator]
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def manifest(bundle: Path) -> dict[str, object]:
    return json.loads((bundle / "manifest.json").read_text("utf-8"))  # type: ignore[no-any-return]


def write_manifest(bundle: Path, doc: object) -> None:
    (bundle / "manifest.json").write_text(json.dumps(doc), "utf-8")


# --- a bundle that verifies ----------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_valid_bundle_verifies(tmp_path: Path, suffix: str) -> None:
    lines = entries(40)
    b = build_bundle(tmp_path / f"b{suffix}", lines, [7, 16, 32])
    r = verify_bundle(b, key())
    assert r.ok, r.problems
    assert bool(r)
    assert (r.entries, r.start, r.end, r.tree_size) == (40, 0, 40, 40)
    assert r.checkpoints == 4
    assert r.proofs == 3
    assert r.first_bad_seq is None
    assert r.root == MerkleTree([leaf_hash(b) for b in lines]).root()
    assert "bundle OK" in r.summary()
    assert r.to_dict()["ok"] is True


def test_empty_log_bundle(tmp_path: Path) -> None:
    # A real export logs itself, so its newest checkpoint is never of the empty log.
    r = verify_bundle(build_bundle(tmp_path / "b", []), key())
    assert not r.ok
    assert r.entries == 0
    assert r.first_bad_seq == 0
    # The smallest real bundle: the export's own entry.
    one = verify_bundle(build_bundle(tmp_path / "one", entries(1)), key())
    assert one.ok, one.problems
    assert one.export_seq == 0


def test_range_bundle_uses_the_start_frontier_and_a_proof_to_the_next_checkpoint(
    tmp_path: Path,
) -> None:
    lines = entries(50, since=13, until=21)
    b = build_bundle(tmp_path / "b", lines, [10, 30], start=13, end=21)
    r = verify_bundle(b, key())
    assert r.ok, r.problems
    assert (r.start, r.end, r.entries) == (13, 21, 8)
    # A wrong frontier no longer leads to the signed root.
    doc = manifest(b)
    frontier = list(doc["start_frontier"])  # type: ignore[call-overload]
    frontier[0] = "00" * 32
    doc["start_frontier"] = frontier
    write_manifest(b, doc)
    bad = verify_bundle(b, key())
    assert not bad.ok
    assert bad.unproven_from == 13


def test_zip_with_compressed_entries_is_read_as_a_stream(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10])
    z = tmp_path / "deflated.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(b.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(b).as_posix())
    r = verify_bundle(z, key())
    assert r.ok, r.problems
    rewrite_lines(b, lambda ls: ls.__delitem__(4))
    z2 = tmp_path / "deflated-bad.zip"
    with zipfile.ZipFile(z2, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(b.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(b).as_posix())
    assert verify_bundle(z2, key()).first_bad_seq == 4


@pytest.mark.parametrize("mode", ["file", "zip"])
def test_parallel_path_with_small_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setattr(_verify, "_CHUNK", 700)
    monkeypatch.setattr(_verify, "_PARALLEL_FROM", 0)
    lines = entries(300)
    suffix = ".zip" if mode == "zip" else ""
    b = build_bundle(tmp_path / f"b{suffix}", lines, [1, 64, 100, 150, 257])
    r = verify_bundle(b, key(), workers=2)
    assert r.ok, r.problems
    assert r.workers == 2
    assert r.entries == 300
    d = build_bundle(tmp_path / "d", lines, [1, 64, 100, 150, 257])
    rewrite_lines(d, lambda ls: ls.__delitem__(120))
    bad = verify_bundle(d, key(), workers=2)
    assert not bad.ok
    assert bad.first_bad_seq == 120


def test_sequential_and_parallel_agree_on_roots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = entries(200)
    b = build_bundle(tmp_path / "b", lines, [3, 77, 128, 199])
    rewrite_lines(b, lambda ls: ls.__setitem__(90, ls[90].replace(b"officer-", b"officex-")))
    one = verify_bundle(b, key(), workers=1)
    monkeypatch.setattr(_verify, "_CHUNK", 500)
    monkeypatch.setattr(_verify, "_PARALLEL_FROM", 0)
    two = verify_bundle(b, key(), workers=2)
    assert one.problems == two.problems
    assert one.first_bad_seq == two.first_bad_seq == 77


# --- tampered entries ----------------------------------------------------------------------


def test_edited_byte_keeping_canonical_form_breaks_the_root(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10, 20])
    rewrite_lines(b, lambda ls: ls.__setitem__(14, ls[14].replace(b"officer-0", b"officer-9")))
    r = verify_bundle(b, key())
    assert not r.ok
    # Root mismatches bound the damage to [10, 20): entries below 10 stay proven.
    assert r.first_bad_seq == r.unproven_from == 10
    assert any("do not hash to the signed root at size 20" in p for p in r.problems)
    assert "first failing sequence number: 10" in r.summary()


def test_edited_byte_breaking_canonical_form(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10, 20])
    rewrite_lines(b, lambda ls: ls.__setitem__(17, ls[17].replace(b'"op":', b'"op" :')))
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 17
    assert any("canonical" in p for p in r.problems)


def test_deleted_line(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10])
    rewrite_lines(b, lambda ls: ls.__delitem__(12))
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 12


def test_deleted_last_line(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10])
    rewrite_lines(b, lambda ls: ls.pop())
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 29


def test_reordered_lines(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10])

    def swap(ls: list[bytes]) -> None:
        ls[21], ls[22] = ls[22], ls[21]

    rewrite_lines(b, swap)
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 21


def test_inserted_line(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(30), [10])
    rewrite_lines(b, lambda ls: ls.insert(5, entry(5, actor_id="intruder")))
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 6


def test_time_going_backwards_is_named(tmp_path: Path) -> None:
    lines = entries(20)
    lines[9] = entry(9, seconds=2)
    b = build_bundle(tmp_path / "b", lines, [5])
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 9
    assert r.unproven_from is None  # the signed roots do vouch for these entries
    assert any("time goes backwards" in p for p in r.problems)


def test_missing_final_newline_and_trailing_garbage(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10))
    path = b / "entries.jsonl"
    path.write_bytes(path.read_bytes()[:-1])
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("newline" in p for p in r.problems)
    b2 = build_bundle(tmp_path / "b2", entries(10))
    with (b2 / "entries.jsonl").open("ab") as f:
        f.write(b"garbage\n")
    r2 = verify_bundle(b2, key())
    assert not r2.ok
    assert r2.first_bad_seq == 10


def test_entries_after_the_newest_checkpoint_are_refused(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10))
    with (b / "entries.jsonl").open("ab") as f:
        f.write(entry(10) + b"\n")
    doc = manifest(b)
    doc["range"] = {"start": 0, "end": 11}
    doc["entries"] = {"file": "entries.jsonl", "count": 11}
    write_manifest(b, doc)
    r = verify_bundle(b, key())
    assert not r.ok
    assert r.first_bad_seq == 10


# --- checkpoints, keys and proofs ------------------------------------------------------------


def test_wrong_key_or_origin_fails(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10), [4])
    assert not verify_bundle(b, key(OTHER_SEED)).ok
    other = verify_bundle(b, key(origin="other-log"))
    assert not other.ok
    assert other.first_bad_seq == 0


def test_forged_checkpoint_signature_fails(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10), [4])
    note = (b / "checkpoints" / "4.txt").read_bytes()
    (b / "checkpoints" / "4.txt").write_bytes(note.replace(b"\n4\n", b"\n5\n", 1))
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("does not verify" in p for p in r.problems)


def test_checkpoint_signed_by_another_key_fails(tmp_path: Path) -> None:
    lines = entries(10)
    b = build_bundle(tmp_path / "b", lines, [4])
    root4 = MerkleTree([leaf_hash(x) for x in lines]).root(4)
    (b / "checkpoints" / "4.txt").write_bytes(sign_checkpoint(4, root4, OTHER_SEED))
    assert not verify_bundle(b, key()).ok


def test_missing_checkpoint_file_and_no_checkpoint_at_all(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10), [4])
    (b / "checkpoints" / "4.txt").unlink()
    assert not verify_bundle(b, key()).ok
    for f in (b / "checkpoints").iterdir():
        f.unlink()
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("no signed checkpoint" in p for p in r.problems)


def test_two_checkpoints_of_one_size_with_different_roots_is_a_fork(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10), [4])
    (b / "checkpoints" / "fork.txt").write_bytes(sign_checkpoint(4, b"\x07" * 32))
    doc = manifest(b)
    doc["checkpoints"] = [*doc["checkpoints"], {"size": 4, "file": "checkpoints/fork.txt"}]  # type: ignore[misc]
    write_manifest(b, doc)
    r = verify_bundle(b, key())
    assert not r.ok
    # Checkpoints are read only as checkpoints/<size>.txt, so a bundle holds one per size.
    assert any("must be stored as 'checkpoints/4.txt'" in p for p in r.problems)


@pytest.mark.parametrize("damage", ["flip", "drop", "add", "remove-proof"])
def test_damaged_consistency_proof_fails(tmp_path: Path, damage: str) -> None:
    # Checkpoints outside the entries' range are only linked by proofs.
    b = build_bundle(tmp_path / "b", entries(40, since=10, until=20), [3, 9, 25], start=10, end=20)
    assert verify_bundle(b, key()).ok
    doc = manifest(b)
    proofs = doc["consistency"]
    assert isinstance(proofs, list)
    target = next(p for p in proofs if p["old_size"] == 3)
    if damage == "flip":
        h = bytearray(bytes.fromhex(target["proof"][0]))
        h[0] ^= 1
        target["proof"][0] = h.hex()
    elif damage == "drop":
        target["proof"].pop()
    elif damage == "add":
        target["proof"].append("00" * 32)
    else:
        proofs.remove(target)
    write_manifest(b, doc)
    r = verify_bundle(b, key())
    assert not r.ok
    assert any("consistency proof" in p for p in r.problems)


def test_malformed_manifest_and_paths_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        verify_bundle(tmp_path / "nothing-here", key())
    (tmp_path / "not-a-zip").write_bytes(b"hello")
    with pytest.raises(InputError):
        verify_bundle(tmp_path / "not-a-zip", key())
    b = build_bundle(tmp_path / "b", entries(3))
    with pytest.raises(InputError):
        verify_bundle(b, "not a key line")
    docs: list[object] = [
        [],
        {"format": "something-else", "version": 1},
        {**manifest(b), "version": 99},
        {**manifest(b), "start_frontier": ["00" * 32]},
        {**manifest(b), "range": {"start": 2, "end": 1}},
        {**manifest(b), "consistency": [{"old_size": 1, "new_size": 2, "proof": ["xyz"]}]},
        {**manifest(b), "entries": {"file": "../../etc/passwd", "count": 3}},
    ]
    for doc in docs:
        write_manifest(b, doc)
        with pytest.raises(InputError):
            verify_bundle(b, key())
    (b / "manifest.json").unlink()
    with pytest.raises(InputError):
        verify_bundle(b, key())


# --- the auditor's previous checkpoint -------------------------------------------------------


def test_previous_checkpoint_consistent(tmp_path: Path) -> None:
    lines = entries(40)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    prev = sign_checkpoint(17, tree.root(17))
    b = build_bundle(tmp_path / "b", lines, [10, 30])
    r = verify_bundle(b, key(), previous=prev)
    assert r.ok, r.problems
    assert r.previous_size == 17
    f = tmp_path / "prev.txt"
    f.write_bytes(prev)
    assert verify_bundle(b, key(), previous=f).ok


def test_previous_checkpoint_before_a_range_needs_a_proof_in_the_bundle(tmp_path: Path) -> None:
    lines = entries(40, since=20)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    prev = sign_checkpoint(5, tree.root(5))
    plain = build_bundle(tmp_path / "plain", lines, [30], start=20)
    r = verify_bundle(plain, key(), previous=prev)
    assert not r.ok
    assert any("no proof linking your previous checkpoint" in p for p in r.problems)
    linked = build_bundle(tmp_path / "linked", lines, [30], start=20, extra_proofs=[(5, 30)])
    assert verify_bundle(linked, key(), previous=prev).ok


def test_truncation_by_the_key_holder_is_caught_only_with_the_previous_checkpoint(
    tmp_path: Path,
) -> None:
    lines = entries(40)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    prev = sign_checkpoint(40, tree.root(40))
    # The operator drops the last entries, logs a new export and re-signs: alone it
    # looks fine (cutting a bundle without the key fails: test_audit_review_fixes.py).
    b = build_bundle(tmp_path / "b", entries(35), [10])
    assert verify_bundle(b, key()).ok
    r = verify_bundle(b, key(), previous=prev)
    assert not r.ok
    assert r.first_bad_seq == 35
    assert any("truncated" in p for p in r.problems)


def test_rewritten_history_is_caught_with_the_previous_checkpoint(tmp_path: Path) -> None:
    lines = entries(40)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    prev = sign_checkpoint(30, tree.root(30))
    rewritten = list(lines)
    rewritten[12] = entry(12, actor_id="someone-else")
    b = build_bundle(tmp_path / "b", rewritten, [10, 30])
    assert verify_bundle(b, key()).ok
    r = verify_bundle(b, key(), previous=prev)
    assert not r.ok
    assert any("differs from your previous checkpoint" in p for p in r.problems)


def test_previous_checkpoint_must_verify(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(10))
    prev = sign_checkpoint(5, b"\x00" * 32, OTHER_SEED)
    r = verify_bundle(b, key(), previous=prev)
    assert not r.ok
    assert r.first_bad_seq == 0


# --- canonical form fast path ------------------------------------------------------------------


def test_fast_path_agrees_with_the_exact_check() -> None:
    samples = [
        entry(3),
        entry(4, reason='quote " and backslash \\', fields=()),
        entry(5, actor_id="名字 ünïcode 𝄞", records=()),
        entry(6, extra=(("object", "ob_1"),)),
        entry(7, ticket="tab\there"),
    ]
    for data in samples:
        assert is_canonical_entry(data) == (
            parse_canonical(data)["seq"],
            str(parse_canonical(data)["ts"]).encode(),
        )
    doc = parse_canonical(entry(8))
    bad = [
        json.dumps(doc).encode(),  # spaces
        canonical_json(doc).replace(b'"v":1', b'"v":1.0'),
        canonical_json(doc).replace(b'"ts":"', b'"ts":"x'),
        canonical_json(doc).replace(b'"seq":8,', b'"seq":9007199254740992,'),
        canonical_json({**doc, "seq": "8"}),
        canonical_json(doc).replace(b"officer", b"offic\\u0065r"),
        canonical_json(doc).replace(b"officer", b"offic\xffr"),
        canonical_json(doc)[:-1],
        b"[1,2]",
    ]
    for data in bad:
        assert isinstance(is_canonical_entry(data), str), data


def test_entries_with_escapes_and_non_ascii_verify(tmp_path: Path) -> None:
    lines = [
        entry(0, reason="line\nbreak"),
        entry(1, actor_id="名字"),
        entry(2, extra=(("object", "ob_1"),)),
        export_entry(3),
    ]
    assert verify_bundle(build_bundle(tmp_path / "b", lines, [2]), key()).ok


def test_bundle_member_directory_traversal_is_refused(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(3))
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    doc = manifest(b)
    doc["checkpoints"] = [{"size": 3, "file": "../secret.txt"}]
    write_manifest(b, doc)
    with pytest.raises(InputError):
        verify_bundle(b, key())


# --- dependencies ------------------------------------------------------------------------------

_ISOLATED = """
import importlib.abc, sys, types
from pathlib import Path
from typing import Any

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"sqlalchemy", "pydantic", "alembic", "opentelemetry", "click"}:
            raise ImportError("blocked: " + name)
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, sys.argv[1])
# The real package: its __init__ resolves the vault's names lazily.
from credit_vault.audit import verify_bundle
report = verify_bundle(sys.argv[2], sys.argv[3], workers=1)
print("OK" if report.ok else "FAILED")
print(sorted({m.split(".")[0] for m in sys.modules} - set(sys.stdlib_module_names)))
"""

# What the verifier may load besides the standard library: cryptography and its bindings.
_ALLOWED = {
    "credit_vault",
    "cryptography",
    "_cffi_backend",
    "_openssl",
    "_rust",
    "__main__",
    "__mp_main__",
    "_distutils_hack",
}


def test_offline_verifier_needs_no_database_or_model_libraries(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(20), [5])
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _ISOLATED, str(root), str(b), key()],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": ""},
    )
    first, imported = out.stdout.splitlines()
    assert first == "OK"
    loaded = set(eval(imported))  # noqa: S307 - our own subprocess printed a list of names
    assert loaded <= _ALLOWED, loaded - _ALLOWED


def test_copy_of_bundle_is_independent(tmp_path: Path) -> None:
    b = build_bundle(tmp_path / "b", entries(5))
    c = tmp_path / "c"
    shutil.copytree(b, c)
    rewrite_lines(c, lambda ls: ls.pop())
    assert verify_bundle(b, key()).ok
    assert not verify_bundle(c, key()).ok
