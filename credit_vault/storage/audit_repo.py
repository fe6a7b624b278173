"""Appending to and reading the access log inside the caller's transaction.

The append is the last step before commit: lock the head row (PostgreSQL
``SELECT ... FOR UPDATE``; SQLite already holds the write lock from
``BEGIN IMMEDIATE``), take its size as the new sequence number, insert the entry,
and advance the head's compact-range frontier. Sequence numbers are therefore
dense and in commit order; no database sequence is used (sequences leave gaps on
rollback).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.engine import Connection

from credit_vault.audit._entry import AccessEntry
from credit_vault.audit._merkle import CompactRange, leaf_hash
from credit_vault.storage.tables import AuditCheckpoint, AuditEntry, AuditHead

__all__ = ["Head", "StoredEntry", "append", "iter_entries", "read_head"]

_E = cast("Table", AuditEntry.__table__)
_H = cast("Table", AuditHead.__table__)
_C = cast("Table", AuditCheckpoint.__table__)


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


def read_head(conn: Connection, *, for_update: bool = False) -> Head:
    """The head row (locked when ``for_update`` on PostgreSQL)."""
    stmt = select(_H.c.size, _H.c.root, _H.c.frontier, _H.c.updated_at).where(_H.c.id == 1)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one()
    return Head(
        size=int(row.size),
        root=bytes(row.root),
        frontier=bytes(row.frontier),
        updated_at=_aware(row.updated_at),
    )


def _aware(ts: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    if ts is not None and ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts


def append(conn: Connection, entry: AccessEntry, now: Callable[[], datetime]) -> int:
    """Append one entry; return its sequence number. Call as the last step before commit.

    The time is read *after* the head lock is held, and never before the previous
    entry's time, so timestamps are non-decreasing in sequence order even with
    writers on several hosts whose clocks differ slightly.
    """
    head = read_head(conn, for_update=True)
    ts = now()
    if head.updated_at is not None and ts < head.updated_at:
        ts = head.updated_at
    seq = head.size
    data = entry.canonical(seq, ts)
    lh = leaf_hash(data)
    cr = CompactRange.from_bytes(head.size, head.frontier)
    cr.append(lh)
    conn.execute(
        insert(_E).values(
            seq=seq,
            ts=ts,
            actor_id=entry.actor_id[:128],
            op=entry.op,
            subject_pseudonym=entry.subject or None,
            leaf_hash=lh,
            entry=data,
        )
    )
    conn.execute(
        update(_H)
        .where(_H.c.id == 1)
        .values(size=cr.size, frontier=cr.to_bytes(), root=cr.root(), updated_at=ts)
    )
    return seq


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


def count_entries(conn: Connection) -> int:
    """Number of stored entry rows (may differ from the head after tampering)."""
    return int(conn.execute(select(func.count()).select_from(_E)).scalar_one())


def store_checkpoint(conn: Connection, size: int, root: bytes, note: bytes, ts: datetime) -> None:
    """Keep a signed checkpoint (idempotent per size)."""
    exists = conn.execute(select(_C.c.size).where(_C.c.size == size)).first()
    if exists is None:
        conn.execute(insert(_C).values(size=size, root=root, note=note, created_at=ts))
