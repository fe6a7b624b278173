"""Crypto-shredding on SQLite: after a purge or an erasure, no byte of the key or ciphertext remains.

The search covers the database file and its WAL. Plaintext never reaches the disk
(the facts are encrypted before storage), so the material that makes a record
readable is its wrapped data key and its ciphertexts: both must be gone after a
sweep. The test first shows that the search finds them while the record lives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.engine import Store
from credit_vault.storage.tables import Record, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

_R = cast("Table", Record.__table__)
_S = cast("Table", Subject.__table__)
ADMIN = Actor(id="adm-1", role="admin")
TRAFFIC = "penalty.traffic"
HONOR = "honor.commendation"
MARKER = "SHRED-ME-7f3a"


@pytest.fixture
def sqlite_vault(tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock) -> Any:
    path = tmp_path / "vault.db"
    v = Vault.open(f"sqlite:///{path}", keys=keys, clock=clock)
    register_all_sources(v)
    try:
        yield v, path
    finally:
        v.close()


def disk_bytes(path: Path) -> bytes:
    """The database file and its WAL, as they are on disk now."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _ingest_marked(v: Vault) -> tuple[str, str]:
    """A record past retention with long facts (overflow pages) and a current one."""
    s = SubjectRef.person(citizen_id(77), name="王五")
    rec = record_for(v, TRAFFIC, s, decided_on=date(2020, 3, 1), occurred_on=date(2020, 1, 1))
    facts = dict(rec.facts)
    facts["detail"] = (MARKER + " ") * 500  # ~7 KB: spills to overflow pages
    old = v.ingest(clerk_for(TRAFFIC), rec.model_copy(update={"facts": facts}))
    keep = v.ingest(clerk_for(TRAFFIC), record_for(v, TRAFFIC, s))
    return old, keep


def _secrets(v: Vault, record_id: str) -> tuple[bytes, list[bytes]]:
    with v._tx() as conn:
        row = conn.execute(select(_R.c.wrapped_key, _R.c.fields).where(_R.c.id == record_id)).one()
    fields = bytes(row.fields)
    # Slices of the ciphertext blob, from the start, the middle and the end.
    n = len(fields)
    return bytes(row.wrapped_key), [fields[i : i + 48] for i in (0, n // 2, n - 48)]


def test_purge_leaves_no_key_or_ciphertext_in_the_file_or_wal(sqlite_vault: Any) -> None:
    v, path = sqlite_vault
    old, keep = _ingest_marked(v)
    wrapped, pieces = _secrets(v, old)
    kept_key, _ = _secrets(v, keep)
    blob = disk_bytes(path)
    assert MARKER.encode() not in blob  # never at rest, even before the purge
    assert wrapped in blob  # the search finds what it looks for
    assert all(p in blob for p in pieces)

    report = v.sweep(ADMIN)
    assert report.purged == 1
    assert report.wal_checkpointed is True

    blob = disk_bytes(path)
    assert wrapped not in blob
    assert not [p for p in pieces if p in blob]
    assert MARKER.encode() not in blob
    assert kept_key in blob  # the live record is untouched


def test_without_the_checkpoint_the_wal_keeps_the_old_pages(
    sqlite_vault: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why the sweep checkpoints: secure_delete alone leaves the pre-purge page in the WAL."""
    v, path = sqlite_vault
    old, _ = _ingest_marked(v)
    wrapped, _ = _secrets(v, old)
    monkeypatch.setattr(Store, "checkpoint_wal", lambda self: True)
    v.sweep(ADMIN)
    assert wrapped in disk_bytes(path)
    monkeypatch.undo()
    # The next sweep with something to purge checkpoints and the old pages go.
    v.ingest(
        clerk_for(TRAFFIC),
        record_for(
            v,
            TRAFFIC,
            SubjectRef.person(citizen_id(78)),
            decided_on=date(2020, 3, 1),
            occurred_on=date(2020, 1, 1),
        ),
    )
    assert v.sweep(ADMIN).wal_checkpointed is True
    assert wrapped not in disk_bytes(path)


def test_erasure_leaves_no_identity_ciphertext_or_subject_key(sqlite_vault: Any) -> None:
    v, path = sqlite_vault
    s = SubjectRef.person(citizen_id(79), name="赵六")
    rid = v.ingest(clerk_for(HONOR), record_for(v, HONOR, s, marker=MARKER))
    wrapped, pieces = _secrets(v, rid)
    with v._tx() as conn:
        srow = conn.execute(
            select(_S.c.wrapped_key, _S.c.identity_ct, _S.c.name_ct, _S.c.lookup)
            .join(_R, _R.c.subject_id == _S.c.id)
            .where(_R.c.id == rid)
        ).one()
    subject_secrets = [bytes(srow.wrapped_key), bytes(srow.identity_ct), bytes(srow.name_ct)]
    lookup = bytes(srow.lookup)
    blob = disk_bytes(path)
    assert all(x in blob for x in [wrapped, *pieces, *subject_secrets, lookup])

    v.erase_subject(ADMIN, s, legal_basis="个人信息保护法 第47条")

    blob = disk_bytes(path)
    assert not [x for x in [wrapped, *pieces, *subject_secrets] if x in blob]
    assert lookup not in blob  # the keyed hash of the ID number is gone too
    assert citizen_id(79).encode() not in blob
    assert "赵六".encode() not in blob
