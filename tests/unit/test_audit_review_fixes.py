"""Offline verifier fixes from the audit review: truncation, member names, hostile input.

Bundles here are built from the core alone, shaped like the exporter's: the last
entry is the export's own log entry (``op`` export, ``x_format`` bundle, and the
``x_since``/``x_until`` asked for), the newest checkpoint covers it, and
``bounds`` carries the entries just outside the range with inclusion proofs.
The attacker in these tests holds the whole genuine bundle but not the key: it
recomputes every unsigned part (range, count, frontier, proofs, bounds) after
cutting entries off.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import struct
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from credit_vault.audit import (
    CSV_COLUMNS,
    AccessEntry,
    BundleWriter,
    Checkpoint,
    CompactRange,
    FeedWriter,
    MerkleTree,
    canonical_json,
    format_ts,
    leaf_hash,
    parse_canonical,
    sign_note,
    subject_extract,
    verifier_key_line,
    verify_bundle,
    verify_subject_extract,
)
from credit_vault.crypto._primitives import Ed25519Signer
from credit_vault.errors import InputError

ORIGIN = "review-log"
SEED = bytes(range(32))
T0 = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
SUBJECT = "ab" * 16


def key() -> str:
    return verifier_key_line(ORIGIN, Ed25519Signer(SEED).public_key)


def sign(size: int, root: bytes) -> bytes:
    s = Ed25519Signer(SEED)
    return sign_note(Checkpoint(ORIGIN, size, root).body(), ORIGIN, s.sign, s.public_key)


def ts(seq: int) -> str:
    return format_ts(T0 + timedelta(seconds=seq))


def log(n: int, *, since: int | None = None, until: int | None = None) -> list[bytes]:
    """``n`` entries a second apart; the last is a bundle export of [ts(since), ts(until))."""
    lines = [
        AccessEntry(
            op="query",
            outcome="ok",
            actor_id=f"officer-{i % 3}",
            actor_role="licensing_officer",
            purpose="licensing_review",
            subject=SUBJECT if i % 2 else f"{i:032x}",
            request_id=f"{i:032x}",
        ).canonical(i, T0 + timedelta(seconds=i))
        for i in range(n - 1)
    ]
    extra: tuple[tuple[str, str], ...] = (("format", "bundle"),)
    if since is not None:
        extra += (("since", ts(since)),)
    if until is not None:
        extra += (("until", ts(until)),)
    export = AccessEntry(
        op="export", outcome="ok", actor_id="aud-1", actor_role="auditor", purpose="audit",
        extra=extra,
    )  # fmt: skip
    return [*lines, export.canonical(n - 1, T0 + timedelta(seconds=n - 1))]


def _range_of(lines: list[bytes]) -> tuple[int, int, str | None, str | None]:
    """[start, end) as the exporter computes it from the export entry's since/until."""
    export = parse_canonical(lines[-1])
    since, until = export.get("x_since"), export.get("x_until")
    times = [str(parse_canonical(x)["ts"]) for x in lines]
    n = len(lines)

    def first_at(bound: object) -> int:
        return next((i for i, t in enumerate(times) if t >= str(bound)), n)

    start = 0 if since is None else first_at(since)
    end = n if until is None else max(start, first_at(until))
    return start, end, None if since is None else str(since), None if until is None else str(until)


def build(
    dest: Path,
    lines: list[bytes],
    checkpoints: tuple[int, ...] = (),
    *,
    version: int = 2,
) -> Path:
    """An exporter-shaped bundle of ``lines`` (the whole log) with checkpoints and the end."""
    start, end, since, until = _range_of(lines)
    with BundleWriter(dest) as w:
        w.write_entries(lines[start:end])
        w.finish({})  # placeholder manifest, rewritten below
    n = len(lines)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    sizes = sorted({*checkpoints, n})
    if dest.suffix == ".zip":
        raise AssertionError("build a directory, then zip it with zipped()")
    (dest / "checkpoints").mkdir(exist_ok=True)
    for s in sizes:
        (dest / "checkpoints" / f"{s}.txt").write_bytes(sign(s, tree.root(s)))
    doc: dict[str, Any] = {
        "format": "credit-vault-audit-bundle",
        "version": version,
        "origin": ORIGIN,
        "range": {"start": start, "end": end, "since": since, "until": until},
        "checkpoints": [{"size": s, "file": f"checkpoints/{s}.txt"} for s in sizes],
    }
    write_manifest(dest, _recompute(doc, lines, start, end, version=version))
    return dest


