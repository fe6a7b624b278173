"""Four processes appending at once, each signing cadence checkpoints: the log stays dense,
every published checkpoint is of committed state, and an export verifies offline.
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, create_engine, select

from credit_vault import SubjectRef, Vault
from credit_vault.audit import (
    DirectoryPublisher,
    MerkleTree,
    canonical_json,
    leaf_hash,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    verify_bundle,
)
from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.tables import AuditEntry
from tests.helpers import AUDITOR, OFFICER, citizen_id, clerk_for, record_for, register_all_sources

WORKERS = 4
ROUNDS = 8
EVERY = 3
TAX = "tax.major_violation"


def _worker(url: str, key_path: str, published: str, n: int, q: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        pub = DirectoryPublisher(published)
        with Vault.open(
            url, keys=FileKeyProvider(key_path), checkpoint_every=EVERY, checkpoint_publisher=pub
        ) as v:
            for i in range(ROUNDS):
                subject = SubjectRef.person(citizen_id(i % 5))
                v.ingest(
                    clerk_for(TAX),
                    record_for(v, TAX, subject, decided_on=v.today(), occurred_on=v.today()),
                )
                v.query(OFFICER, purpose="licensing_review", subject=subject, ticket=f"T-{n}-{i}")
            q.put(("ok", v.audit.publish_failures))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        q.put(("error", f"{type(exc).__name__}: {exc}"))


def _run(url: str, key_path: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        register_all_sources(v)
        start = v.audit.head().size
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, str(key_path), str(published), n, q))
        for n in range(WORKERS)
    ]
    for p in procs:
        p.start()
    results = [q.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(r == ("ok", 0) for r in results), results

    table = cast("Table", AuditEntry.__table__)
    engine = create_engine(url)
    with engine.connect() as conn:
        seqs = list(conn.execute(select(table.c.seq).order_by(table.c.seq)).scalars())
    engine.dispose()
    expected = start + WORKERS * ROUNDS * 2
    assert seqs == list(range(expected)), "sequence numbers must be dense from 0"

    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        report = v.audit.verify()
        assert report.ok, report.problems
        key = v.audit.verifier_key()
        tree = MerkleTree([leaf_hash(canonical_json(e)) for e in v.audit.entries()])
        bundle = v.audit.export(AUDITOR, tmp_path / "bundle.zip")
    name, _kid, public_key = parse_verifier_key(key)
    files = sorted(published.glob("checkpoint-*.txt"))
    assert files, "the cadence made checkpoints"
    for f in files:
        cp = parse_checkpoint(open_note(f.read_bytes(), (name, public_key)))
        assert cp.root == tree.root(cp.size), "a published checkpoint must be of committed state"
    offline = verify_bundle(bundle.path, key, previous=files[0])
    assert offline.ok, offline.problems
    assert offline.entries == expected + 1
    assert offline.checkpoints >= len(files)


@pytest.mark.slow
def test_four_processes_on_postgres_then_export_and_verify(
    pg_url: str, key_path: Path, tmp_path: Path
) -> None:
    _run(pg_url, key_path, tmp_path)


@pytest.mark.slow
def test_four_processes_on_sqlite_then_export_and_verify(key_path: Path, tmp_path: Path) -> None:
    _run(f"sqlite:///{tmp_path / 'vault.db'}", key_path, tmp_path)
