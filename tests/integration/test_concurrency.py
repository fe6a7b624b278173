"""Several real processes ingesting and querying at once: every call logged, sequence dense."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from credit_vault import SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.tables import AuditEntry
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources

WORKERS = 4
ROUNDS = 12
TAX = "tax.major_violation"


def _worker(url: str, key_path: str, n: int, q: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
            seqs = []
            for i in range(ROUNDS):
                # Workers share subjects, so they race to create the same ones.
                subject = SubjectRef.person(citizen_id(i % 5))
                v.ingest(
                    clerk_for(TAX),
                    record_for(v, TAX, subject, decided_on=v.today(), occurred_on=v.today()),
                )
                d = v.query(
                    OFFICER, purpose="licensing_review", subject=subject, ticket=f"T-{n}-{i}"
                )
                seqs.append(d.access_seq)
            q.put(("ok", seqs))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        q.put(("error", f"{type(exc).__name__}: {exc}"))


def _run(url: str, key_path: Path) -> None:
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        register_all_sources(v)
        start = v.audit.head().size
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, str(key_path), n, q)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    results = [q.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r[1] for r in results if r[0] != "ok"]
    assert not errors, errors
    all_seqs = sorted(s for r in results for s in r[1])
    assert len(set(all_seqs)) == WORKERS * ROUNDS
    expected = start + WORKERS * ROUNDS * 2
    engine = create_engine(url)
    with engine.connect() as conn:
        seqs = list(
            conn.execute(
                select(AuditEntry.__table__.c.seq).order_by(AuditEntry.__table__.c.seq)
            ).scalars()
        )
    engine.dispose()
    assert seqs == list(range(expected)), "sequence numbers must be dense from 0"
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        report = v.audit.verify()
        assert report.ok, report.problems
        assert report.entries == expected


@pytest.mark.slow
def test_four_processes_on_postgres(pg_url: str, key_path: Path) -> None:
    _run(pg_url, key_path)


@pytest.mark.slow
def test_four_processes_on_sqlite(tmp_path: Path, key_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'vault.db'}", key_path)