def _recompute(
    doc: dict[str, Any], lines: list[bytes], start: int, end: int, *, version: int
) -> dict[str, Any]:
    """Every unsigned part of a manifest for the range [start, end), as an attacker can."""
    tree = MerkleTree([leaf_hash(x) for x in lines])
    sizes = sorted(c["size"] for c in doc["checkpoints"])
    newest = sizes[-1]
    links = list(itertools.pairwise(sizes))
    if end not in sizes and end < newest:
        links.append((end, min(s for s in sizes if s > end)))
    frontier = CompactRange()
    frontier.extend(tree.leaf_hash(i) for i in range(start))
    doc = {
        **doc,
        "version": version,
        "range": {**doc["range"], "start": start, "end": end},
        "start_frontier": [h.hex() for h in frontier.nodes],
        "entries": {"file": "entries.jsonl", "count": end - start},
        "consistency": [
            {"old_size": a, "new_size": b, "proof": [h.hex() for h in tree.consistency_proof(a, b)]}
            for a, b in links
        ],
    }
    doc.pop("bounds", None)
    if version >= 2:
        seqs = sorted(
            s for s in {start - 1, end, newest - 1} if 0 <= s < newest and not start <= s < end
        )
        doc["bounds"] = [
            {
                "seq": s,
                "entry": lines[s].decode(),
                "proof": [h.hex() for h in tree.inclusion_proof(s, newest)],
            }
            for s in seqs
        ]
    return doc


def manifest(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / "manifest.json").read_text("utf-8"))  # type: ignore[no-any-return]


def write_manifest(bundle: Path, doc: object) -> None:
    (bundle / "manifest.json").write_text(json.dumps(doc), "utf-8")


def cut(
    bundle: Path, lines: list[bytes], start: int, end: int, *, keep_up_to: int | None = None
) -> Path:
    """Cut the bundle to the log entries [start, end) and fix up everything unsigned.

    ``keep_up_to`` also drops the checkpoints above that size (the newest ones).
    """
    doc = manifest(bundle)
    if keep_up_to is not None:
        for c in doc["checkpoints"]:
            if c["size"] > keep_up_to:
                (bundle / c["file"]).unlink()
        doc["checkpoints"] = [c for c in doc["checkpoints"] if c["size"] <= keep_up_to]
    (bundle / "entries.jsonl").write_bytes(b"".join(x + b"\n" for x in lines[start:end]))
    write_manifest(bundle, _recompute(doc, lines, start, end, version=doc["version"]))
    return bundle


def copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# --- finding 2: truncation is caught from the bundle and the key alone ------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_whole_log_bundle_verifies_and_shows_its_export(tmp_path: Path, version: int) -> None:
    lines = log(30)
    b = build(tmp_path / "b", lines, (10, 20), version=version)
    r = verify_bundle(b, key(), workers=1)
    assert r.ok, r.problems
    assert (r.start, r.end, r.tree_size) == (0, 30, 30)
    assert (r.export_seq, r.exported_at) == (29, ts(29))
    assert "exported at" in r.summary()
    assert r.to_dict()["export_seq"] == 29
    # The attacker's fix-up redone on the untouched range changes nothing.
    same = cut(copy(b, tmp_path / "same"), lines, 0, 30)
    assert verify_bundle(same, key(), workers=1).ok
    if version == 2:  # a version 2 manifest cannot leave its bounds out
        doc = manifest(b)
        del doc["bounds"]
        write_manifest(b, doc)
        with pytest.raises(InputError):
            verify_bundle(b, key(), workers=1)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(
    ("start", "end", "keep_up_to", "first_bad"),
    [
        (0, 28, None, 28),  # tail cut, newest checkpoint kept
        (0, 25, None, 25),
        (0, 20, 20, 19),  # tail cut at a checkpoint, newer checkpoints dropped
        (0, 10, 10, 9),
        (12, 30, None, 0),  # head cut
        (3, 27, None, 0),  # both
    ],
)
def test_cutting_a_whole_log_bundle_fails(
    tmp_path: Path, version: int, start: int, end: int, keep_up_to: int | None, first_bad: int
) -> None:
    lines = log(30)
    b = build(tmp_path / "b", lines, (10, 20, 25), version=version)
    cut(b, lines, start, end, keep_up_to=keep_up_to)
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert r.first_bad_seq == first_bad, r.problems


