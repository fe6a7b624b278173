"""Races on PostgreSQL found in review, each made deterministic with a pause at the step
where its window opened, and each failing before its fix.

- an ingest whose new subject another ingest created meanwhile took no lock on it, so an
  erasure could slip in and leave the record live on the erased subject;
- the sweep (record, then item) and a workflow step (item, then record) deadlocked;
- a correction wrote back the wrapped key it had read before a re-wrap;
- a query could decrypt the name of a subject erased between its two reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

import credit_vault._lifecycle as lifecycle_mod
import credit_vault.vault as vault_mod
from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import ConflictError
from credit_vault.storage.tables import Record, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources, source_code

pytestmark = pytest.mark.postgres

_R = cast("Table", Record.__table__)
_S = cast("Table", Subject.__table__)
ADMIN = Actor(id="adm-1", role="admin")
HONOR = "honor.commendation"  # no mandatory retention: its subject may be erased
FOOD = "penalty.food_drug"  # decided 2025-03-01, conduct 2024-12-01: purged 2029-12-01
COURT = Actor(id="judge-1", role="court_officer", organisation="court")


@pytest.fixture
def two(pg_url: str, key_path: Path, clock: FrozenClock) -> Iterator[tuple[Vault, Vault]]:
    """Two vaults on one schema, as two processes would open it."""
    a = Vault.open(pg_url, keys=FileKeyProvider(key_path), clock=clock)
    register_all_sources(a)
    b = Vault.open(pg_url, keys=FileKeyProvider(key_path), clock=clock)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


class _Run:
    """A call in a thread of its own; ``wait()`` returns its result or raises its error."""

    def __init__(self, target: Callable[[], Any]) -> None:
        self.result: Any = None
        self.error: BaseException | None = None

        def body() -> None:
            try:
                self.result = target()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                self.error = exc

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def wait(self) -> Any:
        self.thread.join(60)
        assert not self.thread.is_alive(), "the call did not finish (a lock never released?)"
        if self.error is not None:
            raise self.error
        return self.result


def _pause(obj: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """Make ``obj.name`` stop (once) until released; returns (reached, release) events."""
    reached, release = threading.Event(), threading.Event()
    real = getattr(obj, name)

    def paused(*args: Any, **kw: Any) -> Any:
        if not reached.is_set():
            reached.set()
            assert release.wait(60)
        return real(*args, **kw)

    monkeypatch.setattr(obj, name, paused)
    return reached, release


def _live_on_erased(v: Vault) -> list[Any]:
    with v._store.engine.connect() as conn:
        return conn.execute(
            select(_R.c.id)
            .join(_S, _S.c.id == _R.c.subject_id)
            .where(_S.c.erased_at.is_not(None), _R.c.state != "purged")
        ).all()


def me(subject: SubjectRef) -> Actor:
    return Actor(id="portal", role="subject", subject=subject)


def test_a_subject_created_meanwhile_is_locked_against_an_erasure(
    two: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two
    person = SubjectRef.person(citizen_id(1))
    # B pauses after its lookup found nothing, before it inserts the subject.
    calls = {"n": 0}
    reached, release = threading.Event(), threading.Event()
    real_seal = vault_mod.seal_new_records
    b_thread: list[threading.Thread] = []

    def seal(*args: Any, **kw: Any) -> Any:
        if b_thread and threading.current_thread() is b_thread[0]:
            calls["n"] += 1
            if calls["n"] == 2:  # the subjects' seal (the records' comes first)
                reached.set()
                assert release.wait(60)
        return real_seal(*args, **kw)

    monkeypatch.setattr(vault_mod, "seal_new_records", seal)
    # ... and again before its records are inserted.
    at_records, go_records = threading.Event(), threading.Event()
    real_insert = vault_mod.insert_rows

    def insert(conn: Any, table: Table, *args: Any, **kw: Any) -> Any:
        if b_thread and threading.current_thread() is b_thread[0] and table.name == "cv_records":
            at_records.set()
            assert go_records.wait(60)
        return real_insert(conn, table, *args, **kw)

    monkeypatch.setattr(vault_mod, "insert_rows", insert)

    ingest_b = _Run(lambda: b.ingest(clerk_for(HONOR), record_for(b, HONOR, person, marker="B")))
    b_thread.append(ingest_b.thread)
    assert reached.wait(60)
    first = a.ingest(clerk_for(HONOR), record_for(a, HONOR, person, marker="A"))  # wins
    release.set()
    assert at_records.wait(60)  # B found A's subject through its ON CONFLICT path
    erase = _Run(lambda: a.erase_subject(ADMIN, person, legal_basis="PIPL Art 47"))
    time.sleep(0.5)  # the erasure reaches the subject row and waits for B
    go_records.set()
    second = ingest_b.wait()
    report = erase.wait()
    assert _live_on_erased(a) == []
    assert set(report.records) == {first, second}


def test_a_sweep_and_an_objection_decision_do_not_deadlock(
    two: tuple[Vault, Vault], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeper, desk = two
    person = SubjectRef.person(citizen_id(2))
    rid = sweeper.ingest(clerk_for(FOOD), record_for(sweeper, FOOD, person))
    obj = desk.objections.file(me(person), rid, reason="the amount is wrong")
    clock.set(datetime(2029, 11, 30, 2, 0, tzinfo=UTC))  # the day before the purge date
    handler = Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))
    # The handler's step (the record still live) stops inside its transaction,
    # holding what it locked; then the purge date comes and the sweep starts.
    reached, release = _pause(desk._workflows, "refresh_disputed", monkeypatch)
    decide = _Run(
        lambda: desk.objections.decide(handler, obj.id, outcome="rejected", reason="it is right")
    )
    assert reached.wait(60)
    clock.set(datetime(2030, 1, 2, 2, 0, tzinfo=UTC))  # past the purge date
    sweep = _Run(lambda: sweeper.sweep(ADMIN))
    time.sleep(0.5)
    release.set()
    decided = decide.wait()
    sweep.wait()  # no DeadlockDetected on either side
    assert decided.state == "rejected"
    assert sweeper.sweep(ADMIN).purged + sweep.result.purged == 1
    assert sweeper.audit.verify().ok


def test_a_purge_that_wins_turns_a_pending_withdrawal_into_a_conflict(
    two: tuple[Vault, Vault], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweeper, desk = two
    person = SubjectRef.person(citizen_id(3))
    rid = sweeper.ingest(clerk_for(FOOD), record_for(sweeper, FOOD, person))
    obj = desk.objections.file(me(person), rid, reason="the amount is wrong")
    clock.set(datetime(2030, 1, 2, 2, 0, tzinfo=UTC))
    # The sweep stops inside its purge, holding the record; the subject's withdrawal
    # (checked against a clock that still sees the record live) arrives meanwhile.
    reached, release = _pause(lifecycle_mod, "_shred", monkeypatch)
    sweep = _Run(lambda: sweeper.sweep(ADMIN))
    assert reached.wait(60)
    clock.set(datetime(2029, 11, 30, 2, 0, tzinfo=UTC))  # the subject's step sees it live
    withdraw = _Run(lambda: desk.objections.withdraw(me(person), obj.id))
    time.sleep(0.5)  # the withdrawal waits for the record the purge holds
    release.set()
    with pytest.raises(ConflictError):
        withdraw.wait()
    sweep.wait()
    assert sweeper.objections.get(me(person), obj.id).state == "lapsed"
    assert sweeper.audit.verify().ok


def test_a_correction_keeps_the_key_a_rewrap_wrote_meanwhile(
    two: tuple[Vault, Vault], key_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clerk_vault, operator = two
    person = SubjectRef.person(citizen_id(4))
    traffic = "penalty.traffic"
    rid = clerk_vault.ingest(clerk_for(traffic), record_for(clerk_vault, traffic, person))
    FileKeyProvider(key_path).rotate()
    # The correction has read the record (its key wrapped under kek-1) and stops there.
    reached, release = _pause(clerk_vault._workflows, "write", monkeypatch)
    facts = dict(record_for(clerk_vault, traffic, person, marker="FIX").facts)
    correct = _Run(
        lambda: clerk_vault.records.correct(clerk_for(traffic), rid, facts=facts, reason="typo")
    )
    assert reached.wait(60)
    report = operator.rewrap_keys(ADMIN)
    assert report.remaining == {}
    release.set()
    correct.wait()
    assert set(operator.kek_usage(ADMIN)) == {"kek-2"}


def test_a_query_waits_for_an_erasure_or_goes_first(
    two: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, eraser = two
    person = SubjectRef.person(citizen_id(5), name="王小明")
    rid = reader.ingest(clerk_for(HONOR), record_for(reader, HONOR, person))
    reached, release = threading.Event(), threading.Event()
    real_execute = vault_mod.Connection.execute
    # Marks the query's own thread from inside it (no race with the thread's start).
    in_query = threading.local()

    def execute(self: Any, stmt: Any, *args: Any, **kw: Any) -> Any:
        mine = getattr(in_query, "set", False)
        if mine and stmt is vault_mod._RECORDS_OF_SUBJECT and not reached.is_set():
            reached.set()  # the subject row is read, the records not yet
            assert release.wait(60)
        return real_execute(self, stmt, *args, **kw)

    def run_query() -> Any:
        in_query.set = True
        return reader.query(COURT, purpose="court_order", subject=person, ticket="C-1")

    monkeypatch.setattr(vault_mod.Connection, "execute", execute)
    query = _Run(run_query)
    assert reached.wait(60)
    erase = _Run(lambda: eraser.erase_subject(ADMIN, person, legal_basis="PIPL Art 47"))
    time.sleep(0.5)  # the erasure waits for the query's read of the subject
    release.set()
    seen = query.wait()
    report = erase.wait()
    # The query went first, whole: its records and the name, logged before the erasure.
    assert [r.record_id for r in seen.records] == [rid]
    assert seen.subject_name == "王小明"
    assert seen.access_seq < report.access_seq
