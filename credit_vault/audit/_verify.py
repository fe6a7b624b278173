"""The offline verifier: check an exported bundle or subject extract with a public key alone.

Standard library and ``cryptography`` only (through the core modules
``_canonical``, ``_merkle``, ``_note`` and ``_ranges``); nothing here touches a
database. An auditor runs it with the vault's verifier key line and, ideally,
the newest signed checkpoint they kept from an earlier export. The algorithm is
specified in docs/audit.md so that anyone can write their own.

A bundle holds entries ``[start, end)`` of the log. The verifier checks that

* every checkpoint opens under the key (Ed25519 signed note) and names the key's origin;
* every entry line is the RFC 8785 canonical form of a JSON object whose ``seq``
  is its position and whose ``ts`` never goes below the line before;
* the compact range of ``[0, start)`` in the manifest, extended by the entries'
  leaf hashes, gives the signed root at every checkpoint size inside the range;
* consecutive checkpoints are linked by consistency proofs, and so is ``end`` to
  the next checkpoint when ``end`` is not one itself;
* the auditor's earlier checkpoint, when given, is consistent with the bundle
  (a newest checkpoint older than it means truncation; another root at its size
  means rewritten history).

Speed: entry lines are checked against a pattern that only the canonical form of
the standard entry shape can match (anything else goes through the exact
parse-and-re-encode check), hashed in worker processes over chunks of the file,
and the chunks' compact ranges merged in order, so memory stays flat.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import re
import threading
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import IO, Any

from credit_vault.audit._canonical import MAX_SAFE_INTEGER, parse_canonical
from credit_vault.audit._merkle import (
    HASH_SIZE,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from credit_vault.audit._note import open_note, parse_checkpoint, parse_verifier_key
from credit_vault.audit._ranges import IntervalRange
from credit_vault.errors import InputError, IntegrityError

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "EXTRACT_FORMAT",
    "EXTRACT_VERSION",
    "BundleReport",
    "ExtractReport",
    "is_canonical_entry",
    "verify_bundle",
    "verify_subject_extract",
]

BUNDLE_FORMAT = "credit-vault-audit-bundle"
"""``format`` of a bundle's manifest.json."""
BUNDLE_VERSION = 2
"""``version`` the exporter writes. Version 2 added ``bounds`` (see docs/audit.md);
version 1 bundles are still read and held to the same checks, which only a
whole-log version 1 bundle can pass."""
_BUNDLE_VERSIONS = (1, 2)
EXTRACT_FORMAT = "credit-vault-subject-extract"
"""``format`` of a subject extract (one JSON document)."""
EXTRACT_VERSION = 1

MANIFEST = "manifest.json"
ENTRIES_FILE = "entries.jsonl"
CHECKPOINT_DIR = "checkpoints"
_MAX_MANIFEST = 64 * 1024 * 1024
_MAX_NOTE = 64 * 1024
_MAX_EXTRACT = 256 * 1024 * 1024
_MAX_LINE = 16 * 1024 * 1024
_CHUNK = 4 * 1024 * 1024
_PARALLEL_FROM = 8 * 1024 * 1024  # smaller files are not worth starting processes for
_MAX_PROBLEMS = 20
# What reading a member of a damaged or hostile bundle can raise besides OSError:
# corrupt deflate data, an unknown compression method, an encrypted member, a
# member shorter than its header says, a name Python cannot pass to the OS.
_READ_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
    ValueError,
)

# The canonical form of a standard (format 1) entry: keys in code-point order, no
# whitespace, and strings without any escape or control character (JCS escapes
# only quotes, backslashes and controls, so such a string is canonical as it
# stands). Only canonical text can match; any other line, including every line
# with an escape, takes the exact slow path. Non-ASCII lines must also be valid
# UTF-8, checked separately.
_S = rb'"[^"\\\x00-\x1f]*+"'
_A = rb"\[(?:" + _S + rb"(?:," + _S + rb")*+)?\]"
_TS_TEXT = rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"
_FAST = re.compile(
    rb'\{"actor":' + _S + rb',"basis":' + _S + rb',"categories":' + _A
    + rb',"fields":' + _A + rb',"op":' + _S + rb',"org":' + _S + rb',"outcome":' + _S
    + rb',"purpose":' + _S + rb',"reason":' + _S + rb',"records":' + _A
    + rb',"request":' + _S + rb',"role":' + _S + rb',"seq":(0|[1-9][0-9]{0,15})'
    + rb',"subject":' + _S + rb',"ticket":' + _S + rb',"ts":"(' + _TS_TEXT + rb')","v":1\}'
)  # fmt: skip
_TS = re.compile(_TS_TEXT.decode("ascii"))


def is_canonical_entry(line: bytes) -> tuple[int, bytes] | str:
    """``(seq, ts)`` of a canonical entry line (no newline), or the rule it breaks."""
    m = _FAST.fullmatch(line)
    if m is not None:
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return "entry is not valid UTF-8"
        number = int(m.group(1))
        if number > MAX_SAFE_INTEGER:
            return "entry is not in RFC 8785 canonical form"
        return number, m.group(2)
    try:
        doc = parse_canonical(line)
    except InputError:
        return "entry is not in RFC 8785 canonical form"
    seq, ts = doc.get("seq"), doc.get("ts")
    if type(seq) is not int:
        return "entry has no integer seq"
    if not isinstance(ts, str) or not _TS.fullmatch(ts):
        return "entry has no timestamp of the form YYYY-MM-DDTHH:MM:SS.ffffffZ"
    return seq, ts.encode("ascii")


# --- reports ---------------------------------------------------------------------------