def test_ranged_bundle_verifies(tmp_path: Path) -> None:
    lines = log(40, since=8, until=27)
    b = build(tmp_path / "b", lines, (10, 20))
    r = verify_bundle(b, key(), workers=1)
    assert r.ok, r.problems
    assert (r.start, r.end, r.export_seq) == (8, 27, 39)
    same = cut(copy(b, tmp_path / "same"), lines, 8, 27)
    assert verify_bundle(same, key(), workers=1).ok


@pytest.mark.parametrize(
    ("since", "until"), [(0, 39), (5, None), (None, 12), (12, 12), (39, None), (20, 40)]
)
def test_ranged_bundle_edges_verify(tmp_path: Path, since: int | None, until: int | None) -> None:
    lines = log(40, since=since, until=until)
    r = verify_bundle(build(tmp_path / "b", lines, (16,)), key(), workers=1)
    assert r.ok, r.problems


@pytest.mark.parametrize(
    ("start", "end", "first_bad"),
    [
        (8, 25, 25),  # tail cut
        (8, 9, 9),
        (11, 27, 10),  # head cut
        (10, 20, 9),  # both
        (8, 8, 8),  # everything cut
        (7, 27, 7),  # an entry before since added
        (8, 28, 27),  # an entry at or after until added
    ],
)
def test_cutting_or_widening_a_ranged_bundle_fails(
    tmp_path: Path, start: int, end: int, first_bad: int
) -> None:
    lines = log(40, since=8, until=27)
    b = build(tmp_path / "b", lines, (10, 20))
    cut(b, lines, start, end)
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert r.first_bad_seq == first_bad, r.problems


def test_ranged_bundle_with_edited_since_until_fails(tmp_path: Path) -> None:
    lines = log(40, since=8, until=27)
    b = build(tmp_path / "b", lines, (10, 20))
    cut(b, lines, 8, 20)
    doc = manifest(b)
    doc["range"]["until"] = ts(20)  # claim the shorter range was asked for
    write_manifest(b, doc)
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert any("since/until" in p for p in r.problems)
    # Turning it into a whole-log bundle does not help either.
    doc["range"]["since"] = doc["range"]["until"] = None
    write_manifest(b, doc)
    assert not verify_bundle(b, key(), workers=1).ok


def test_version_1_ranged_bundle_cannot_prove_its_range(tmp_path: Path) -> None:
    lines = log(40, since=8, until=27)
    r = verify_bundle(build(tmp_path / "b", lines, (10,), version=1), key(), workers=1)
    assert not r.ok
    assert any("version 1" in p for p in r.problems)


@pytest.mark.parametrize("tamper", ["drop", "bad-proof", "other-seq", "not-canonical"])
def test_bounds_must_be_signed_entries(tmp_path: Path, tamper: str) -> None:
    lines = log(40, since=8, until=27)
    b = build(tmp_path / "b", lines, (10, 20))
    doc = manifest(b)
    item = doc["bounds"][0]
    if tamper == "drop":
        doc["bounds"] = doc["bounds"][1:]
    elif tamper == "bad-proof":
        item["proof"][0] = "00" * 32
    elif tamper == "other-seq":
        item["seq"] += 1
    else:
        item["entry"] = " " + item["entry"]
    write_manifest(b, doc)
    assert not verify_bundle(b, key(), workers=1).ok


def test_newest_checkpoint_must_end_with_a_bundle_export(tmp_path: Path) -> None:
    # A log whose last entry is an ordinary query: no export vouches for the range.
    lines = log(20)
    lines[-1] = (
        lines[-2].replace(b'"seq":18', b'"seq":19').replace(ts(18).encode(), ts(19).encode())
    )
    r = verify_bundle(build(tmp_path / "b", lines), key(), workers=1)
    assert not r.ok
    assert r.first_bad_seq == 19


# --- finding 5: only the documented members are read -------------------------------------------


def test_entries_file_must_be_the_documented_member(tmp_path: Path) -> None:
    lines = log(20)
    b = build(tmp_path / "b", lines, (10,))
    genuine = (b / "entries.jsonl").read_bytes()
    (b / "checkpoints" / "x.jsonl").write_bytes(genuine)
    (b / "entries.jsonl").write_bytes(genuine.replace(b'"officer-1"', b'"someone-else"'))
    doc = manifest(b)
    doc["entries"]["file"] = "checkpoints/x.jsonl"
    write_manifest(b, doc)
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert any("entries.file" in p for p in r.problems)


