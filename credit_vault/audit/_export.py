"""Export formats of the access log: bundles, subject extracts and SIEM feeds.

Writers only; they know nothing of the database. The vault streams entries into
them (see ``credit_vault/_audit_service.py``); docs/audit.md specifies each format.

* bundle: a directory or ``.zip`` with ``manifest.json``, ``entries.jsonl`` (the
  stored canonical bytes, one entry per line, in sequence order) and
  ``checkpoints/<size>.txt`` (signed notes); consistency proofs are in the manifest.
* subject extract: one JSON document, each entry with its inclusion proof.
* csv, ocsf (OCSF Datastore Activity, class 6005, JSON lines), cef: feeds for
  SIEM tools; each row carries the entry's leaf hash.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from credit_vault.audit._canonical import canonical_json
from credit_vault.audit._entry import OPERATIONS
from credit_vault.audit._verify import (
    CHECKPOINT_DIR,
    ENTRIES_FILE,
    EXTRACT_FORMAT,
    EXTRACT_VERSION,
    MANIFEST,
)
from credit_vault.errors import InputError

__all__ = [
    "CSV_COLUMNS",
    "ENTRIES_FILE",
    "EXPORT_FORMATS",
    "BundleWriter",
    "FeedWriter",
    "cef_line",
    "check_destination",
    "csv_row",
    "ocsf_event",
    "subject_extract",
]

EXPORT_FORMATS: Final = ("bundle", "subject", "csv", "ocsf", "cef")
"""Formats :meth:`VaultAudit.export` writes."""

CSV_COLUMNS: Final = (
    "seq",
    "ts",
    "op",
    "outcome",
    "reason",
    "actor",
    "role",
    "org",
    "purpose",
    "basis",
    "ticket",
    "subject",
    "records",
    "categories",
    "fields",
    "request",
    "leaf_hash",
    "extra",
)
"""Columns of the CSV feed; lists are joined with ``;``; ``extra`` holds the entry's
``x_*`` members as one canonical JSON object (``{}`` when none), so that every row
can be rebuilt into its entry and linked to its leaf hash."""

_ACTIVITY_NAMES = {1: "Read", 2: "Update", 5: "Write", 7: "Delete", 99: "Other"}
# A leading ' is quoted too, so that a reader strips exactly one ' from a cell
# that starts with it and gets the value back.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def check_destination(dest: str | os.PathLike[str], fmt: str) -> None:
    """Refuse, before anything is logged or written, a destination the export cannot use."""
    path = Path(dest)
    _prepare_target(path)
    if fmt != "bundle" and path.exists():
        raise InputError("this export format is written to a file, not a directory")


def _prepare_target(dest: Path) -> None:
    if dest.exists():
        if dest.is_dir() and not any(dest.iterdir()):
            return
        raise InputError("the export destination already exists")
    if not dest.parent.is_dir():
        raise InputError("the export destination's directory does not exist")


class BundleWriter:
    """Streams a bundle into a directory, or a ``.zip`` when ``dest`` ends in ``.zip``.

    Everything is written under a temporary name and moved into place by
    :meth:`finish`; :meth:`abort` (or leaving the ``with`` block on an error)
    removes it. Entries are stored uncompressed in a zip, so a verifier can read
    them at disk speed.
    """

    def __init__(self, dest: str | os.PathLike[str]) -> None:
        self.dest = Path(dest)
        _prepare_target(self.dest)
        self.is_zip = self.dest.suffix.lower() == ".zip"
        self._checkpoints: list[tuple[int, bytes]] = []
        self._count = 0
        self._done = False
        parent = self.dest.parent
        self._zip: zipfile.ZipFile | None = None
        self._entries: IO[bytes]
        if self.is_zip:
            fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self.dest.name}.", suffix=".part")
            os.close(fd)
            self._tmp = Path(tmp)
            self._zip = zipfile.ZipFile(self._tmp, "w", allowZip64=True)
            info = zipfile.ZipInfo(ENTRIES_FILE, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o600 << 16
            self._entries = self._zip.open(info, "w", force_zip64=True)
        else:
            self._tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.dest.name}.part-"))
            (self._tmp / CHECKPOINT_DIR).mkdir(mode=0o700)
            self._entries = io.BufferedWriter(
                io.FileIO(os.open(self._tmp / ENTRIES_FILE, os.O_WRONLY | os.O_CREAT, 0o600), "w"),
                buffer_size=1 << 20,
            )

    @property
    def count(self) -> int:
        """Entries written so far."""
        return self._count

    def write_entries(self, lines: Sequence[bytes]) -> None:
        """Append canonical entry bytes, one line each, in sequence order."""
        if lines:
            self._entries.write(b"\n".join(lines) + b"\n")
            self._count += len(lines)

    def add_checkpoint(self, size: int, note: bytes) -> str:
        """Add a signed checkpoint; return its member name."""
        self._checkpoints.append((size, note))
        return self.checkpoint_name(size)

    @staticmethod
    def checkpoint_name(size: int) -> str:
        """The member name of the checkpoint of ``size``."""
        return f"{CHECKPOINT_DIR}/{size}.txt"

    def finish(self, manifest: Mapping[str, Any]) -> Path:
        """Write the checkpoints and the manifest and move the bundle into place."""
        self._entries.close()
        body = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
        if self._zip is not None:
            for size, note in self._checkpoints:
                self._zip.writestr(self._info(self.checkpoint_name(size)), note)
            self._zip.writestr(self._info(MANIFEST), body)
            self._zip.close()
            os.chmod(self._tmp, 0o600)
            os.replace(self._tmp, self.dest)
        else:
            for size, note in self._checkpoints:
                self._write_file(self._tmp / CHECKPOINT_DIR / f"{size}.txt", note)
            self._write_file(self._tmp / MANIFEST, body)
            if self.dest.exists():
                self.dest.rmdir()  # it was checked to be empty
            os.rename(self._tmp, self.dest)
        self._done = True
        return self.dest

    @staticmethod
    def _info(name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o600 << 16
        return info

    @staticmethod
    def _write_file(path: Path, data: bytes) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)

    def abort(self) -> None:
        """Remove everything written (idempotent)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError, ValueError):
            self._entries.close()
        if self._zip is not None:
            with contextlib.suppress(OSError, ValueError):
                self._zip.close()
            self._tmp.unlink(missing_ok=True)
        else:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, exc_type: object, *_rest: object) -> None:
        if exc_type is not None:
            self.abort()


