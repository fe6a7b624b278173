"""Appending to and reading the access log inside the caller's transaction.

The append is the last step before commit: lock the head row (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite already holds the write lock from
``BEGIN IMMEDIATE``), take its size as the new sequence number, insert the entry,
and advance the head's compact-range frontier. Sequence numbers are therefore
dense and in commit order; no database sequence is used (sequences leave gaps on
rollback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import Connection

from credit_vault.audit._entry import AccessEntry
from credit_vault.audit._merkle import CompactRange, leaf_hash
from credit_vault.storage.bulk import as_utc, dbapi_cursor, sqlite_datetime
from credit_vault.storage.tables import AuditCheckpoint, AuditEntry, AuditHead, Record

__all__ = [
    "Head",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredRow",
    "append",
    "count_entries",
    "entries_between",
    "first_seq_at_or_after",
    "first_ts",
    "iter_entries",
    "iter_rows",
    "latest_checkpoint",
    "leaf_hashes_between",
    "list_checkpoints",
    "read_head",
    "record_sources",
    "store_checkpoint",
    "subject_entries",
]

_E = cast("Table", AuditEntry.__table__)
_H = cast("Table", AuditHead.__table__)
_C = cast("Table", AuditCheckpoint.__table__)
_R = cast("Table", Record.__table__)


@dataclass(frozen=True, slots=True)
class Head:
    """The log's head: size, root and frontier."""

    size: int
    root: bytes
    frontier: bytes
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A stored entry: sequence number, canonical bytes and stored leaf hash."""

    seq: int
    entry: bytes
    leaf_hash: bytes


# Built once: every vault call appends, and building statements costs more than
# executing these small ones.
_HEAD = select(_H.c.size, _H.c.root, _H.c.frontier, _H.c.updated_at).where(_H.c.id == 1)
_HEAD_LOCKED = _HEAD.with_for_update()
_INSERT_ENTRY = insert(_E)
_UPDATE_HEAD = update(_H).where(_H.c.id == 1)
_SQLITE_HEAD = "SELECT size, root, frontier, updated_at FROM audit_head WHERE id = 1"
_SQLITE_INSERT_ENTRY = (
    "INSERT INTO audit_entries (seq, ts, actor_id, op, subject_pseudonym, leaf_hash, entry) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_UPDATE_HEAD = (
    "UPDATE audit_head SET size = ?, frontier = ?, root = ?, updated_at = ? WHERE id = 1"
)
# PostgreSQL: two round trips per append, the fewest the design allows (the new
# frontier and root are computed from the locked head): the locked read, then the
# entry and the head in one statement. A data-modifying CTE runs whether or not
# the outer statement reads it, and constraints and triggers fire as for a plain
# INSERT.
_PG_HEAD_LOCKED = "SELECT size, root, frontier, updated_at FROM audit_head WHERE id = 1 FOR UPDATE"
_PG_APPEND = (
    "WITH e AS (INSERT INTO audit_entries "
    "(seq, ts, actor_id, op, subject_pseudonym, leaf_hash, entry) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)) "
    "UPDATE audit_head SET size = %s, frontier = %s, root = %s, updated_at = %s WHERE id = 1"
)


def read_head(conn: Connection, *, for_update: bool = False) -> Head:
    """The head row (locked when ``for_update`` on PostgreSQL)."""
    stmt = _HEAD_LOCKED if for_update and conn.dialect.name == "postgresql" else _HEAD
    row = conn.execute(stmt).one()
    return Head(
        size=int(row.size),
        root=bytes(row.root),
        frontier=bytes(row.frontier),
        updated_at=as_utc(row.updated_at),
    )


def _read_head_for_append(conn: Connection) -> Head:
    """The head, locked for the append, read through the driver.

    SQLite already holds the write lock (``BEGIN IMMEDIATE``) and stores the time
    as text; PostgreSQL locks the row and returns an aware datetime.
    """
    sqlite = conn.dialect.name == "sqlite"
    with dbapi_cursor(conn) as cur:
        cur.execute(_SQLITE_HEAD if sqlite else _PG_HEAD_LOCKED)
        size, root, frontier, updated = cur.fetchone()
    if sqlite:
        updated = datetime.fromisoformat(updated) if updated else None
    return Head(
        size=int(size), root=bytes(root), frontier=bytes(frontier), updated_at=as_utc(updated)
    )


def append(conn: Connection, entry: AccessEntry, now: Callable[[], datetime]) -> int:
    """Append one entry; return its sequence number. Call as the last step before commit.

    The time is read *after* the head lock is held, and never before the previous
    entry's time, so timestamps are non-decreasing in sequence order even with
    writers on several hosts whose clocks differ slightly.
    """
    head = _read_head_for_append(conn)
    ts = now()
    if head.updated_at is not None and ts < head.updated_at:
        ts = head.updated_at
    seq = head.size
    data = entry.canonical(seq, ts)
    lh = leaf_hash(data)
    cr = CompactRange.from_bytes(head.size, head.frontier)
    cr.append(lh)
    row = (seq, ts, entry.actor_id[:128], entry.op, entry.subject or None, lh, data)
    # Every vault call ends here; the driver-level statements save about a third of
    # the log's cost per call on SQLite (no per-statement compilation bookkeeping)
    # and a round trip on PostgreSQL.
    with dbapi_cursor(conn) as cur:
        if conn.dialect.name == "sqlite":
            # The timestamp text is what SQLAlchemy's SQLite DateTime stores, so
            # both paths read back the same.
            stamp = sqlite_datetime(ts)
            cur.execute(_SQLITE_INSERT_ENTRY, (seq, stamp, *row[2:]))
            cur.execute(_SQLITE_UPDATE_HEAD, (cr.size, cr.to_bytes(), cr.root(), stamp))
        else:
            cur.execute(_PG_APPEND, (*row, cr.size, cr.to_bytes(), cr.root(), ts))
    return seq


def append_many(
    conn: Connection, entries: Sequence[AccessEntry], now: Callable[[], datetime]
) -> list[int]:
    """Append several entries at once; their sequence numbers. The last step before commit.

    One head read (locked) and one head update for the lot, the rows in one
    ``executemany``: a read that concerns many subjects logs one entry per subject
    without holding the head's lock for a round trip per entry.
    """
    if not entries:
        return []
    sqlite = conn.dialect.name == "sqlite"
    head = _read_head_for_append(conn)
    ts = now()
    if head.updated_at is not None and ts < head.updated_at:
        ts = head.updated_at
    cr = CompactRange.from_bytes(head.size, head.frontier)
    rows: list[tuple[int, bytes, str, str, str | None, bytes]] = []
    for entry in entries:
        seq = cr.size
        data = entry.canonical(seq, ts)
        lh = leaf_hash(data)
        cr.append(lh)
        rows.append((seq, data, entry.actor_id[:128], entry.op, entry.subject or None, lh))
    if sqlite:
        stamp = sqlite_datetime(ts)
        with dbapi_cursor(conn) as cur:
            cur.executemany(
                _SQLITE_INSERT_ENTRY,
                [(seq, stamp, a, op, subj, lh, data) for seq, data, a, op, subj, lh in rows],
            )
            cur.execute(_SQLITE_UPDATE_HEAD, (cr.size, cr.to_bytes(), cr.root(), stamp))
    else:
        conn.execute(
            _INSERT_ENTRY,
            [
                {
                    "seq": seq,
                    "ts": ts,
                    "actor_id": actor,
                    "op": op,
                    "subject_pseudonym": subj,
                    "leaf_hash": lh,
                    "entry": data,
                }
                for seq, data, actor, op, subj, lh in rows
            ],
        )
        conn.execute(
            _UPDATE_HEAD,
            {"size": cr.size, "frontier": cr.to_bytes(), "root": cr.root(), "updated_at": ts},
        )
    return [r[0] for r in rows]


def iter_entries(
    conn: Connection, *, start: int = 0, end: int | None = None, batch: int = 5000
) -> Iterator[StoredEntry]:
    """Stored entries in sequence order, fetched in batches (constant memory)."""
    pos = start
    while True:
        stmt = (
            select(_E.c.seq, _E.c.entry, _E.c.leaf_hash)
            .where(_E.c.seq >= pos)
            .order_by(_E.c.seq)
            .limit(batch)
        )
        if end is not None:
            stmt = stmt.where(_E.c.seq < end)
        rows = conn.execute(stmt).all()
        if not rows:
            return
        for r in rows:
            yield StoredEntry(seq=int(r.seq), entry=bytes(r.entry), leaf_hash=bytes(r.leaf_hash))
        pos = int(rows[-1].seq) + 1


@dataclass(frozen=True, slots=True)
class StoredRow:
    """A stored entry with its lookup columns, which are not hashed (for verification)."""

    seq: int
    entry: bytes
    leaf_hash: bytes
    ts: datetime | None
    actor_id: str | None
    op: str | None
    subject_pseudonym: str | None


def iter_rows(conn: Connection, *, batch: int = 5000) -> Iterator[StoredRow]:
    """Every stored entry row with its lookup columns, in sequence order (constant memory)."""
    pos = 0
    while True:
        rows = conn.execute(
            select(
                _E.c.seq,
                _E.c.entry,
                _E.c.leaf_hash,
                _E.c.ts,
                _E.c.actor_id,
                _E.c.op,
                _E.c.subject_pseudonym,
            )
            .where(_E.c.seq >= pos)
            .order_by(_E.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        for r in rows:
            yield StoredRow(
                seq=int(r.seq),
                entry=bytes(r.entry),
                leaf_hash=bytes(r.leaf_hash),
                ts=as_utc(r.ts),
                actor_id=r.actor_id,
                op=r.op,
                subject_pseudonym=r.subject_pseudonym,
            )
        pos = int(rows[-1].seq) + 1


def count_entries(conn: Connection) -> int:
    """Number of stored entry rows (may differ from the head after tampering)."""
    return int(conn.execute(select(func.count()).select_from(_E)).scalar_one())


def store_checkpoint(conn: Connection, size: int, root: bytes, note: bytes, ts: datetime) -> None:
    """Keep a signed checkpoint (idempotent per size)."""
    exists = conn.execute(select(_C.c.size).where(_C.c.size == size)).first()
    if exists is None:
        conn.execute(insert(_C).values(size=size, root=root, note=note, created_at=ts))


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A stored signed checkpoint."""

    size: int
    root: bytes
    note: bytes
    created_at: datetime | None


