"""Two processes sweeping the same vault at once: no error, each transition once, one entry each."""

from __future__ import annotations

import multiprocessing as mp
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, create_engine, select

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.tables import Record
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

_R = cast("Table", Record.__table__)
ADMIN = Actor(id="adm-1", role="admin")
TRAFFIC = "penalty.traffic"
NOW = "2025-06-01T02:00:00+00:00"
WORKERS = 2
BATCH = 8


def _worker(url: str, key_path: str, n: int, start: Any, q: Any) -> None:
    try:
        clock = FrozenClock(datetime.fromisoformat(NOW))
        with Vault.open(url, keys=FileKeyProvider(key_path), clock=clock) as v:
            v.audit.head()  # connected and migrated: ready to race
            start.wait(60)
            actor = Actor(id=f"sweeper-{n}", role="admin")
            # A short pause per batch keeps both sweeps running side by side.
            r = v.sweep(actor, batch_size=BATCH, progress=lambda _e: time.sleep(0.01))
            q.put(("ok", r.purged, r.expired, list(r.entries)))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        q.put(("error", f"{type(exc).__name__}: {exc}", 0, []))


def _populate(v: Vault) -> tuple[set[str], set[str], set[str]]:
    def recs(n: int, base: int, **kw: Any) -> list[Any]:
        return [
            record_for(v, TRAFFIC, SubjectRef.person(citizen_id(base + i)), **kw) for i in range(n)
        ]

    old = v.ingest_many(
        clerk_for(TRAFFIC), recs(120, 0, decided_on=date(2020, 3, 1), occurred_on=date(2020, 1, 1))
    )
    ended = v.ingest_many(
        clerk_for(TRAFFIC), recs(80, 200, decided_on=date(2024, 3, 1), occurred_on=date(2024, 1, 1))
    )
    current = v.ingest_many(clerk_for(TRAFFIC), recs(40, 400))
    return set(old), set(ended), set(current)


def _run(url: str, key_path: Path) -> None:
    clock = FrozenClock(datetime.fromisoformat(NOW))
    with Vault.open(url, keys=FileKeyProvider(key_path), clock=clock) as v:
        register_all_sources(v)
        old, ended, current = _populate(v)
        start_size = v.audit.head().size
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, str(key_path), n, start, q)) for n in range(WORKERS)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r[1] for r in results if r[0] != "ok"]
    assert not errors, errors
    # Both took part (the barrier and the pause per batch make them overlap).
    assert all(r[1] + r[2] > 0 for r in results), results
    assert sum(r[1] for r in results) == len(old)
    assert sum(r[2] for r in results) == len(ended)

    with Vault.open(url, keys=FileKeyProvider(key_path), clock=clock) as v:
        log = v.audit.entries(start=start_size)
        purge = [e for e in log if e["op"] == "purge"]
        expire = [e for e in log if e["op"] == "expire"]
        purged_ids = [r for e in purge for r in e["records"]]
        expired_ids = [r for e in expire for r in e["records"]]
        assert sorted(purged_ids) == sorted(old), "each record purged once, in one entry"
        assert sorted(expired_ids) == sorted(ended), "each window closed once, in one entry"
        assert all(0 < len(e["records"]) <= BATCH for e in purge + expire)
        # Every transition entry was reported by exactly one of the processes.
        reported = sorted(s for r in results for s in r[3])
        assert reported == sorted(e["seq"] for e in purge + expire)
        assert len([e for e in log if e["op"] == "sweep"]) == WORKERS
        assert v.audit.verify().ok
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            states = dict(conn.execute(select(_R.c.id, _R.c.state)).all())
    finally:
        engine.dispose()
    assert {states[i] for i in old} == {"purged"}
    assert {states[i] for i in ended} == {"expired"}
    assert {states[i] for i in current} == {"active"}


@pytest.mark.slow
def test_two_processes_sweeping_sqlite(tmp_path: Path, key_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'vault.db'}", key_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_processes_sweeping_postgres(pg_url: str, key_path: Path) -> None:
    _run(pg_url, key_path)