# --- subject extract -------------------------------------------------------------------


def subject_extract(
    *,
    origin: str,
    subject: str,
    note: bytes,
    tree_size: int,
    root: bytes,
    created: str,
    items: Iterable[tuple[int, bytes, bytes, Sequence[bytes]]],
) -> dict[str, Any]:
    """The subject extract document: ``items`` are (seq, entry bytes, leaf hash, proof)."""
    return {
        "format": EXTRACT_FORMAT,
        "version": EXTRACT_VERSION,
        "origin": origin,
        "subject": subject,
        "created": created,
        "checkpoint": note.decode("utf-8"),
        "tree_size": tree_size,
        "root": root.hex(),
        "entries": [
            {
                "seq": seq,
                "entry": data.decode("utf-8"),
                "leaf_hash": lh.hex(),
                "proof": [p.hex() for p in proof],
            }
            for seq, data, lh, proof in items
        ],
    }


# --- SIEM feeds ------------------------------------------------------------------------


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key, "")
    return value if isinstance(value, str) else str(value)


def _list(doc: Mapping[str, Any], key: str) -> list[str]:
    value = doc.get(key, [])
    return [str(v) for v in value] if isinstance(value, list) else []


def _safe_cell(value: str) -> str:
    # Spreadsheets run cells that start like a formula; quote them (documented).
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(doc: Mapping[str, Any], leaf_hex: str) -> list[str]:
    """One CSV row (see :data:`CSV_COLUMNS`)."""
    row = [
        str(doc.get("seq", "")),
        _text(doc, "ts"),
        _text(doc, "op"),
        _text(doc, "outcome"),
        _text(doc, "reason"),
        _text(doc, "actor"),
        _text(doc, "role"),
        _text(doc, "org"),
        _text(doc, "purpose"),
        _text(doc, "basis"),
        _text(doc, "ticket"),
        _text(doc, "subject"),
        ";".join(_list(doc, "records")),
        ";".join(_list(doc, "categories")),
        ";".join(_list(doc, "fields")),
        _text(doc, "request"),
        leaf_hex,
        canonical_json({k: v for k, v in doc.items() if k.startswith("x_")}).decode("utf-8"),
    ]
    return [_safe_cell(c) for c in row]