def test_checkpoints_must_be_under_their_documented_names(tmp_path: Path) -> None:
    b = build(tmp_path / "b", log(20), (10,))
    (b / "checkpoints" / "10.txt").rename(b / "ten.txt")
    doc = manifest(b)
    doc["checkpoints"][0]["file"] = "ten.txt"
    write_manifest(b, doc)
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert any("checkpoints/10.txt" in p for p in r.problems)


# --- finding 4: hostile input gives a typed error or a failed report ---------------------------


def test_deeply_nested_manifest_is_an_input_error(tmp_path: Path) -> None:
    b = build(tmp_path / "b", log(5))
    (b / "manifest.json").write_bytes(b"[" * 200_000)
    with pytest.raises(InputError):
        verify_bundle(b, key(), workers=1)


@pytest.mark.parametrize(
    "name", ["entries\x00.jsonl", "\ud800", "checkpoints", "", ".", "../x", "/etc/passwd"]
)
@pytest.mark.parametrize("member", ["entries", "checkpoint"])
def test_odd_member_names_fail_the_report(tmp_path: Path, name: str, member: str) -> None:
    b = build(tmp_path / "b", log(12), (5,))
    doc = manifest(b)
    if member == "entries":
        doc["entries"]["file"] = name
    else:
        doc["checkpoints"][0]["file"] = name
    write_manifest(b, doc)
    try:
        r = verify_bundle(b, key(), workers=1)
    except InputError:
        return  # a name that is no plain relative path: a typed error
    assert not r.ok


def test_entries_member_that_is_a_directory_is_missing(tmp_path: Path) -> None:
    b = build(tmp_path / "b", log(12), (5,))
    (b / "entries.jsonl").unlink()
    (b / "entries.jsonl").mkdir()
    r = verify_bundle(b, key(), workers=1)
    assert not r.ok
    assert any("entries file is missing" in p for p in r.problems)


def zipped(src: Path, dest: Path, method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix(), compress_type=method)
    return dest


def _local_header(data: bytes, member: str) -> tuple[int, zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    off = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[off + 26 : off + 30])
    return off + 30 + name_len + extra_len, info


def corrupt_deflate(z: Path, member: str) -> None:
    data = bytearray(z.read_bytes())
    start, info = _local_header(bytes(data), member)
    data[start : start + info.compress_size] = b"\xff" * info.compress_size
    z.write_bytes(bytes(data))


def set_method(z: Path, member: str, method: int) -> None:
    data = bytearray(z.read_bytes())
    _start, info = _local_header(bytes(data), member)
    data[info.header_offset + 8 : info.header_offset + 10] = struct.pack("<H", method)
    i = 0
    while (i := data.find(b"PK\x01\x02", i)) >= 0:
        name_len = struct.unpack("<H", data[i + 28 : i + 30])[0]
        if data[i + 46 : i + 46 + name_len].decode() == member:
            data[i + 10 : i + 12] = struct.pack("<H", method)
        i += 4
    z.write_bytes(bytes(data))


@pytest.mark.parametrize("member", ["manifest.json", "entries.jsonl", "checkpoints/12.txt"])
@pytest.mark.parametrize("damage", ["deflate", "method"])
def test_corrupt_zip_members_are_input_errors(tmp_path: Path, member: str, damage: str) -> None:
    b = build(tmp_path / "b", log(12), version=1)
    if damage == "deflate":
        z = zipped(b, tmp_path / "b.zip")
        corrupt_deflate(z, member)
    else:
        z = zipped(b, tmp_path / "b.zip", zipfile.ZIP_STORED)
        set_method(z, member, 99)
    with pytest.raises(InputError):
        verify_bundle(z, key(), workers=1)


def test_intact_deflated_zip_verifies(tmp_path: Path) -> None:
    b = build(tmp_path / "b", log(12))
    assert verify_bundle(zipped(b, tmp_path / "b.zip"), key(), workers=1).ok


# --- subject extracts (findings 4 and 7) -------------------------------------------------------


