"""SIEM feeds (CSV, OCSF, CEF), subject extracts and the checkpoint publisher."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from credit_vault.audit import (
    CSV_COLUMNS,
    BundleWriter,
    DirectoryPublisher,
    FeedWriter,
    MerkleTree,
    cef_line,
    csv_row,
    leaf_hash,
    ocsf_event,
    parse_canonical,
    subject_extract,
    verify_subject_extract,
)
from credit_vault.errors import AuditVerificationFailed, ConfigurationError, InputError
from tests.unit.test_audit_verify import ORIGIN, OTHER_SEED, entry, key, sign_checkpoint


def doc(seq: int = 3, **kw: Any) -> dict[str, object]:
    return parse_canonical(entry(seq, **kw))


def test_csv_row_has_every_column_and_the_leaf_hash() -> None:
    d = doc(records=("r_1", "r_2"))
    row = csv_row(d, "ab" * 32)
    assert len(row) == len(CSV_COLUMNS)
    by = dict(zip(CSV_COLUMNS, row, strict=True))
    assert by["seq"] == "3"
    assert by["records"] == "r_1;r_2"
    assert by["purpose"] == "licensing_review"
    assert by["leaf_hash"] == "ab" * 32


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_csv_cells_that_look_like_formulas_are_quoted(start: str) -> None:
    row = csv_row(doc(actor_id=f"{start}HYPERLINK(1)"), "00" * 32)
    assert row[CSV_COLUMNS.index("actor")] == f"'{start}HYPERLINK(1)"


def test_ocsf_event_maps_activity_status_and_unmapped_fields() -> None:
    d = doc(outcome="denied", reason="ticket_required", extra=(("object", "ob_1"),))
    e = ocsf_event(d, "cd" * 32, origin=ORIGIN, version="9.9")
    assert e["class_uid"] == 6005
    assert e["activity_id"] == 1
    assert e["type_uid"] == 600501
    assert e["status_id"] == 2
    assert e["status_detail"] == "ticket_required"
    assert e["metadata"]["uid"] == "cd" * 32
    assert e["metadata"]["sequence"] == 3
    assert e["time"] == 1748743203000
    un = e["unmapped"]
    assert un["purpose"] == "licensing_review"
    assert un["subject_pseudonym"] == f"{3:064x}"
    assert un["leaf_hash"] == "cd" * 32
    assert un["x_object"] == "ob_1"
    ingest = ocsf_event(doc(op="ingest"), "00" * 32, origin=ORIGIN, version="1")
    assert (ingest["activity_id"], ingest["activity_name"]) == (5, "Write")
    purge = ocsf_event(doc(op="purge"), "00" * 32, origin=ORIGIN, version="1")
    assert purge["activity_id"] == 7


def test_cef_line_escapes_separators() -> None:
    d = doc(actor_id="a=b\\c", reason="line\nbreak", op="query")
    line = cef_line(d, "ef" * 32, origin="log|x", version="1.0")
    assert line.startswith("CEF:0|credit_vault|credit_vault|1.0|query|query ok|3|")
    assert "suser=a\\=b\\\\c" in line
    assert "reason=line\\nbreak" in line
    assert "cs5Label=leafHash cs5=" + "ef" * 32 in line
    assert "deviceExternalId=log|x" in line  # pipes need escaping in the header only
    assert "\n" not in line
    assert "cs4Label" in line  # a ticket is present
    assert "cs4Label" not in cef_line(doc(ticket=""), "00" * 32, origin="o", version="1")


@pytest.mark.parametrize("fmt", ["csv", "ocsf", "cef"])
def test_feed_writer_writes_atomically(tmp_path: Path, fmt: str) -> None:
    dest = tmp_path / f"feed.{fmt}"
    w = FeedWriter(dest, fmt, origin=ORIGIN, version="1")
    for i in range(3):
        data = entry(i)
        w.write(parse_canonical(data), leaf_hash(data).hex())
    assert not dest.exists()
    w.finish()
    text = dest.read_text("utf-8")
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == list(CSV_COLUMNS)
        assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
        assert rows[2][CSV_COLUMNS.index("leaf_hash")] == leaf_hash(entry(1)).hex()
    elif fmt == "ocsf":
        events = [json.loads(x) for x in text.splitlines()]
        assert [e["metadata"]["sequence"] for e in events] == [0, 1, 2]
    else:
        assert len(text.splitlines()) == 3
    with pytest.raises(InputError):
        FeedWriter(dest, fmt, origin=ORIGIN, version="1")  # exists already
    aborted = FeedWriter(tmp_path / "x", fmt, origin=ORIGIN, version="1")
    aborted.abort()
    assert list(tmp_path.glob(".x*")) == []
    with pytest.raises(InputError):
        FeedWriter(tmp_path / "y", "xml", origin=ORIGIN, version="1")


def test_bundle_writer_refuses_existing_targets_and_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("x")
    with pytest.raises(InputError):
        BundleWriter(tmp_path / "full")
    with pytest.raises(InputError):
        BundleWriter(tmp_path / "no-such-dir" / "b")
    for name in ("b", "b.zip"):

        def fail_midway(name: str = name) -> None:
            with BundleWriter(tmp_path / name) as w:
                w.write_entries([entry(0)])
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_midway()
        assert not (tmp_path / name).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]
    (tmp_path / "empty").mkdir()
    with BundleWriter(tmp_path / "empty") as w:
        w.finish({"x": 1})
    assert (tmp_path / "empty" / "manifest.json").exists()


# --- subject extracts ------------------------------------------------------------------------


def extract_file(tmp_path: Path, *, tamper: str | None = None) -> Path:
    lines = [entry(i, subject=("ab" * 32 if i % 3 == 0 else "cd" * 32)) for i in range(20)]
    tree = MerkleTree([leaf_hash(x) for x in lines])
    mine = [i for i in range(20) if i % 3 == 0]
    note = sign_checkpoint(20, tree.root())
    items = [(i, lines[i], leaf_hash(lines[i]), tree.inclusion_proof(i)) for i in mine]
    d = subject_extract(
        origin=ORIGIN,
        subject="ab" * 32,
        note=note,
        tree_size=20,
        root=tree.root(),
        created="2025-06-01T02:00:00.000000Z",
        items=items,
    )
    entries_ = d["entries"]
    if tamper == "entry":
        entries_[1]["entry"] = entries_[1]["entry"].replace("officer", "offices")
    elif tamper == "proof":
        entries_[2]["proof"][0] = "00" * 32
    elif tamper == "other-subject":
        other = lines[1]
        entries_[0] = {
            "seq": 1,
            "entry": other.decode(),
            "leaf_hash": leaf_hash(other).hex(),
            "proof": [h.hex() for h in tree.inclusion_proof(1)],
        }
    elif tamper == "checkpoint":
        d["checkpoint"] = sign_checkpoint(20, tree.root(), OTHER_SEED).decode()
    path = tmp_path / "extract.json"
    path.write_text(json.dumps(d), "utf-8")
    return path


def test_subject_extract_verifies(tmp_path: Path) -> None:
    r = verify_subject_extract(extract_file(tmp_path), key())
    assert r.ok, r.problems
    assert r.entries == 7
    assert r.tree_size == 20
    assert [e["seq"] for e in r.items] == [0, 3, 6, 9, 12, 15, 18]
    assert "subject extract OK" in r.summary()
    assert r.to_dict()["ok"] is True


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [("entry", 3), ("proof", 6), ("other-subject", 1), ("checkpoint", 0)],
)
def test_tampered_subject_extract_fails(tmp_path: Path, tamper: str, first_bad: int) -> None:
    r = verify_subject_extract(extract_file(tmp_path, tamper=tamper), key())
    assert not r.ok
    assert r.first_bad_seq == first_bad


def test_subject_extract_input_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("[]")
    with pytest.raises(InputError):
        verify_subject_extract(p, key())
    p.write_text(json.dumps({"format": "credit-vault-subject-extract", "version": 2}))
    with pytest.raises(InputError):
        verify_subject_extract(p, key())
    with pytest.raises(InputError):
        verify_subject_extract(tmp_path / "missing.json", key())


# --- publisher -------------------------------------------------------------------------------


def test_directory_publisher(tmp_path: Path) -> None:
    pub = DirectoryPublisher(tmp_path / "out")
    note5 = sign_checkpoint(5, b"\x01" * 32)
    note9 = sign_checkpoint(9, b"\x02" * 32)
    pub.publish(9, b"\x02" * 32, note9)
    pub.publish(5, b"\x01" * 32, note5)
    pub.publish(5, b"\x01" * 32, note5)  # idempotent
    assert pub.path_for(5).read_bytes() == note5
    assert (tmp_path / "out" / "latest").read_text().strip() == pub.path_for(9).name
    with pytest.raises(AuditVerificationFailed):
        pub.publish(5, b"\x03" * 32, sign_checkpoint(5, b"\x03" * 32))
    assert pub.path_for(5).read_bytes() == note5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        pub.path_for(5).name,
        pub.path_for(9).name,
        "latest",
    ]
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError):
        DirectoryPublisher(tmp_path / "file")
    assert "DirectoryPublisher(" in repr(pub)


def test_audit_package_exports_are_sorted_present_and_documented() -> None:
    import inspect

    from credit_vault import audit

    names = list(audit.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        obj = getattr(audit, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, f"credit_vault.audit.{name} has no docstring"
    for name in (
        "verify_bundle",
        "verify_subject_extract",
        "CheckpointPublisher",
        "DirectoryPublisher",
    ):
        assert name in names