class _Problems:
    """Collects problems (capped), the first failing entry and the first unproven one.

    A problem with an entry itself (its form, its position, its time) names that
    entry exactly; a root that does not match or a proof that fails only says
    that some entry in a range is wrong, so it lowers the bound below which
    entries are proven instead.
    """

    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0
        self.first_exact: int | None = None
        self.first_unproven: int | None = None

    def _note(self, seq: int | None, what: str) -> None:
        self.count += 1
        if len(self.items) < _MAX_PROBLEMS:
            self.items.append(f"seq {seq}: {what}" if seq is not None else what)

    def add(self, seq: int | None, what: str) -> None:
        """A problem located at entry ``seq`` (None: no entry to name)."""
        self._note(seq, what)
        if seq is not None and (self.first_exact is None or seq < self.first_exact):
            self.first_exact = seq

    def bound(self, seq: int, what: str) -> None:
        """A problem somewhere at or after entry ``seq``: entries from there are unproven."""
        self._note(seq, what)
        if self.first_unproven is None or seq < self.first_unproven:
            self.first_unproven = seq

    def fatal(self, what: str) -> None:
        """A problem that leaves the whole bundle unproven."""
        self.bound(0, what)

    @property
    def first_bad(self) -> int | None:
        """The first failing entry: an exactly located one, else the first unproven."""
        return self.first_exact if self.first_exact is not None else self.first_unproven


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What :func:`verify_bundle` found. ``ok`` only when every check held.

    ``first_bad_seq`` is the first failing entry: the lowest one a check names
    exactly (its form, position or time), else ``unproven_from``.
    ``unproven_from`` is where the signed roots stop vouching for the entries
    (a root mismatch or a failed proof only bounds where the damage starts);
    both are None when all holds. ``export_seq`` and ``exported_at`` are the
    export's own log entry (the last one the newest signed checkpoint covers) and
    its time, read from signed data: a bundle is only as fresh as that time (an
    older export replayed verifies too; ``previous=`` catches that).
    """

    ok: bool
    origin: str
    start: int
    end: int
    entries: int
    tree_size: int
    root: bytes
    checkpoints: int
    proofs: int
    previous_size: int | None
    first_bad_seq: int | None
    unproven_from: int | None
    problems: tuple[str, ...]
    problem_count: int
    seconds: float
    workers: int
    export_seq: int | None = None
    exported_at: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """A few lines for people."""
        head = "OK" if self.ok else "FAILED"
        lines = [
            (
                f"bundle {head}: {self.entries} entries [{self.start}, {self.end}) of log "
                f"{self.origin!r}"
            ),
            f"newest signed checkpoint: size {self.tree_size}, root {self.root.hex()}",
        ]
        if self.export_seq is not None:
            lines.append(f"exported at {self.exported_at} (log entry {self.export_seq})")
        lines.append(
            f"{self.checkpoints} signed checkpoint(s) and {self.proofs} consistency "
            "proof(s) verified"
        )
        if self.previous_size is not None:
            state = "consistent" if self.ok else "checked"
            lines.append(f"previous checkpoint (size {self.previous_size}): {state}")
        if not self.ok:
            lines.append(f"first failing sequence number: {self.first_bad_seq}")
            if self.unproven_from is not None:
                lines.append(
                    f"entries from sequence number {self.unproven_from} on are not proven "
                    "by a signed checkpoint"
                )
            lines.extend(f"  problem: {p}" for p in self.problems)
            if self.problem_count > len(self.problems):
                lines.append(f"  ... and {self.problem_count - len(self.problems)} more")
        lines.append(f"verified in {self.seconds:.2f} s with {self.workers} process(es)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "kind": "bundle",
            "origin": self.origin,
            "start": self.start,
            "end": self.end,
            "entries": self.entries,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "checkpoints": self.checkpoints,
            "proofs": self.proofs,
            "previous_size": self.previous_size,
            "first_bad_seq": self.first_bad_seq,
            "unproven_from": self.unproven_from,
            "problems": list(self.problems),
            "problem_count": self.problem_count,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "export_seq": self.export_seq,
            "exported_at": self.exported_at,
        }


@dataclass(frozen=True, slots=True)
class ExtractReport:
    """What :func:`verify_subject_extract` found. ``ok`` only when every check held."""

    ok: bool
    origin: str
    subject: str
    tree_size: int
    root: bytes
    entries: int
    first_bad_seq: int | None
    problems: tuple[str, ...]
    problem_count: int
    seconds: float
    items: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        """A few lines for people."""
        head = "OK" if self.ok else "FAILED"
        lines = [
            (
                f"subject extract {head}: {self.entries} entries about subject "
                f"{self.subject[:16]}... in log {self.origin!r}"
            ),
            f"signed checkpoint: size {self.tree_size}, root {self.root.hex()}",
        ]
        if not self.ok:
            lines.append(f"first failing sequence number: {self.first_bad_seq}")
            lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "ok": self.ok,
            "kind": "subject",
            "origin": self.origin,
            "subject": self.subject,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "entries": self.entries,
            "first_bad_seq": self.first_bad_seq,
            "problems": list(self.problems),
            "problem_count": self.problem_count,
            "seconds": round(self.seconds, 3),
        }


# --- reading a bundle ------------------------------------------------------------------


class _Source:
    """A bundle directory or .zip file, read by member name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        if path.is_dir():
            return
        if not path.is_file():
            raise InputError("bundle must be a directory or a .zip file")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            raise InputError("bundle file is not a readable .zip archive") from None

    def _member(self, name: str) -> Path:
        return self.path.joinpath(*_member_parts(name))

    def read(self, name: str, limit: int) -> bytes | None:
        """A member's bytes, or None when it is missing; InputError when over ``limit``.

        InputError too when the member cannot be read (corrupt or unsupported
        compression, an encrypted member, a name the system refuses).
        """
        try:
            if self._zip is not None:
                info = self._zip.getinfo(name)
                if info.file_size > limit:
                    raise InputError("a bundle member is larger than allowed")
                with self._zip.open(info) as f:
                    data = f.read(limit + 1)
            else:
                path = self._member(name)
                if not path.is_file():
                    return None
                with path.open("rb") as f:
                    data = f.read(limit + 1)
        except InputError:
            raise
        except (KeyError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except _READ_ERRORS:
            raise InputError("a bundle member cannot be read") from None
        if len(data) > limit:
            raise InputError("a bundle member is larger than allowed")
        return data

    def open(self, name: str) -> tuple[IO[bytes], int] | None:
        """A member opened for streaming and its size, or None when missing."""
        try:
            if self._zip is not None:
                info = self._zip.getinfo(name)
                return self._zip.open(info), info.file_size
            p = self._member(name)
            if not p.is_file():
                return None
            return p.open("rb"), p.stat().st_size
        except InputError:
            raise
        except (KeyError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except _READ_ERRORS:
            raise InputError("a bundle member cannot be read") from None

    def locate(self, name: str) -> tuple[Path, int, int] | None:
        """(file, offset, length) when the member's bytes lie as they are in one file.

        True for a directory bundle's files and for zip members stored without
        compression, which worker processes can then read directly.
        """
        try:
            if self._zip is None:
                p = self._member(name)
                if not p.is_file():
                    return None
                return p, 0, p.stat().st_size
            info = self._zip.getinfo(name)
            if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                return None
            with self.path.open("rb") as f:
                f.seek(info.header_offset)
                header = f.read(30)
            if len(header) != 30 or header[:4] != b"PK\x03\x04":
                return None
            name_len = int.from_bytes(header[26:28], "little")
            extra_len = int.from_bytes(header[28:30], "little")
            return self.path, info.header_offset + 30 + name_len + extra_len, info.file_size
        except InputError:
            raise
        except (KeyError, *_READ_ERRORS):
            return None

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _member_parts(name: str) -> tuple[str, ...]:
    """A member name's path parts; InputError unless it is a plain relative path."""
    # Member names come from the manifest: never leave the bundle directory, and
    # never hand the system a name it refuses (NUL, lone surrogates).
    if "\x00" in name or not name.isprintable():
        raise InputError("bundle member names must be printable text")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("bundle member names must be valid Unicode text") from None
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        raise InputError("bundle member names must be relative paths inside the bundle")
    return parts


def _load_key(key: str) -> tuple[str, bytes]:
    name, _kid, public_key = parse_verifier_key(key.strip())
    return name, public_key


def _open_checkpoint(note: bytes, name: str, public_key: bytes) -> tuple[int, bytes]:
    """(size, root) of a signed checkpoint; IntegrityError or InputError when it fails."""
    body = open_note(note, (name, public_key))
    cp = parse_checkpoint(body)
    if cp.origin != name:
        raise IntegrityError("checkpoint names another log")
    return cp.size, cp.root


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from \ud800-style escapes
        raise InputError("text is not valid Unicode") from None


def _hex_hash(value: object) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE:
        raise InputError("hashes are 64 lowercase hex digits")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise InputError("hashes are 64 lowercase hex digits") from None
    if raw.hex() != value:
        raise InputError("hashes are 64 lowercase hex digits")
    return raw


def _nat(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise InputError(f"manifest {what} must be a non-negative integer")
    return value


@dataclass(slots=True)
class _Bound:
    """An entry outside the bundle's range, with its inclusion proof (``bounds``)."""

    seq: int
    entry: bytes | None  # None: not valid UTF-8 text
    proof: list[bytes]


@dataclass(slots=True)
class _Manifest:
    version: int
    origin: str
    start: int
    end: int
    since: str | None
    until: str | None
    frontier: list[bytes]
    entries_file: str
    count: int
    checkpoints: list[tuple[int, str]]
    proofs: dict[tuple[int, int], list[bytes]]
    bounds: list[_Bound]


def _load_json(raw: bytes, what: str) -> object:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack.
        raise InputError(f"{what} is not valid JSON") from None


def _bound_time(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _TS.fullmatch(value):
        raise InputError(
            f"manifest range.{what} must be null or a time YYYY-MM-DDTHH:MM:SS.ffffffZ"
        )
    return value


def _parse_bounds(raw: object) -> list[_Bound]:
    if not isinstance(raw, list):
        raise InputError("manifest bounds must be a list")
    bounds: list[_Bound] = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("entry"), str)
            or not isinstance(item.get("proof"), list)
        ):
            raise InputError("manifest bounds need seq, entry and proof")
        text: str = item["entry"]
        try:
            data: bytes | None = text.encode("utf-8")
        except UnicodeEncodeError:
            data = None
        seq = _nat(item.get("seq"), "bounds seq")
        bounds.append(_Bound(seq, data, [_hex_hash(h) for h in item["proof"]]))
    return bounds


def _parse_manifest(raw: bytes) -> _Manifest:
    doc = _load_json(raw, "manifest.json")
    if not isinstance(doc, dict):
        raise InputError("manifest.json must hold an object")
    if doc.get("format") != BUNDLE_FORMAT:
        raise InputError("manifest.json is not a credit-vault audit bundle manifest")
    version = doc.get("version")
    if type(version) is not int or version not in _BUNDLE_VERSIONS:
        raise InputError("unsupported bundle version")
    origin = doc.get("origin")
    rng = doc.get("range")
    ent = doc.get("entries")
    if not isinstance(origin, str) or not isinstance(rng, dict) or not isinstance(ent, dict):
        raise InputError("manifest needs origin, range and entries")
    start, end = _nat(rng.get("start"), "range.start"), _nat(rng.get("end"), "range.end")
    if start > end:
        raise InputError("manifest range must have start <= end")
    since, until = _bound_time(rng.get("since"), "since"), _bound_time(rng.get("until"), "until")
    frontier_raw = doc.get("start_frontier", [])
    if not isinstance(frontier_raw, list):
        raise InputError("manifest start_frontier must be a list of hashes")
    frontier = [_hex_hash(h) for h in frontier_raw]
    if len(frontier) != start.bit_count():
        raise InputError("manifest start_frontier needs one hash per set bit of range.start")
    entries_file = ent.get("file")
    if not isinstance(entries_file, str):
        raise InputError("manifest entries.file must be a member name")
    count = _nat(ent.get("count"), "entries.count")
    cps_raw = doc.get("checkpoints")
    if not isinstance(cps_raw, list):
        raise InputError("manifest checkpoints must be a list")
    cps: list[tuple[int, str]] = []
    for item in cps_raw:
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise InputError("manifest checkpoints need size and file")
        cps.append((_nat(item.get("size"), "checkpoint size"), item["file"]))
    proofs: dict[tuple[int, int], list[bytes]] = {}
    proofs_raw = doc.get("consistency", [])
    if not isinstance(proofs_raw, list):
        raise InputError("manifest consistency must be a list")
    for item in proofs_raw:
        if not isinstance(item, dict) or not isinstance(item.get("proof"), list):
            raise InputError("manifest consistency proofs need old_size, new_size and proof")
        key = (_nat(item.get("old_size"), "old_size"), _nat(item.get("new_size"), "new_size"))
        proofs[key] = [_hex_hash(h) for h in item["proof"]]
    if version >= 2 and "bounds" not in doc:
        raise InputError("a version 2 manifest needs bounds")
    bounds = _parse_bounds(doc.get("bounds", []))
    return _Manifest(
        version,
        origin,
        start,
        end,
        since,
        until,
        frontier,
        entries_file,
        count,
        cps,
        proofs,
        bounds,
    )


# --- scanning entries -------------------------------------------------------------------

# What _scan returns: the chunk base, line count, first and last timestamps, problems,
# the chunk's compact range (heights, hashes), snapshots at requested sizes and
# the chunk's last line (the range checks read the bundle's last entry).
_ScanResult = tuple[
    int | None,
    int,
    bytes | None,
    bytes | None,
    list[tuple[int, str]],
    list[int],
    list[bytes],
    list[tuple[int, list[int], list[bytes]]],
    bytes | None,
]


def _scan(data: bytes, base: int | None, points: tuple[int, ...]) -> _ScanResult:
    """Check and hash the lines of one chunk (every line ends in a newline).

    ``base`` is the position of the first line; when None, the first line's own
    ``seq`` is taken (the parent checks it). Returns the chunk's compact range
    and, for every size in ``points`` that ends inside the chunk, the range up to it.
    """
    lines = data.split(b"\n")
    lines.pop()  # the chunk ends with a newline
    problems: list[tuple[int, str]] = []
    if base is None:
        if not lines:
            return (None, 0, None, None, [], [], [], [], None)
        first = is_canonical_entry(lines[0])
        if isinstance(first, str) or first[0] < 0:
            return (None, 0, None, None, [], [], [], [], None)
        base = first[0]
    fast = _FAST.fullmatch
    sha = sha256
    heights: list[int] = []
    hashes: list[bytes] = []
    snapshots: list[tuple[int, list[int], list[bytes]]] = []
    todo = iter(sorted(p for p in points if base < p <= base + len(lines)))
    next_point = next(todo, -1)
    first_ts: bytes | None = None
    last_ts: bytes | None = None
    pos = base
    seq_errors = 0
    for line in lines:
        m = fast(line)
        seq: int | None
        ts: bytes | None
        if m is not None:
            seq_text, ts = m.group(1, 2)
            seq = int(seq_text)
            if not line.isascii():
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append((pos, "entry is not valid UTF-8"))
        else:
            checked = is_canonical_entry(line)
            if isinstance(checked, str):
                problems.append((pos, checked))
                seq, ts = None, None
            else:
                seq, ts = checked
        if seq is not None and seq != pos:
            seq_errors += 1
            if seq_errors <= 3:
                problems.append((pos, f"line holds seq {seq}: an entry is missing, moved or added"))
        if ts is not None:
            if last_ts is None:
                first_ts = ts
            elif ts < last_ts:
                problems.append((pos, "time goes backwards"))
            last_ts = ts
        node = sha(b"\x00" + line).digest()
        index, height = pos, 0
        while index & 1 and heights and heights[-1] == height:
            node = sha(b"\x01" + hashes.pop() + node).digest()
            heights.pop()
            index >>= 1
            height += 1
        heights.append(height)
        hashes.append(node)
        pos += 1
        if pos == next_point:
            snapshots.append((pos, list(heights), list(hashes)))
            next_point = next(todo, -1)
    if first_ts is None:
        first_ts = last_ts
    last_line = lines[-1] if lines else None
    return (base, len(lines), first_ts, last_ts, problems, heights, hashes, snapshots, last_line)


def _scan_file(
    path: str, offset: int, length: int, base: int | None, points: tuple[int, ...]
) -> _ScanResult:
    """:func:`_scan` over bytes ``[offset, offset + length)`` of a file (run in a worker)."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if not data.endswith(b"\n"):
        data += b"\n"  # the parent reports the missing newline
    return _scan(data, base, points)


def _file_chunks(path: Path, offset: int, length: int) -> Iterator[tuple[int, int]]:
    """(offset, length) slices of about _CHUNK bytes that end just after a newline."""
    end = offset + length
    pos = offset
    with path.open("rb") as f:
        while pos < end:
            cut = min(pos + _CHUNK, end)
            while cut < end:
                f.seek(cut - 1)
                probe = f.read(min(65536, end - cut + 1))
                nl = probe.find(b"\n")
                if nl >= 0:
                    cut += nl
                    break
                cut += len(probe) - 1
                if cut - pos > _MAX_LINE + _CHUNK:
                    break
            yield pos, cut - pos
            pos = cut


def _stream_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """Newline-terminated chunks of about _CHUNK bytes (the last may lack its newline)."""
    rest = b""
    while True:
        block = stream.read(_CHUNK)
        if not block:
            break
        buf = rest + block if rest else block
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            rest = buf
            if len(rest) > _MAX_LINE:
                yield rest
                rest = b""
            continue
        rest = buf[cut:]
        yield buf[:cut]
    if rest:
        yield rest


def _pool_context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    # fork is fastest (no re-import) but only safe while this process has one thread.
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class _Merger:
    """Folds chunk results, in order, into the running compact range and roots."""

    def __init__(
        self, start: int, frontier: IntervalRange, points: tuple[int, ...], problems: _Problems
    ) -> None:
        self.acc = frontier.copy()
        self.expected = start
        self.points = points
        self.problems = problems
        self.first_ts: bytes | None = None
        self.last_ts: bytes | None = None
        self.last_line: bytes | None = None
        self.roots: dict[int, bytes] = {}
        if start in points:
            self.roots[start] = self.acc.root()

    def merge(self, result: _ScanResult) -> None:
        _base, count, first_ts, chunk_last, found, heights, hashes, snaps, last_line = result
        for pos, what in found:
            self.problems.add(pos, what)
        if first_ts is not None and self.last_ts is not None and first_ts < self.last_ts:
            self.problems.add(self.expected, "time goes backwards")
        if self.first_ts is None:
            self.first_ts = first_ts
        if chunk_last is not None:
            self.last_ts = chunk_last
        if last_line is not None:
            self.last_line = last_line
        for p, sh, sx in snaps:
            r = self.acc.copy()
            for h, x in zip(sh, sx, strict=True):
                r.append_node(h, x)
            self.roots[p] = r.root()
        for h, x in zip(heights, hashes, strict=True):
            self.acc.append_node(h, x)
        self.expected += count


def _scan_all(
    source: _Source,
    member: str,
    start: int,
    frontier: IntervalRange,
    points: tuple[int, ...],
    workers: int | None,
    problems: _Problems,
) -> tuple[_Merger, int] | None:
    """Scan the entries member; return (what was merged, processes), None if missing."""
    merger = _Merger(start, frontier, points, problems)
    located = source.locate(member)
    if located is not None:
        path, offset, length = located
        size = length
        if length:
            with path.open("rb") as f:
                f.seek(offset + length - 1)
                if f.read(1) != b"\n":
                    problems.add(None, "the last entry line does not end in a newline")
    else:
        opened = source.open(member)
        if opened is None:
            return None
        stream, size = opened
        stream.close()
    nproc = workers if workers is not None else min(os.cpu_count() or 1, 4)
    parallel = nproc > 1 and size >= _PARALLEL_FROM

    if located is not None:
        path, offset, length = located
        name = str(path)

        def redo(task: tuple[int, int]) -> _ScanResult:
            return _scan_file(name, task[0], task[1], merger.expected, points)

        tasks: Iterator[tuple[int, int]] = _file_chunks(path, offset, length)
        if not parallel:
            for task in tasks:
                merger.merge(redo(task))
            return merger, 1
        with _pool_context().Pool(nproc) as pool:
            window: deque[tuple[tuple[int, int], Any]] = deque()
            first = True
            for task in tasks:
                base = start if first else None
                first = False
                window.append((task, pool.apply_async(_scan_file, (name, *task, base, points))))
                if len(window) >= 2 * nproc:
                    t, res = window.popleft()
                    _merge_checked(merger, res.get(), lambda t=t: redo(t))
            while window:
                t, res = window.popleft()
                _merge_checked(merger, res.get(), lambda t=t: redo(t))
        return merger, nproc

    opened = source.open(member)
    if opened is None:
        return None
    stream, _size = opened
    with stream:
        chunks = _stream_chunks(stream)
        if not parallel:
            for chunk in chunks:
                merger.merge(_scan(_terminated(chunk, merger, problems), merger.expected, points))
            return merger, 1
        with _pool_context().Pool(nproc) as pool:
            cwindow: deque[tuple[bytes, Any]] = deque()
            first = True
            for chunk in chunks:
                data = _terminated(chunk, merger, problems)
                base = start if first else None
                first = False
                cwindow.append((data, pool.apply_async(_scan, (data, base, points))))
                if len(cwindow) >= 2 * nproc:
                    c, res = cwindow.popleft()
                    _merge_checked(merger, res.get(), lambda c=c: _scan(c, merger.expected, points))
            while cwindow:
                c, res = cwindow.popleft()
                _merge_checked(merger, res.get(), lambda c=c: _scan(c, merger.expected, points))
    return merger, nproc


def _terminated(chunk: bytes, merger: _Merger, problems: _Problems) -> bytes:
    if chunk.endswith(b"\n"):
        return chunk
    problems.add(None, "the last entry line does not end in a newline")
    return chunk + b"\n"


def _merge_checked(merger: _Merger, result: _ScanResult, redo: Any) -> None:
    # A chunk whose first line claimed another position is redone at the real one.
    merger.merge(result if result[0] == merger.expected else redo())


# --- the bundle verifier ----------------------------------------------------------------


def _read_previous(previous: bytes | str | os.PathLike[str]) -> bytes:
    if isinstance(previous, bytes):
        return previous
    try:
        return Path(previous).read_bytes()[: _MAX_NOTE + 1]
    except OSError:
        raise InputError("the previous checkpoint file cannot be read") from None


def verify_bundle(
    path: str | os.PathLike[str],
    key: str,
    *,
    previous: bytes | str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> BundleReport:
    """Verify an exported bundle (directory or .zip) with the vault's verifier key line.

    ``previous`` is a signed checkpoint the auditor kept from before (its note
    text, or a file holding it): the bundle must extend it. ``workers`` caps the
    processes used to hash entries (default: the CPU count, at most 4). Raises
    InputError only for a malformed key or a path that is not a bundle; every
    problem with the bundle's content is reported, never raised.
    """
    started = time.perf_counter()
    name, public_key = _load_key(key)
    source = _Source(Path(path))
    problems = _Problems()
    try:
        return _verify(source, name, public_key, previous, workers, problems, started)
    finally:
        source.close()


def _verify(
    source: _Source,
    name: str,
    public_key: bytes,
    previous: bytes | str | os.PathLike[str] | None,
    workers: int | None,
    problems: _Problems,
    started: float,
) -> BundleReport:
    raw = source.read(MANIFEST, _MAX_MANIFEST)
    if raw is None:
        raise InputError("the bundle has no manifest.json")
    m = _parse_manifest(raw)
    if m.origin != name:
        problems.fatal("the bundle names another log than the verifier key")
    if m.count != m.end - m.start:
        problems.fatal("manifest entry count does not match its range")
    for member in (m.entries_file, *(f for _s, f in m.checkpoints)):
        _member_parts(member)
    if m.entries_file != ENTRIES_FILE:
        # Only the documented member is read: what auditors and tools open is
        # what gets verified.
        problems.fatal(f"manifest entries.file must be {ENTRIES_FILE!r}")

    signed: dict[int, bytes] = {}
    for size, member in m.checkpoints:
        if member != _checkpoint_member(size):
            problems.bound(
                min(size, m.end),
                f"checkpoint for size {size} must be stored as {_checkpoint_member(size)!r}",
            )
            continue
        note = source.read(member, _MAX_NOTE)
        if note is None:
            problems.bound(min(size, m.end), f"checkpoint file for size {size} is missing")
            continue
        try:
            csize, croot = _open_checkpoint(note, name, public_key)
        except (IntegrityError, InputError):
            problems.bound(min(size, m.end), f"checkpoint at size {size} does not verify")
            continue
        if csize != size:
            problems.bound(min(size, csize, m.end), "checkpoint size differs from the manifest")
        if signed.get(csize, croot) != croot:
            problems.fatal(f"two signed checkpoints disagree about size {csize}: forked history")
        signed[csize] = croot
    if not signed:
        problems.fatal("no signed checkpoint in the bundle verifies under the key")
        tree_size, tree_root = 0, b""
    else:
        tree_size = max(signed)
        tree_root = signed[tree_size]

    prev: tuple[int, bytes] | None = None
    if previous is not None:
        try:
            prev = _open_checkpoint(_read_previous(previous), name, public_key)
        except (IntegrityError, InputError):
            problems.fatal("the previous checkpoint does not verify under the key")

    if signed and m.end > tree_size:
        problems.add(tree_size, "entries after the newest signed checkpoint are not covered")

    points = {s for s in signed if m.start <= s <= m.end} | {m.end}
    if prev is not None and m.start <= prev[0] <= m.end:
        points.add(prev[0])
    frontier = IntervalRange.from_frontier(m.start, m.frontier)

    nproc = 1
    try:
        scanned = _scan_all(
            source, ENTRIES_FILE, m.start, frontier, tuple(sorted(points)), workers, problems
        )
    except InputError:
        raise
    except _READ_ERRORS:
        raise InputError("a bundle member cannot be read") from None
    merged: _Merger | None = None
    if scanned is None:
        problems.add(m.start, "the entries file is missing")
        lines, roots = 0, dict[int, bytes]()
    else:
        merged, nproc = scanned
        lines, roots = merged.expected - m.start, merged.roots
    if lines < m.count:
        problems.add(m.start + lines, "the bundle ends before its stated range does")
    elif lines > m.count:
        problems.add(m.end, "the entries file holds more lines than the manifest states")

    # Roots recomputed from the entries against the signed roots.
    last_good = m.start
    for p in sorted(roots):
        if p in signed:
            if roots[p] == signed[p]:
                last_good = p
            else:
                problems.bound(
                    last_good,
                    f"entries [{last_good}, {p}) do not hash to the signed root at size {p}",
                )

    def root_of(size: int) -> bytes | None:
        if size in signed:
            return signed[size]
        return roots.get(size)

    proofs_ok = 0
    used: set[tuple[int, int]] = set()

    def link(old: int, new: int, old_root: bytes | None, what: str, bad_seq: int) -> bool:
        nonlocal proofs_ok
        proof = m.proofs.get((old, new))
        new_root = root_of(new)
        used.add((old, new))
        if proof is None or old_root is None or new_root is None:
            problems.bound(bad_seq, f"no consistency proof from size {old} to {new} ({what})")
            return False
        if not verify_consistency(old, new, old_root, new_root, proof):
            problems.bound(bad_seq, f"consistency proof from size {old} to {new} fails ({what})")
            return False
        proofs_ok += 1
        return True

    sizes = sorted(signed)
    for a, b in itertools.pairwise(sizes):
        link(a, b, signed[a], "between signed checkpoints", min(a, m.end))
    if signed and m.end not in signed and m.end <= tree_size and m.end in roots:
        nxt = min(s for s in sizes if s > m.end)
        link(m.end, nxt, roots[m.end], "from the end of the entries", m.start)

    prev_size: int | None = None
    if prev is not None:
        psize, proot = prev
        prev_size = psize
        if signed and psize > tree_size:
            problems.add(
                tree_size,
                f"the newest signed checkpoint ({tree_size}) is older than your previous one "
                f"({psize}): the log was truncated or this export is stale",
            )
        elif psize in signed or psize in roots:
            have = root_of(psize)
            if have != proot:
                problems.bound(
                    m.start, f"the log at size {psize} differs from your previous checkpoint"
                )
        else:
            above = [(old, new) for (old, new) in m.proofs if old == psize and root_of(new)]
            if not above:
                problems.bound(
                    m.start,
                    f"the bundle holds no proof linking your previous checkpoint (size {psize}); "
                    "export again with it as --previous",
                )
            else:
                link(psize, above[0][1], proot, "from your previous checkpoint", m.start)

    # Any other proof the bundle carries must hold too.
    for (old, new), proof in m.proofs.items():
        if (old, new) in used:
            continue
        old_root, new_root = root_of(old), root_of(new)
        if old_root is None or new_root is None:
            continue
        if verify_consistency(old, new, old_root, new_root, proof):
            proofs_ok += 1
        else:
            problems.bound(min(old, m.end), f"consistency proof from size {old} to {new} fails")

    export_seq: int | None = None
    exported_at: str | None = None
    if signed and lines == m.count:
        # (An entries file that does not hold exactly the range is reported above.)
        export_seq, exported_at = _check_range(m, tree_size, tree_root, merged, problems)

    return BundleReport(
        ok=problems.count == 0,
        origin=m.origin,
        start=m.start,
        end=m.end,
        entries=lines,
        tree_size=tree_size,
        root=tree_root,
        checkpoints=len(signed),
        proofs=proofs_ok,
        previous_size=prev_size,
        first_bad_seq=problems.first_bad,
        unproven_from=problems.first_unproven,
        problems=tuple(problems.items),
        problem_count=problems.count,
        seconds=time.perf_counter() - started,
        workers=nproc,
        export_seq=export_seq,
        exported_at=exported_at,
    )


def _checkpoint_member(size: int) -> str:
    return f"{CHECKPOINT_DIR}/{size}.txt"


def _check_range(
    m: _Manifest,
    size: int,
    root: bytes,
    merged: _Merger | None,
    problems: _Problems,
) -> tuple[int | None, str | None]:
    """Bind the manifest's unsigned range to the signed log; return the export's (seq, time).

    The newest signed checkpoint of an export covers the export's own log entry
    as its last leaf, and that entry records the time range asked for
    (``x_since``/``x_until``). The range ``[start, end)`` must be exactly the
    entries with times in it: ``start`` is 0 or follows an entry before
    ``since``, ``end`` is the tree size or an entry at or after ``until``. The
    entries just outside the range come from ``bounds`` with inclusion proofs;
    those inside from the verified entries file (``merged``, when it holds
    exactly the range). So cutting entries off either end, or checkpoints off
    the top, fails here.
    """
    if m.end > size:
        return None, None  # already reported: entries after the newest signed checkpoint
    hint = " (version 1 bundles carry no bounds: export again)" if m.version == 1 else ""
    known: dict[int, dict[str, Any]] = {}
    for b in m.bounds:
        if b.entry is None:
            problems.add(b.seq, "a bounds entry is not valid UTF-8 text")
            continue
        checked = is_canonical_entry(b.entry)
        if isinstance(checked, str):
            problems.add(b.seq, f"bounds entry: {checked}")
            continue
        if checked[0] != b.seq:
            problems.add(b.seq, "a bounds entry holds another seq than stated")
            continue
        if not verify_inclusion(leaf_hash(b.entry), b.seq, size, b.proof, root):
            problems.add(b.seq, "a bounds entry is not included in the newest signed checkpoint")
            continue
        known[b.seq] = parse_canonical(b.entry)
    first_ts: str | None = None
    last_ts: str | None = None
    if merged is not None and m.end > m.start:
        first_ts = merged.first_ts.decode("ascii") if merged.first_ts is not None else None
        last_ts = merged.last_ts.decode("ascii") if merged.last_ts is not None else None
        if m.end == size and merged.last_line is not None:
            try:
                doc = parse_canonical(merged.last_line)
            except InputError:
                doc = {}
            if doc.get("seq") == size - 1:
                known.setdefault(size - 1, doc)

    def ts_of(seq: int) -> str | None:
        if seq == m.start and first_ts is not None:
            return first_ts
        if seq == m.end - 1 and last_ts is not None:
            return last_ts
        ts = known.get(seq, {}).get("ts")
        return ts if isinstance(ts, str) else None

    export = known.get(size - 1)
    since: object = m.since
    until: object = m.until
    if size == 0:
        problems.add(0, "the newest signed checkpoint is of the empty log: no export covers it")
    elif export is None:
        problems.add(
            min(m.end, size - 1),
            f"the bundle does not show its export entry (seq {size - 1}), the last one the "
            f"newest signed checkpoint covers{hint}",
        )
    elif (
        export.get("op") != "export"
        or export.get("outcome") != "ok"
        or export.get("x_format") != "bundle"
    ):
        problems.add(
            size - 1,
            "the newest signed checkpoint does not end with the export entry of a bundle: "
            "entries or checkpoints were cut off",
        )
        export = None
    else:
        # From here on the signed range counts, not the manifest's copy.
        since, until = export.get("x_since"), export.get("x_until")
        if (since, until) != (m.since, m.until):
            problems.fatal(
                "the manifest's since/until differ from those in the signed export entry"
            )
    if since is None:
        if m.start != 0:
            problems.add(0, f"the export began at seq 0 but the bundle at {m.start}: head cut off")
    elif isinstance(since, str):
        if m.start > 0:
            before = ts_of(m.start - 1)
            if before is None:
                problems.add(m.start - 1, f"no signed entry shows where the range starts{hint}")
            elif before >= since:
                problems.add(
                    m.start - 1,
                    "an entry before the bundle's first is in the exported "
                    "time range: head cut off",
                )
        if m.start < size:
            first = ts_of(m.start)
            if first is None:
                problems.add(m.start, f"no signed entry shows where the range starts{hint}")
            elif first < since:
                problems.add(m.start, "the bundle starts before the exported time range")
    if until is None:
        if m.end != size:
            problems.add(
                m.end, f"the export ran to seq {size} but the bundle ends at {m.end}: tail cut off"
            )
    elif isinstance(until, str):
        if m.end < size:
            after = ts_of(m.end)
            if after is None:
                problems.add(m.end, f"no signed entry shows where the range ends{hint}")
            elif after < until:
                problems.add(
                    m.end,
                    "an entry after the bundle's last is in the exported time range: tail cut off",
                )
        if m.start < m.end:
            last = ts_of(m.end - 1)
            if last is None:
                problems.add(m.end - 1, f"no signed entry shows where the range ends{hint}")
            elif last >= until:
                problems.add(m.end - 1, "the bundle ends after the exported time range")
    if export is None:
        return None, None
    ts = export.get("ts")
    return size - 1, ts if isinstance(ts, str) else None


# --- the subject extract verifier -------------------------------------------------------


def verify_subject_extract(path: str | os.PathLike[str], key: str) -> ExtractReport:
    """Verify a subject extract: checkpoint signature, canonical entries, inclusion proofs.

    Raises InputError only for a malformed key or a file that is not an extract.
    """
    started = time.perf_counter()
    name, public_key = _load_key(key)
    try:
        with Path(path).open("rb") as f:
            raw = f.read(_MAX_EXTRACT + 1)
    except OSError:
        raise InputError("the subject extract cannot be read") from None
    if len(raw) > _MAX_EXTRACT:
        raise InputError("the subject extract is larger than allowed")
    doc = _load_json(raw, "the subject extract")
    if not isinstance(doc, dict) or doc.get("format") != EXTRACT_FORMAT:
        raise InputError("the file is not a credit-vault subject extract")
    if doc.get("version") != EXTRACT_VERSION:
        raise InputError("unsupported subject extract version")
    problems = _Problems()
    origin = doc.get("origin")
    subject = doc.get("subject")
    note = doc.get("checkpoint")
    items = doc.get("entries")
    if not isinstance(origin, str) or not isinstance(subject, str):
        raise InputError("the subject extract needs origin and subject")
    if not isinstance(note, str) or not isinstance(items, list):
        raise InputError("the subject extract needs a checkpoint and entries")
    if origin != name:
        problems.fatal("the extract names another log than the verifier key")
    size, root = 0, b""
    try:
        size, root = _open_checkpoint(_utf8(note), name, public_key)
    except (IntegrityError, InputError):
        problems.fatal("the extract's checkpoint does not verify under the key")
    # The extract repeats the signed size and root in clear; a reader that shows
    # them must see the verified values.
    if root and (doc.get("tree_size") != size or doc.get("root") != root.hex()):
        problems.fatal("the extract's tree_size/root differ from its signed checkpoint")
    decoded: list[dict[str, Any]] = []
    last_seq = -1
    for item in items:
        text = item.get("entry") if isinstance(item, dict) else None
        proof_raw = item.get("proof") if isinstance(item, dict) else None
        if not isinstance(text, str) or not isinstance(proof_raw, list):
            problems.fatal("an extract item needs entry and proof")
            continue
        try:
            data = _utf8(text)
        except InputError:
            problems.add(None, "entry is not valid Unicode text")
            continue
        checked = is_canonical_entry(data)
        if isinstance(checked, str):
            problems.add(None, checked)
            continue
        seq = checked[0]
        try:
            proof = [_hex_hash(h) for h in proof_raw]
        except InputError:
            problems.add(seq, "inclusion proof holds a malformed hash")
            continue
        entry = parse_canonical(data)
        lh = leaf_hash(data)
        if item.get("seq") != seq:
            problems.add(seq, "the item's seq differs from its entry's")
        if item.get("leaf_hash") != lh.hex():
            problems.add(seq, "the item's leaf_hash differs from its entry's")
        if entry.get("subject") != subject:
            problems.add(seq, "entry is about another subject")
        if seq <= last_seq:
            problems.add(seq, "entries are not in sequence order")
        last_seq = max(last_seq, seq)
        if root and not verify_inclusion(lh, seq, size, proof, root):
            problems.add(seq, "inclusion proof does not verify against the signed checkpoint")
        decoded.append(entry)
    return ExtractReport(
        ok=problems.count == 0,
        origin=origin,
        subject=subject,
        tree_size=size,
        root=root,
        entries=len(decoded),
        first_bad_seq=problems.first_bad,
        problems=tuple(problems.items),
        problem_count=problems.count,
        seconds=time.perf_counter() - started,
        items=tuple(decoded),
    )
