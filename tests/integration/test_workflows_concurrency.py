"""Two handlers deciding the same objection at once: exactly one wins, the other gets a conflict.

Each handler has its own vault (own engine and connections), as two service
instances would. A barrier placed between the read phase and the write
transaction makes both read the objection while it is still open, so the race
is certain rather than likely; the conditional update then lets one through.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import ConflictError, CreditVaultError
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources, source_code

FOOD = "penalty.food_drug"


def _handler(n: int) -> Actor:
    return Actor(id=f"handler-{n}", role="objection_handler", organisation=source_code(FOOD))


def _gate(vault: Vault, barrier: Any) -> None:
    """Make this vault wait at ``barrier`` after reading and before its write transaction."""
    w = vault._workflows
    original = w.write

    @contextmanager
    def gated(*args: Any, **kwargs: Any) -> Iterator[Any]:
        barrier.wait(timeout=60)
        with original(*args, **kwargs) as conn:
            yield conn

    w.write = gated  # type: ignore[method-assign]


def _prepare(url: str, key_path: Path) -> tuple[str, str, dict[str, Any]]:
    subject = SubjectRef.person(citizen_id(501))
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        register_all_sources(v)
        rid = v.ingest(clerk_for(FOOD), record_for(v, FOOD, subject))
        me = Actor(id="portal", role="subject", subject=subject)
        obj = v.objections.file(me, rid, reason="wrong")
        facts = dict(v.query(me, purpose="self_query", subject=subject).records[0].facts)
    facts = {k: str(val) for k, val in facts.items()}
    facts["summary"] = "corrected by the winner"
    return rid, obj.id, facts


def _decide(v: Vault, n: int, objection_id: str, facts: dict[str, Any]) -> str:
    try:
        if n % 2 == 0:
            v.objections.decide(
                _handler(n), objection_id, outcome="upheld", corrected_facts=facts, reason="fix"
            )
        else:
            v.objections.decide(_handler(n), objection_id, outcome="rejected", reason="correct")
    except ConflictError:
        return "conflict"
    except CreditVaultError as exc:
        return f"other:{exc.code}"
    return "won"


def _check(url: str, key_path: Path, rid: str, objection_id: str, results: list[str]) -> None:
    assert sorted(results) == ["conflict"] * (len(results) - 1) + ["won"], results
    winner = results.index("won")
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        admin = Actor(id="admin", role="admin")
        obj = v.objections.get(admin, objection_id)
        assert obj.state == ("upheld" if winner % 2 == 0 else "rejected")
        decisions = [
            e
            for e in v.audit.entries()
            if e.get("x_object") == objection_id and e["op"] == "objection"
        ]
        ok = [e for e in decisions if e["outcome"] == "ok" and e["reason"] != "objection.filed"]
        assert len(ok) == 1
        assert ok[0]["actor"] == _handler(winner).id
        # Each loser's attempt is logged as a refusal naming the objection it lost.
        lost = [e for e in decisions if e["reason"] == "conflict"]
        assert all(e["outcome"] == "denied" for e in lost)
        assert sorted(e["actor"] for e in lost) == sorted(
            _handler(i).id for i, r in enumerate(results) if r == "conflict"
        )
        # The record changed only if the upheld decision won, and only once.
        corrections = [e for e in v.events.poll(limit=10_000) if e.type == "record.corrected"]
        assert len(corrections) == (1 if winner % 2 == 0 else 0)
        subject = SubjectRef.person(citizen_id(501))
        me = Actor(id="portal", role="subject", subject=subject)
        (rec,) = v.query(me, purpose="self_query", subject=subject).records
        assert rec.record_id == rid
        assert rec.version == (2 if winner % 2 == 0 else 1)
        assert rec.disputed is False
        assert v.audit.verify().ok


def _race_threads(url: str, key_path: Path, n: int) -> None:
    rid, oid, facts = _prepare(url, key_path)
    barrier = threading.Barrier(n)
    vaults = [Vault.open(url, keys=FileKeyProvider(key_path)) for _ in range(n)]
    results: list[str] = ["?"] * n
    try:
        for v in vaults:
            _gate(v, barrier)

        def run(i: int) -> None:
            results[i] = _decide(vaults[i], i, oid, facts)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        for v in vaults:
            v.close()
    _check(url, key_path, rid, oid, results)


@pytest.mark.parametrize("handlers", [2, 4])
def test_threads_on_sqlite(tmp_path: Path, key_path: Path, handlers: int) -> None:
    _race_threads(f"sqlite:///{tmp_path / 'vault.db'}", key_path, handlers)


@pytest.mark.postgres
@pytest.mark.parametrize("handlers", [2, 4])
def test_threads_on_postgres(pg_url: str, key_path: Path, handlers: int) -> None:
    _race_threads(pg_url, key_path, handlers)


def _worker(
    url: str, key_path: str, n: int, oid: str, facts: dict[str, Any], barrier: Any, q: Any
) -> None:
    try:
        with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
            _gate(v, barrier)
            q.put((n, _decide(v, n, oid, facts)))
    except BaseException as exc:  # noqa: BLE001 - report anything to the parent
        q.put((n, f"crash:{type(exc).__name__}"))


def _race_processes(url: str, key_path: Path) -> None:
    rid, oid, facts = _prepare(url, key_path)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(url, str(key_path), i, oid, facts, barrier, q))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    got = dict(q.get(timeout=180) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    _check(url, key_path, rid, oid, [got[0], got[1]])


@pytest.mark.slow
def test_processes_on_sqlite(tmp_path: Path, key_path: Path) -> None:
    _race_processes(f"sqlite:///{tmp_path / 'vault.db'}", key_path)


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_on_postgres(pg_url: str, key_path: Path) -> None:
    _race_processes(pg_url, key_path)


def test_two_subjects_filing_at_once_open_one_objection(tmp_path: Path, key_path: Path) -> None:
    """The one-open-objection rule holds under a race too (unique constraint, not a check)."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    subject = SubjectRef.person(citizen_id(502))
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        register_all_sources(v)
        rid = v.ingest(clerk_for(FOOD), record_for(v, FOOD, subject))
    me = Actor(id="portal", role="subject", subject=subject)
    agent = Actor(id="agent", role="subject_agent", subject=subject)
    barrier = threading.Barrier(2)
    vaults = [Vault.open(url, keys=FileKeyProvider(key_path)) for _ in range(2)]
    out: list[str] = ["?", "?"]
    try:
        for v in vaults:
            _gate(v, barrier)

        def run(i: int) -> None:
            try:
                if i == 0:
                    vaults[0].objections.file(me, rid, reason="one")
                else:
                    vaults[1].objections.file(agent, rid, reason="two", consent="AUTH-1")
                out[i] = "won"
            except ConflictError:
                out[i] = "conflict"

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for v in vaults:
            v.close()
    assert sorted(out) == ["conflict", "won"]
    with Vault.open(url, keys=FileKeyProvider(key_path)) as v:
        assert len(v.objections.list(Actor(id="a", role="admin"))) == 1
