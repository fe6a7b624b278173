"""vault.audit.verify() catches edits, deletions, reordering and insertions in the stored log."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import create_engine, delete, select, update
from sqlalchemy.engine import Connection

from credit_vault import SubjectRef, Vault
from credit_vault.audit._merkle import leaf_hash
from credit_vault.storage.tables import AuditEntry
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for

E = AuditEntry.__table__


def _fill(vault: Vault) -> int:
    for i in range(4):
        s = SubjectRef.person(citizen_id(i))
        vault.ingest(clerk_for("tax.major_violation"), record_for(vault, "tax.major_violation", s))
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
    report = vault.audit.verify()
    assert report.ok, report.problems
    return report.entries


def _edit_byte(conn: Connection, size: int) -> None:
    seq = size // 2
    data = bytearray(conn.execute(select(E.c.entry).where(E.c.seq == seq)).scalar_one())
    i = data.index(b'"actor":"') + 9
    data[i] ^= 0x01
    conn.execute(update(E).where(E.c.seq == seq).values(entry=bytes(data)))


def _edit_and_rehash(conn: Connection, size: int) -> None:
    # A smarter tamperer also fixes the stored leaf hash; the root still differs.
    seq = 3
    data = conn.execute(select(E.c.entry).where(E.c.seq == seq)).scalar_one()
    data = data.replace(b'"outcome":"ok"', b'"outcome":"no"')
    conn.execute(update(E).where(E.c.seq == seq).values(entry=data, leaf_hash=leaf_hash(data)))


def _delete_last(conn: Connection, size: int) -> None:
    conn.execute(delete(E).where(E.c.seq == size - 1))


def _delete_middle(conn: Connection, size: int) -> None:
    conn.execute(delete(E).where(E.c.seq == 2))


def _reorder(conn: Connection, size: int) -> None:
    rows = {r.seq: r for r in conn.execute(select(E).where(E.c.seq.in_([3, 4]))).all()}
    for a, b in ((3, 4), (4, 3)):
        conn.execute(
            update(E)
            .where(E.c.seq == a)
            .values(entry=rows[b].entry, leaf_hash=rows[b].leaf_hash, actor_id=rows[b].actor_id)
        )


def _insert(conn: Connection, size: int) -> None:
    row = conn.execute(select(E).where(E.c.seq == 1)).one()
    data = row.entry.replace(b'"seq":1,', f'"seq":{size},'.encode())
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


@pytest.mark.parametrize(
    "tamper",
    [_edit_byte, _edit_and_rehash, _delete_last, _delete_middle, _reorder, _insert],
    ids=["edit-byte", "edit-rehash", "delete-last", "delete-middle", "reorder", "insert"],
)
def test_verify_detects(
    vault: Vault, db_url: str, tamper: Callable[[Connection, int], None]
) -> None:
    size = _fill(vault)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        tamper(conn, size)
    engine.dispose()
    report = vault.audit.verify()
    assert not report.ok
    assert report.first_bad_seq is not None
    assert report.problems


def test_verify_checks_signed_checkpoints(vault: Vault, db_url: str) -> None:
    size = _fill(vault)
    vault.audit.checkpoint()
    assert vault.audit.verify().checkpoints_checked == 1
    # Truncate the log *and* rewrite the head consistently: only the checkpoint notices.
    from credit_vault.audit._merkle import CompactRange
    from credit_vault.storage.tables import AuditHead

    engine = create_engine(db_url)
    h = AuditHead.__table__
    with engine.begin() as conn:
        conn.execute(delete(E).where(E.c.seq == size - 1))
        hashes = list(conn.execute(select(E.c.leaf_hash).order_by(E.c.seq)).scalars())
        cr = CompactRange()
        cr.extend(hashes)
        conn.execute(update(h).values(size=cr.size, frontier=cr.to_bytes(), root=cr.root()))
    engine.dispose()
    report = vault.audit.verify()
    assert not report.ok
    assert any("checkpoint" in p for p in report.problems)
