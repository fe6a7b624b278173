"""Audit review fixes against a real vault (SQLite file and PostgreSQL).

``vault.audit.verify()`` trusts only what is signed and hashed: the size and root
inside each checkpoint's signed note (its columns must agree), the lookup columns
of every entry row, the head's frontier. Exports bind their range to the signed
export entry, so a cut-down bundle fails offline.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Connection

from credit_vault import SubjectRef, Vault
from credit_vault.audit import CompactRange, canonical_json, leaf_hash, verify_bundle
from credit_vault.storage.tables import AuditCheckpoint, AuditEntry, AuditHead
from credit_vault.testing import FrozenClock
from tests.helpers import AUDITOR, OFFICER, citizen_id, clerk_for, record_for
from tests.unit.test_audit_review_fixes import cut

E, H, C = AuditEntry.__table__, AuditHead.__table__, AuditCheckpoint.__table__
TAX = "tax.major_violation"


def _fill(vault: Vault, clock: FrozenClock, n: int = 4) -> None:
    for i in range(n):
        s = SubjectRef.person(citizen_id(i))
        vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
        clock.advance(timedelta(minutes=1))
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
        clock.advance(timedelta(minutes=1))


def _tamper(url: str, change: Any) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            change(conn)
    finally:
        engine.dispose()


def _first_query(conn: Connection) -> int:
    return int(conn.execute(select(E.c.seq).where(E.c.op == "query").order_by(E.c.seq)).scalar())


# --- finding 1: the signed note is what counts ---------------------------------------------------


def test_verify_compares_the_signed_root_not_the_columns(
    vault: Vault, db_url: str, clock: FrozenClock
) -> None:
    _fill(vault, clock)
    vault.audit.checkpoint()
    assert vault.audit.verify().ok
    seq = 0

    def rewrite(conn: Connection) -> None:
        # Edit an entry, rehash, and rewrite the head and every checkpoint's root
        # column consistently; the signed notes stay as they were.
        nonlocal seq
        seq = _first_query(conn)
        data = conn.execute(select(E.c.entry).where(E.c.seq == seq)).scalar_one()
        forged = data.replace(b'"outcome":"ok"', b'"outcome":"denied"')
        conn.execute(
            update(E).where(E.c.seq == seq).values(entry=forged, leaf_hash=leaf_hash(forged))
        )
        hashes = [bytes(h) for h in conn.execute(select(E.c.leaf_hash).order_by(E.c.seq)).scalars()]
        cr = CompactRange()
        cr.extend(hashes)
        conn.execute(update(H).values(size=cr.size, frontier=cr.to_bytes(), root=cr.root()))
        for size in list(conn.execute(select(C.c.size)).scalars()):
            part = CompactRange()
            part.extend(hashes[:size])
            conn.execute(update(C).where(C.c.size == size).values(root=part.root()))

    _tamper(db_url, rewrite)
    report = vault.audit.verify()
    assert not report.ok
    assert any("does not match the recomputed root" in p for p in report.problems)


def test_verify_fails_when_checkpoint_columns_differ_from_the_note(
    vault: Vault, db_url: str, clock: FrozenClock
) -> None:
    _fill(vault, clock)
    vault.audit.checkpoint()
    _tamper(db_url, lambda conn: conn.execute(update(C).values(root=b"\x00" * 32)))
    report = vault.audit.verify()
    assert not report.ok
    assert any("columns differ from the signed note" in p for p in report.problems)


# --- finding 3: lookup columns must say what the hashed entry says ------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("subject_pseudonym", None),
        ("actor_id", "someone-else"),
        ("op", "status"),
        ("ts", "shift"),
    ],
)
def test_verify_compares_lookup_columns(
    vault: Vault, db_url: str, clock: FrozenClock, column: str, value: object
) -> None:
    _fill(vault, clock)
    seq = 0

    def change(conn: Connection) -> None:
        nonlocal seq
        seq = _first_query(conn)
        new = value
        if value == "shift":
            new = conn.execute(select(E.c.ts).where(E.c.seq == seq)).scalar_one() + timedelta(
                seconds=1
            )
        conn.execute(update(E).where(E.c.seq == seq).values({column: new}))

    _tamper(db_url, change)
    report = vault.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == seq
    assert any(f"seq {seq}:" in p and column in p for p in report.problems), report.problems


# --- finding 6: the head's frontier ---------------------------------------------------------------


def test_verify_compares_the_head_frontier(vault: Vault, db_url: str, clock: FrozenClock) -> None:
    _fill(vault, clock, 1)
    size = vault.audit.head().size
    _tamper(db_url, lambda c: c.execute(update(H).values(frontier=b"\x42" * 32 * size.bit_count())))
    report = vault.audit.verify()
    assert not report.ok
    assert any("frontier" in p for p in report.problems)


# --- finding 2: real exports, cut down ------------------------------------------------------------


def _lines(bundle: Path) -> list[bytes]:
    return (bundle / "entries.jsonl").read_bytes().split(b"\n")[:-1]


@pytest.mark.parametrize("suffix", ["", ".zip"])
def test_real_exports_verify(vault: Vault, clock: FrozenClock, tmp_path: Path, suffix: str) -> None:
    _fill(vault, clock)
    key = vault.audit.verifier_key()
    whole = vault.audit.export(AUDITOR, tmp_path / f"whole{suffix}")
    r = verify_bundle(whole.path, key, workers=1)
    assert r.ok, r.problems
    assert r.export_seq == whole.export_seq
    since = clock.now() - timedelta(minutes=7)
    until = clock.now() - timedelta(minutes=3)
    ranged = vault.audit.export(AUDITOR, tmp_path / f"ranged{suffix}", since=since, until=until)
    assert 0 < ranged.start < ranged.end < ranged.tree_size
    r = verify_bundle(ranged.path, key, workers=1)
    assert r.ok, r.problems
    assert (r.start, r.end) == (ranged.start, ranged.end)


def test_cut_real_whole_log_export_fails(vault: Vault, clock: FrozenClock, tmp_path: Path) -> None:
    _fill(vault, clock)
    vault.audit.checkpoint()
    res = vault.audit.export(AUDITOR, tmp_path / "whole")
    key = vault.audit.verifier_key()
    lines = _lines(res.path)
    n = len(lines)
    for name, start, end in (("tail", 0, n - 2), ("head", 3, n), ("both", 2, n - 1)):
        b = tmp_path / name
        shutil.copytree(res.path, b)
        cut(b, lines, start, end)
        r = verify_bundle(b, key, workers=1)
        assert not r.ok, name
        assert r.first_bad_seq == (0 if start else end), (name, r.problems)


def test_cut_real_ranged_export_fails(vault: Vault, clock: FrozenClock, tmp_path: Path) -> None:
    _fill(vault, clock, 6)
    since = clock.now() - timedelta(minutes=9)
    until = clock.now() - timedelta(minutes=3)
    ranged = vault.audit.export(AUDITOR, tmp_path / "ranged", since=since, until=until)
    key = vault.audit.verifier_key()
    whole = vault.audit.export(AUDITOR, tmp_path / "whole")
    lines = _lines(whole.path)[: ranged.tree_size]
    for name, start, end in (
        ("tail", ranged.start, ranged.end - 1),
        ("head", ranged.start + 1, ranged.end),
    ):
        b = tmp_path / name
        shutil.copytree(ranged.path, b)
        cut(b, lines, start, end)
        r = verify_bundle(b, key, workers=1)
        assert not r.ok, name
        expected = end if name == "tail" else start - 1
        assert r.first_bad_seq == expected, (name, r.problems)


# --- finding 7: the CSV feed re-links every row ---------------------------------------------------


def test_every_csv_row_links_to_its_leaf_hash(
    vault: Vault, clock: FrozenClock, tmp_path: Path
) -> None:
    _fill(vault, clock)
    vault.audit.export(AUDITOR, tmp_path / "b")  # an export entry with x_format
    vault.audit.export(AUDITOR, tmp_path / "feed.csv", format="csv")
    with (tmp_path / "feed.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert any(json.loads(r["extra"]) for r in rows)
    for row in rows:
        r = {k: v[1:] if v.startswith("'") else v for k, v in row.items()}
        doc: dict[str, object] = {
            "v": 1, "seq": int(r["seq"]), "ts": r["ts"], "op": r["op"], "outcome": r["outcome"],
            "actor": r["actor"], "role": r["role"], "org": r["org"], "purpose": r["purpose"],
            "basis": r["basis"], "ticket": r["ticket"], "subject": r["subject"],
            "records": r["records"].split(";") if r["records"] else [],
            "categories": r["categories"].split(";") if r["categories"] else [],
            "fields": r["fields"].split(";") if r["fields"] else [],
            "reason": r["reason"], "request": r["request"], **json.loads(r["extra"]),
        }  # fmt: skip
        assert leaf_hash(canonical_json(doc)).hex() == r["leaf_hash"], r["seq"]