def _checkpoint(row: object) -> StoredCheckpoint:
    r = cast("Any", row)
    return StoredCheckpoint(
        size=int(r.size), root=bytes(r.root), note=bytes(r.note), created_at=as_utc(r.created_at)
    )


def list_checkpoints(conn: Connection, *, max_size: int | None = None) -> list[StoredCheckpoint]:
    """Stored checkpoints in size order (up to ``max_size`` when given)."""
    stmt = select(_C.c.size, _C.c.root, _C.c.note, _C.c.created_at).order_by(_C.c.size)
    if max_size is not None:
        stmt = stmt.where(_C.c.size <= max_size)
    return [_checkpoint(r) for r in conn.execute(stmt).all()]


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    """The stored checkpoint with the largest size, if any."""
    row = conn.execute(
        select(_C.c.size, _C.c.root, _C.c.note, _C.c.created_at).order_by(_C.c.size.desc()).limit(1)
    ).first()
    return None if row is None else _checkpoint(row)


def first_ts(conn: Connection) -> datetime | None:
    """The time of the first stored entry."""
    row = conn.execute(select(_E.c.ts).order_by(_E.c.seq).limit(1)).first()
    return None if row is None else as_utc(row.ts)


def first_seq_at_or_after(conn: Connection, ts: datetime, upper: int) -> int:
    """The first sequence number below ``upper`` whose time is at or after ``ts`` (else ``upper``).

    Entry times never decrease with the sequence number, so a binary search over
    primary-key lookups answers without an index on the time column.
    """
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute(
            select(_E.c.seq, _E.c.ts).where(_E.c.seq >= mid).order_by(_E.c.seq).limit(1)
        ).first()
        if row is None or int(row.seq) >= hi:
            hi = mid
            continue
        when = as_utc(row.ts)
        if when is not None and when >= ts:
            hi = mid
        else:
            lo = int(row.seq) + 1
    return lo