def _epoch_ms(ts: str) -> int | None:
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def ocsf_event(
    doc: Mapping[str, Any], leaf_hex: str, *, origin: str, version: str
) -> dict[str, Any]:
    """One OCSF Datastore Activity (class 6005) event for the entry."""
    op = _text(doc, "op")
    activity = OPERATIONS.get(op, 99)
    outcome = _text(doc, "outcome")
    ok = outcome == "ok"
    unmapped: dict[str, Any] = {
        "seq": doc.get("seq"),
        "operation": op,
        "role": _text(doc, "role"),
        "purpose": _text(doc, "purpose"),
        "legal_basis": _text(doc, "basis"),
        "ticket": _text(doc, "ticket"),
        "subject_pseudonym": _text(doc, "subject"),
        "records": _list(doc, "records"),
        "categories": _list(doc, "categories"),
        "fields": _list(doc, "fields"),
        "leaf_hash": leaf_hex,
    }
    unmapped.update({k: v for k, v in doc.items() if k.startswith("x_")})
    user: dict[str, Any] = {"uid": _text(doc, "actor"), "name": _text(doc, "actor")}
    if _text(doc, "org"):
        user["org"] = {"name": _text(doc, "org")}
    if _text(doc, "role"):
        user["groups"] = [{"name": _text(doc, "role")}]
    event: dict[str, Any] = {
        "class_uid": 6005,
        "class_name": "Datastore Activity",
        "category_uid": 6,
        "category_name": "Application Activity",
        "activity_id": activity,
        "activity_name": _ACTIVITY_NAMES.get(activity, "Other"),
        "type_uid": 600500 + activity,
        "severity_id": 1 if ok else (3 if outcome == "denied" else 4),
        "status_id": 1 if ok else 2,
        "status": "Success" if ok else "Failure",
        "status_code": outcome,
        "time_dt": _text(doc, "ts"),
        "message": f"{op} {outcome}",
        "actor": {"user": user},
        "database": {"name": origin, "type_id": 99, "type": "Other"},
        "metadata": {
            "version": "1.1.0",
            "product": {"name": "credit_vault", "vendor_name": "credit_vault", "version": version},
            "log_name": origin,
            "sequence": doc.get("seq"),
            "uid": leaf_hex,
        },
        "unmapped": unmapped,
    }
    ms = _epoch_ms(_text(doc, "ts"))
    if ms is not None:
        event["time"] = ms
    if _text(doc, "reason"):
        event["status_detail"] = _text(doc, "reason")
    if _text(doc, "request"):
        event["metadata"]["correlation_uid"] = _text(doc, "request")
    return event


def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cef_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\n", "\\n").replace("\r", "\\r")


def cef_line(doc: Mapping[str, Any], leaf_hex: str, *, origin: str, version: str) -> str:
    """One ArcSight CEF line for the entry (no trailing newline)."""
    op = _text(doc, "op")
    outcome = _text(doc, "outcome")
    severity = 3 if outcome == "ok" else (6 if outcome == "denied" else 8)
    ext: list[tuple[str, str]] = [
        ("rt", str(_epoch_ms(_text(doc, "ts")) or "")),
        ("externalId", str(doc.get("seq", ""))),
        ("act", op),
        ("outcome", outcome),
        ("reason", _text(doc, "reason")),
        ("suser", _text(doc, "actor")),
        ("spriv", _text(doc, "role")),
        ("deviceExternalId", origin),
        ("requestContext", _text(doc, "request")),
    ]
    custom = (
        ("cs1", "purpose", _text(doc, "purpose")),
        ("cs2", "legalBasis", _text(doc, "basis")),
        ("cs3", "subjectPseudonym", _text(doc, "subject")),
        ("cs4", "ticket", _text(doc, "ticket")),
        ("cs5", "leafHash", leaf_hex),
        ("cs6", "organisation", _text(doc, "org")),
        ("flexString1", "records", ",".join(_list(doc, "records"))),
        ("flexString2", "fields", ",".join(_list(doc, "fields"))),
    )
    for key, label, value in custom:
        if value:
            ext += [(f"{key}Label", label), (key, value)]
    header = "|".join(
        _cef_header(x)
        for x in ("credit_vault", "credit_vault", version, op, f"{op} {outcome}", str(severity))
    )
    return f"CEF:0|{header}|" + " ".join(f"{k}={_cef_value(v)}" for k, v in ext if v)


class FeedWriter:
    """Writes a csv, ocsf or cef feed file (atomically: temporary name, then rename)."""

    def __init__(
        self, dest: str | os.PathLike[str], fmt: str, *, origin: str, version: str
    ) -> None:
        if fmt not in ("csv", "ocsf", "cef"):
            raise InputError("feed format must be csv, ocsf or cef")
        self.dest = Path(dest)
        _prepare_target(self.dest)
        if self.dest.is_dir():
            raise InputError("a feed is written to a file, not a directory")
        self.fmt = fmt
        self.origin = origin
        self.version = version
        self.count = 0
        fd, tmp = tempfile.mkstemp(
            dir=self.dest.parent, prefix=f".{self.dest.name}.", suffix=".part"
        )
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(CSV_COLUMNS)

    def write(self, doc: Mapping[str, Any], leaf_hex: str) -> None:
        """One entry."""
        if self._csv is not None:
            self._csv.writerow(csv_row(doc, leaf_hex))
        elif self.fmt == "ocsf":
            event = ocsf_event(doc, leaf_hex, origin=self.origin, version=self.version)
            self._file.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
        else:
            self._file.write(cef_line(doc, leaf_hex, origin=self.origin, version=self.version))
            self._file.write("\n")
        self.count += 1

    def finish(self) -> Path:
        """Close and move the file into place."""
        self._file.close()
        os.replace(self._tmp, self.dest)
        return self.dest

    def abort(self) -> None:
        """Remove the partial file."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)
