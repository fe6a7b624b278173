"""Tampering with the stored log (a real SQLite file, and PostgreSQL) is caught twice:
by ``vault.audit.verify()`` and, on an export, by the offline verifier -- truncation
through the auditor's previous checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, create_engine, delete, select, update
from sqlalchemy.engine import Connection

from credit_vault import SubjectRef, Vault
from credit_vault.audit import CompactRange, leaf_hash, verify_bundle
from credit_vault.errors import AuditWriteFailed
from credit_vault.storage.tables import AuditCheckpoint, AuditEntry, AuditHead
from tests.helpers import AUDITOR, OFFICER, citizen_id, clerk_for, record_for

E = cast("Table", AuditEntry.__table__)
H = cast("Table", AuditHead.__table__)
TAX = "tax.major_violation"


def fill(vault: Vault) -> int:
    for i in range(4):
        s = SubjectRef.person(citizen_id(i))
        vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
    report = vault.audit.verify()
    assert report.ok, report.problems
    return report.entries


def rewrite_head(conn: Connection) -> None:
    """What a careful tamperer does next: make the head agree with the rows."""
    hashes = list(conn.execute(select(E.c.leaf_hash).order_by(E.c.seq)).scalars())
    cr = CompactRange()
    cr.extend(bytes(h) for h in hashes)
    conn.execute(update(H).values(size=cr.size, frontier=cr.to_bytes(), root=cr.root()))


def edit_byte(conn: Connection, size: int) -> int:
    seq = size // 2
    data = bytearray(conn.execute(select(E.c.entry).where(E.c.seq == seq)).scalar_one())
    i = data.index(b'"actor":"') + 9
    data[i] ^= 0x01
    conn.execute(update(E).where(E.c.seq == seq).values(entry=bytes(data)))
    return seq


def edit_and_rehash(conn: Connection, size: int) -> int:
    seq = 3
    data = conn.execute(select(E.c.entry).where(E.c.seq == seq)).scalar_one()
    data = data.replace(b'"outcome":"ok"', b'"outcome":"no"')
    conn.execute(update(E).where(E.c.seq == seq).values(entry=data, leaf_hash=leaf_hash(data)))
    rewrite_head(conn)
    return seq


def delete_last(conn: Connection, size: int) -> int:
    conn.execute(delete(E).where(E.c.seq == size - 1))
    return size - 1


def reorder(conn: Connection, size: int) -> int:
    rows = {r.seq: r for r in conn.execute(select(E).where(E.c.seq.in_([3, 4]))).all()}
    for a, b in ((3, 4), (4, 3)):
        conn.execute(
            update(E)
            .where(E.c.seq == a)
            .values(entry=rows[b].entry, leaf_hash=rows[b].leaf_hash, actor_id=rows[b].actor_id)
        )
    return 3


def insert_renumbered(conn: Connection, size: int) -> int:
    """Slip a forged entry in at position 5, renumber everything after it, fix the head."""
    at = 5
    rows = conn.execute(select(E).where(E.c.seq >= at).order_by(E.c.seq.desc())).all()
    for r in rows:
        old = f'"seq":{r.seq},'.encode()
        new = f'"seq":{r.seq + 1},'.encode()
        data = bytes(r.entry).replace(old, new)
        conn.execute(
            update(E)
            .where(E.c.seq == r.seq)
            .values(seq=r.seq + 1, entry=data, leaf_hash=leaf_hash(data))
        )
    template = rows[-1]
    forged = bytes(template.entry).replace(b'"actor":"', b'"actor":"x', 1)
    conn.execute(
        E.insert().values(
            seq=at,
            ts=template.ts,
            actor_id=template.actor_id,
            op=template.op,
            subject_pseudonym=template.subject_pseudonym,
            leaf_hash=leaf_hash(forged),
            entry=forged,
        )
    )
    rewrite_head(conn)
    return at


TAMPERS: list[Callable[[Connection, int], int]] = [
    edit_byte,
    edit_and_rehash,
    delete_last,
    reorder,
    insert_renumbered,
]


@pytest.mark.parametrize(
    "tamper", TAMPERS, ids=["edit-byte", "edit-rehash", "delete-last", "reorder", "insert"]
)
def test_tampered_database_fails_verify_and_the_offline_verifier(
    vault: Vault, db_url: str, tmp_path: Path, tamper: Callable[[Connection, int], int]
) -> None:
    size = fill(vault)
    kept = vault.audit.checkpoint()  # the auditor's copy, also stored in the vault
    engine = create_engine(db_url)
    with engine.begin() as conn:
        where = tamper(conn, size)
    engine.dispose()
    assert not vault.audit.verify().ok
    key = vault.audit.verifier_key()
    bundle = vault.audit.export(AUDITOR, tmp_path / "bundle.zip")
    alone = verify_bundle(bundle.path, key)
    with_kept = verify_bundle(bundle.path, key, previous=kept)
    for report in (alone, with_kept):
        assert not report.ok, tamper.__name__
        assert report.first_bad_seq is not None
        assert report.first_bad_seq <= where
    # Entries the tamper left alone before the first stored checkpoint stay proven.
    assert (alone.unproven_from or 0) <= where


def test_naive_insertion_at_the_end_blocks_every_write(
    vault: Vault, db_url: str, tmp_path: Path
) -> None:
    size = fill(vault)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        row = conn.execute(select(E).where(E.c.seq == 1)).one()
        data = bytes(row.entry).replace(b'"seq":1,', f'"seq":{size},'.encode())
        conn.execute(
            E.insert().values(
                seq=size,
                ts=row.ts,
                actor_id=row.actor_id,
                op=row.op,
                subject_pseudonym=row.subject_pseudonym,
                leaf_hash=leaf_hash(data),
                entry=data,
            )
        )
    engine.dispose()
    assert not vault.audit.verify().ok
    # The export must log itself at the head's position, which the forged row holds:
    # nothing is exported without its log entry.
    with pytest.raises(AuditWriteFailed):
        vault.audit.export(AUDITOR, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_truncation_with_a_consistent_head_is_caught_through_the_previous_checkpoint(
    vault: Vault, db_url: str, tmp_path: Path
) -> None:
    size = fill(vault)
    kept = vault.audit.checkpoint()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(delete(E).where(E.c.seq >= size - 3))
        conn.execute(delete(AuditCheckpoint))  # and the stored checkpoints with it
        rewrite_head(conn)
    engine.dispose()
    key = vault.audit.verifier_key()
    bundle = vault.audit.export(AUDITOR, tmp_path / "bundle")
    # Re-signed by the vault's own key, the shortened log looks fine on its own...
    assert verify_bundle(bundle.path, key).ok
    # ...but not against the checkpoint the auditor kept.
    report = verify_bundle(bundle.path, key, previous=kept)
    assert not report.ok
    assert report.first_bad_seq == bundle.tree_size
    assert any("truncated" in p for p in report.problems)