def entries_between(conn: Connection, start: int, end: int, limit: int) -> list[StoredEntry]:
    """Up to ``limit`` stored entries with ``start <= seq < end``, in order."""
    rows = conn.execute(
        select(_E.c.seq, _E.c.entry, _E.c.leaf_hash)
        .where(_E.c.seq >= start, _E.c.seq < end)
        .order_by(_E.c.seq)
        .limit(limit)
    ).all()
    return [StoredEntry(int(r.seq), bytes(r.entry), bytes(r.leaf_hash)) for r in rows]


def leaf_hashes_between(
    conn: Connection, start: int, end: int, limit: int
) -> list[tuple[int, bytes]]:
    """Up to ``limit`` (seq, stored leaf hash) pairs with ``start <= seq < end``, in order."""
    rows = conn.execute(
        select(_E.c.seq, _E.c.leaf_hash)
        .where(_E.c.seq >= start, _E.c.seq < end)
        .order_by(_E.c.seq)
        .limit(limit)
    ).all()
    return [(int(r.seq), bytes(r.leaf_hash)) for r in rows]


def subject_entries(conn: Connection, pseudonym: str, start: int, end: int) -> list[StoredEntry]:
    """Stored entries about one subject pseudonym with ``start <= seq < end``, in order."""
    rows = conn.execute(
        select(_E.c.seq, _E.c.entry, _E.c.leaf_hash)
        .where(_E.c.subject_pseudonym == pseudonym, _E.c.seq >= start, _E.c.seq < end)
        .order_by(_E.c.seq)
    ).all()
    return [StoredEntry(int(r.seq), bytes(r.entry), bytes(r.leaf_hash)) for r in rows]


def record_sources(conn: Connection, record_ids: Iterable[str]) -> dict[str, str]:
    """Which source supplied each record (clear metadata; nothing is decrypted)."""
    ids = sorted(set(record_ids))
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        for r in conn.execute(select(_R.c.id, _R.c.source_code).where(_R.c.id.in_(chunk))).all():
            out[str(r.id)] = str(r.source_code)
    return out