def extract(tmp_path: Path, mutate: Any = None, raw: bytes | None = None) -> Path:
    lines = log(20)
    tree = MerkleTree([leaf_hash(x) for x in lines])
    n = len(lines)
    mine = [i for i, x in enumerate(lines) if parse_canonical(x)["subject"] == SUBJECT]
    doc = subject_extract(
        origin=ORIGIN,
        subject=SUBJECT,
        note=sign(n, tree.root()),
        tree_size=n,
        root=tree.root(),
        created=ts(n),
        items=[(i, lines[i], leaf_hash(lines[i]), tree.inclusion_proof(i, n)) for i in mine],
    )
    if mutate is not None:
        mutate(doc)
    path = tmp_path / "extract.json"
    path.write_bytes(raw if raw is not None else json.dumps(doc).encode())
    return path


def _set(path: str, value: object) -> Any:
    def mutate(doc: dict[str, Any]) -> None:
        *head, last = path.split(".")
        target: Any = doc
        for part in head:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("tree_size", 999_999),
        ("root", "00" * 32),
        ("entries.0.seq", 123_456),
        ("entries.0.leaf_hash", "ff" * 32),
    ],
)
def test_extract_fields_must_match_the_verified_values(
    tmp_path: Path, path: str, value: object
) -> None:
    genuine = verify_subject_extract(extract(tmp_path), key())
    assert genuine.ok, genuine.problems
    assert genuine.entries == 9
    r = verify_subject_extract(extract(tmp_path, _set(path, value)), key())
    assert not r.ok


def test_deeply_nested_extract_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        verify_subject_extract(extract(tmp_path, raw=b"[" * 200_000), key())


@pytest.mark.parametrize(
    "mutate",
    [
        _set("entries.0.entry", "\ud800"),
        lambda d: d.__setitem__("checkpoint", d["checkpoint"] + "\ud800"),
        lambda d: d["entries"][0].__setitem__(
            "entry", d["entries"][0]["entry"][:-1] + ',"x_a":"\ud800"}'
        ),
    ],
    ids=["entry", "checkpoint", "entry-member"],
)
def test_lone_surrogates_in_an_extract_fail_the_report(tmp_path: Path, mutate: Any) -> None:
    r = verify_subject_extract(extract(tmp_path, mutate), key())
    assert not r.ok


# --- finding 7: every CSV row links back to its leaf hash --------------------------------------


def test_csv_rows_rebuild_their_entries(tmp_path: Path) -> None:
    docs = [
        AccessEntry(
            op="export", outcome="ok", actor_id="'quoted", actor_role="auditor",
            reason="-minus", extra=(("format", "csv"), ("since", ts(1))),
        ).canonical(0, T0),
        AccessEntry(
            op="heartbeat", outcome="ok", actor_id="vault", actor_role="system",
            reason="idle", extra=(("idle_since", ts(0)),),
        ).canonical(1, T0),
        AccessEntry(
            op="query", outcome="denied", actor_id="=cmd", actor_role="r", ticket="''x",
            records=("r_1", "r_2"), categories=("a", "b"), fields=("f",),
        ).canonical(2, T0),
    ]  # fmt: skip
    dest = tmp_path / "feed.csv"
    w = FeedWriter(dest, "csv", origin=ORIGIN, version="1")
    for data in docs:
        w.write(parse_canonical(data), leaf_hash(data).hex())
    w.finish()
    rows = list(csv.DictReader(io.StringIO(dest.read_text("utf-8"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert CSV_COLUMNS[:17] == (
        "seq", "ts", "op", "outcome", "reason", "actor", "role", "org", "purpose", "basis",
        "ticket", "subject", "records", "categories", "fields", "request", "leaf_hash",
    )  # fmt: skip

    def unquote(cell: str) -> str:
        return cell[1:] if cell.startswith("'") else cell

    def split(cell: str) -> list[str]:
        return cell.split(";") if cell else []

    for row in rows:
        r = {k: unquote(v) for k, v in row.items()}
        rebuilt: dict[str, object] = {
            "v": 1, "seq": int(r["seq"]), "ts": r["ts"], "op": r["op"], "outcome": r["outcome"],
            "actor": r["actor"], "role": r["role"], "org": r["org"], "purpose": r["purpose"],
            "basis": r["basis"], "ticket": r["ticket"], "subject": r["subject"],
            "records": split(r["records"]), "categories": split(r["categories"]),
            "fields": split(r["fields"]), "reason": r["reason"], "request": r["request"],
            **json.loads(r["extra"]),
        }  # fmt: skip
        assert leaf_hash(canonical_json(rebuilt)).hex() == r["leaf_hash"]
