"""Rules of the KEK re-wrap that a mutation review found unguarded.

Each test fails on a copy of the code with that one rule removed:

- rows whose ``kek_id`` column is NULL (KEK unknown) are re-wrapped too, not skipped;
- the re-wrap's write is conditional on the wrapped key it read: a record purged
  between the read and the write stays purged (no key written back into it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, Update, create_engine, select, update
from sqlalchemy.engine import Connection

import credit_vault._lifecycle as lifecycle_mod
from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import Envelope, FileKeyProvider
from credit_vault.storage.tables import Record
from tests.helpers import citizen_id, clerk_for, record_for

ADMIN = Actor(id="admin-1", role="admin")
TAX = "tax.major_violation"

_R = cast("Table", Record.__table__)


def _ingest(vault: Vault, n: int) -> list[str]:
    people = [SubjectRef.person(citizen_id(i), name=f"测试{i}") for i in range(n)]
    return vault.ingest_many(
        clerk_for(TAX), [record_for(vault, TAX, p, marker=f"M{i}") for i, p in enumerate(people)]
    )


def _record_keys(db_url: str) -> dict[str, tuple[str | None, bytes | None, str]]:
    """Record id -> (kek_id column, wrapped key, state), read straight from the table."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(_R.c.id, _R.c.kek_id, _R.c.wrapped_key, _R.c.state)).all()
    finally:
        engine.dispose()
    return {
        r.id: (r.kek_id, None if r.wrapped_key is None else bytes(r.wrapped_key), r.state)
        for r in rows
    }


def test_keys_whose_kek_column_is_null_are_rewrapped_too(
    vault: Vault, key_path: Path, db_url: str
) -> None:
    rids = _ingest(vault, 3)
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:  # a row whose KEK column was lost (or never written)
            conn.execute(update(_R).values(kek_id=None))
    finally:
        engine.dispose()
    assert vault.kek_usage(ADMIN) == {"(unknown)": 3, "kek-1": 3}  # 3 records, 3 subjects
    old = _record_keys(db_url)
    assert FileKeyProvider(key_path).rotate() == "kek-2"

    report = vault.rewrap_keys(ADMIN)

    assert report.kek_id == "kek-2"
    assert report.rewrapped["cv_records"] == 3
    assert report.remaining == {}
    assert vault.kek_usage(ADMIN) == {"kek-2": 6}
    now = _record_keys(db_url)
    assert set(now) == set(rids)
    for rid, (kek_id, wrapped, _state) in now.items():
        assert wrapped is not None
        assert wrapped != old[rid][1]
        assert kek_id == "kek-2" == Envelope.kek_id_of(wrapped)


def test_a_record_purged_between_the_rewraps_read_and_write_stays_purged(
    vault: Vault, key_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real purge cannot get into that gap: the re-wrap reads and writes in one
    # transaction that holds SQLite's write lock, and on PostgreSQL the rows it read
    # FOR UPDATE (a sweep skips them, an erasure waits). The conditional write is the
    # second line of defence; the purge's own shredding is run here on the re-wrap's
    # connection, after its read and just before its write, the one way to put a
    # purge in the gap on either engine.
    victim, other = sorted(_ingest(vault, 2))
    FileKeyProvider(key_path).rotate()
    real_execute = Connection.execute
    purged: list[int] = []

    def execute(self: Connection, stmt: Any, *args: Any, **kw: Any) -> Any:
        params: Any = args[0] if args else kw.get("parameters")
        # The re-wrap's write: one UPDATE of cv_records with a list of parameter sets.
        if (
            not purged
            and isinstance(stmt, Update)
            and stmt.table is _R
            and isinstance(params, list)
        ):
            assert {p["b_id"] for p in params} == {victim, other}  # both were read
            now = datetime(2030, 1, 2, 2, 0, tzinfo=UTC)
            purged.append(
                lifecycle_mod._shred(self, [victim], reason=lifecycle_mod.REASON_RETENTION, now=now)
            )
        return real_execute(self, stmt, *args, **kw)

    monkeypatch.setattr(Connection, "execute", execute)
    report = vault.rewrap_keys(ADMIN)
    monkeypatch.undo()

    assert purged == [1]
    rows = _record_keys(db_url)
    assert rows[victim] == (None, None, "purged")  # no key written back into the tombstone
    kek_id, wrapped, state = rows[other]
    assert state == "active"
    assert wrapped is not None
    assert kek_id == "kek-2" == Envelope.kek_id_of(wrapped)
    assert report.rewrapped["cv_records"] == 1  # the purged record is not counted
    assert report.remaining == {}
    batch = [e for e in vault.audit.entries() if e["seq"] in report.entries]
    assert [e["x_rewrapped"] for e in batch if e["x_table"] == "cv_records"] == ["1"]
