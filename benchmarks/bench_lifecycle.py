"""Lifecycle benchmark: the sweep over a large table, with 10% due and with nothing due.

Run:  python benchmarks/bench_lifecycle.py [--rows 1000000] [--due 0.10] [--batch 500]
      [--url postgresql+psycopg://...]   (default: a fresh SQLite file in a temp dir)

The table is built directly with SQLAlchemy Core, not through ``Vault.ingest``:
ingest would encrypt a million records (minutes of AES-GCM and key wrapping that
measure ingest, not the sweep). The sweep never decrypts anything: it reads
dates and states through indexes and sets key and ciphertext columns to NULL, so
random bytes of the sizes real keys and ciphertexts have (a 60-byte wrapped key,
~150 bytes of packed field ciphertexts) cost it exactly what real ones do.

Rows are laid out so that, with the clock at

* T0: nothing is due (1,000,000 live rows);
* T1: ``--due`` of the rows have a window that ended (the sweep marks them expired);
* T2: another ``--due`` are past retention (the sweep crypto-shreds them);
* T2 again: nothing is due, but the purged rows stay as tombstones in the
  purge_on range the purge query walks.

Each measurement is one full ``vault.sweep(admin)`` call (batches of ``--batch``,
one transaction and one access-log entry each; on SQLite the purge ends with a
WAL checkpoint). Prints the query plans and a table; paste it into RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from credit_vault import Actor, Vault
from credit_vault._lifecycle import _expire_candidates, _purge_candidates
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.tables import Record, Subject
from credit_vault.testing import FrozenClock

CATEGORY = "penalty.traffic"
BASIS = "道路交通安全法"
SOURCE = "bench-traffic"
ADMIN = Actor(id="bench-admin", role="admin")
T0 = date(2030, 1, 1)
T1 = date(2030, 7, 1)
T2 = date(2031, 1, 1)
CHUNK = 20_000
SUBJECTS = 20_000

_R = cast("Table", Record.__table__)
_S = cast("Table", Subject.__table__)


def at(day: date) -> datetime:
    """10:00 in Shanghai on ``day``."""
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def spread(start: date, end: date, i: int) -> date:
    """A date in [start, end) chosen by ``i`` (many rows share each date, as in real data)."""
    span = (end - start).days
    return start + timedelta(days=(i * 7919) % span)


def build(vault: Vault, n: int, due: float) -> tuple[int, int]:
    """Insert ``n`` records; return (rows due for expiry at T1, rows due for purge at T2)."""
    now = datetime.now(UTC)
    with vault._store.engine.begin() as conn:
        for start in range(0, SUBJECTS, CHUNK):
            conn.execute(
                insert(_S),
                [
                    {
                        "id": f"s_{i:024x}",
                        "kind": "person",
                        "lookup": os.urandom(32),
                        "pseudonym": os.urandom(32).hex(),
                        "kek_id": "bench",
                        "wrapped_key": os.urandom(60),
                        "identity_ct": os.urandom(48),
                        "name_ct": None,
                        "name_lookup": None,
                        "created_at": now,
                        "erased_at": None,
                    }
                    for i in range(start, min(start + CHUNK, SUBJECTS))
                ],
            )
    n_expire = int(n * due)
    n_purge = int(n * due)
    done = 0
    for start in range(0, n, CHUNK):
        batch: list[dict[str, Any]] = []
        for i in range(start, min(start + CHUNK, n)):
            if i % 100 < due * 100:  # group A: window ends in (T0, T1]
                ends = spread(T0 + timedelta(days=1), T1 + timedelta(days=1), i)
                purge = spread(T2 + timedelta(days=400), T2 + timedelta(days=1500), i)
            elif i % 100 < 2 * due * 100:  # group B: past retention in (T1, T2]
                ends = spread(T1 + timedelta(days=1), T2, i)
                purge = spread(ends + timedelta(days=1), T2 + timedelta(days=1), i)
                purge = min(max(purge, ends), T2)
            else:  # group C: nothing happens before T2
                ends = spread(T2 + timedelta(days=1), T2 + timedelta(days=365), i)
                purge = spread(T2 + timedelta(days=400), T2 + timedelta(days=1500), i)
            decided = ends - timedelta(days=365)
            batch.append(
                {
                    "id": f"r_{i:024x}",
                    "subject_id": f"s_{i % SUBJECTS:024x}",
                    "category": CATEGORY,
                    "source_code": SOURCE,
                    "version": 1,
                    "state": "active",
                    "legal_basis": BASIS,
                    "decided_on": decided,
                    "occurred_on": decided - timedelta(days=30),
                    "conduct_ended_on": None,
                    "disclosure_mode": "period",
                    "disclosure_starts_on": decided,
                    "disclosure_ends_on": ends,
                    "repair_from": decided + timedelta(days=90),
                    "purge_on": purge,
                    "disputed": False,
                    "statement_ct": None,
                    "ended_reason": None,
                    "state_changed_at": None,
                    "purged_at": None,
                    "kek_id": "bench",
                    "wrapped_key": os.urandom(60),
                    "fields": os.urandom(150),
                    "field_names": "decision_no,authority,summary",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with vault._store.engine.begin() as conn:
            conn.execute(insert(_R), batch)
        done += len(batch)
        print(f"\r  built {done:,} / {n:,} rows", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return n_expire, n_purge


def plans(vault: Vault) -> list[str]:
    out = []
    engine = vault._store.engine
    with engine.connect() as conn:
        for name, stmt in (
            ("purge candidates", _purge_candidates(T2, 50_000)),
            ("expire candidates", _expire_candidates(T2, 500)),
        ):
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            if vault.dialect == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
                out.append(f"{name}: " + "; ".join(str(r[-1]) for r in rows))
            else:
                rows = conn.execute(text("EXPLAIN " + sql)).all()
                out.append(f"{name}: " + " / ".join(str(r[0]).strip() for r in rows[:3]))
    return out


def timed_sweep(vault: Vault, clock: FrozenClock, day: date, batch: int) -> tuple[float, Any]:
    clock.set(at(day))
    started = time.perf_counter()
    report = vault.sweep(ADMIN, batch_size=batch)
    return time.perf_counter() - started, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=float, default=0.10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--url", default=None, help="database URL (default: temp SQLite file)")
    args = parser.parse_args()
    if not 0 < args.due <= 0.5:
        parser.error("--due must be in (0, 0.5]")

    with tempfile.TemporaryDirectory(prefix="bench-lifecycle-") as d:
        keys = FileKeyProvider.create(Path(d) / "vault.keys")
        url = args.url or f"sqlite:///{Path(d) / 'vault.db'}"
        clock = FrozenClock(at(T0))
        with Vault.open(url, keys=keys, clock=clock, durability="strict") as vault:
            vault.register_source(SOURCE, name="bench source", categories=[CATEGORY])
            t = time.perf_counter()
            n_expire, n_purge = build(vault, args.rows, args.due)
            build_s = time.perf_counter() - t
            if vault.dialect == "postgresql":
                with vault._store.engine.begin() as conn:
                    conn.execute(text("ANALYZE cv_records"))
            plan_lines = plans(vault)

            runs = []
            s0, r0 = timed_sweep(vault, clock, T0, args.batch)
            runs.append(("T0: 0% due (no tombstones)", 0, s0, r0))
            s1, r1 = timed_sweep(vault, clock, T1, args.batch)
            runs.append((f"T1: {args.due:.0%} due, windows to close", n_expire, s1, r1))
            s2, r2 = timed_sweep(vault, clock, T2, args.batch)
            runs.append((f"T2: {args.due:.0%} due, records to purge", n_purge, s2, r2))
            s3, r3 = timed_sweep(vault, clock, T2, args.batch)
            runs.append((f"T2 again: 0% due, {r2.purged:,} tombstones", 0, s3, r3))
            size = (Path(d) / "vault.db").stat().st_size if args.url is None else 0

    import sqlalchemy

    print(
        f"# bench_lifecycle.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"# Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"{vault.dialect}{' (durability strict)' if vault.dialect == 'sqlite' else ''}"
    )
    print(
        f"# {args.rows:,} records (built with Core in {build_s:.0f} s"
        + (f", {size / 2**20:.0f} MiB file" if size else "")
        + f"); batches of {args.batch}"
    )
    for line in plan_lines:
        print(f"# plan, {line}")
    print()
    print(
        "| sweep                                   |     due | expired |  purged | batches "
        "|  seconds |  records/s |"
    )
    print(
        "|-----------------------------------------|--------:|--------:|--------:|--------:"
        "|---------:|-----------:|"
    )
    for label, due, secs, rep in runs:
        rate = f"{(rep.expired + rep.purged) / secs:,.0f}" if rep.expired + rep.purged else "-"
        print(
            f"| {label:<39} | {due:>7,} | {rep.expired:>7,} | {rep.purged:>7,} | "
            f"{rep.batches:>7,} | {secs:>8.3f} | {rate:>10} |"
        )
    assert r1.expired == n_expire, (r1.expired, n_expire)
    assert r2.purged == n_purge, (r2.purged, n_purge)
    assert (r0.expired, r0.purged, r3.expired, r3.purged) == (0, 0, 0, 0)


if __name__ == "__main__":
    main()
