"""Defects found in review of the vault core, each pinned by a test that failed before its fix.

- an erasure racing an ingest on PostgreSQL left a live record on the erased subject;
- a future ``conduct_ended_on`` pushed retention (and the erasure block) out at will;
- more new subjects than one IN list may bind;
- wrong-typed arguments escaped as raw TypeErrors, and a refused actor went unlogged
  when its batch also named an unknown category;
- a ``field_names`` column altered in the database raised a raw KeyError, unlogged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

import pytest
from sqlalchemy import Table, select, update

import credit_vault._lifecycle as lifecycle_mod
import credit_vault.vault as vault_mod
from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import (
    CreditVaultError,
    InputError,
    IntegrityError,
    InvalidRecord,
    PermissionDenied,
    UnknownCategory,
    UnknownPurpose,
)
from credit_vault.storage.tables import Record, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources

_R = cast("Table", Record.__table__)
_S = cast("Table", Subject.__table__)
ADMIN = Actor(id="adm-1", role="admin")
# A category without mandatory retention, so its subject may be erased.
HONOR = "honor.commendation"
TRAFFIC = "penalty.traffic"


@pytest.fixture
def pair(pg_url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[tuple[Vault, Vault]]:
    """Two vaults on one PostgreSQL schema, as two processes would open it."""
    a = Vault.open(pg_url, keys=keys, clock=clock)
    register_all_sources(a)
    b = Vault.open(pg_url, keys=keys, clock=clock)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _records_of_erased_subjects(v: Vault) -> list[Any]:
    with v._store.engine.connect() as conn:
        return conn.execute(
            select(_R.c.id, _R.c.state, _R.c.wrapped_key.is_not(None).label("has_key"))
            .join(_S, _S.c.id == _R.c.subject_id)
            .where(_S.c.erased_at.is_not(None), _R.c.state != "purged")
        ).all()


def _run(target: Any) -> tuple[threading.Thread, list[BaseException], list[Any]]:
    errors: list[BaseException] = []
    results: list[Any] = []

    def body() -> None:
        try:
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t, errors, results


@pytest.mark.postgres
def test_ingest_waiting_on_an_erasure_creates_a_fresh_subject(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    eraser, ingester = pair
    person = SubjectRef.person(citizen_id(1))
    ingester.ingest(clerk_for(HONOR), record_for(ingester, HONOR, person))

    holding, release = threading.Event(), threading.Event()
    real_shred = lifecycle_mod._shred

    def slow_shred(*args: Any, **kw: Any) -> int:
        n = real_shred(*args, **kw)
        holding.set()  # the erasure holds its locks and has not committed
        release.wait(30)
        return n

    monkeypatch.setattr(lifecycle_mod, "_shred", slow_shred)
    erase, erase_err, _ = _run(
        lambda: eraser.erase_subject(ADMIN, person, legal_basis="PIPL Art 47")
    )
    assert holding.wait(30)
    ingest, ingest_err, ingested = _run(
        lambda: ingester.ingest(clerk_for(HONOR), record_for(ingester, HONOR, person))
    )
    time.sleep(0.5)  # the ingest reaches the subject lookup and waits there
    release.set()
    erase.join(30)
    ingest.join(30)
    assert not erase.is_alive()
    assert not ingest.is_alive()
    assert erase_err == []
    assert ingest_err == []

    assert _records_of_erased_subjects(eraser) == []
    me = Actor(id="me", role="subject", subject=person)
    seen = ingester.query(me, purpose="self_query", subject=person).records
    assert [r.record_id for r in seen] == ingested


@pytest.mark.postgres
def test_erasure_waits_for_an_ingest_that_found_the_subject(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    eraser, ingester = pair
    person = SubjectRef.person(citizen_id(2))
    first = ingester.ingest(clerk_for(HONOR), record_for(ingester, HONOR, person))

    holding, release = threading.Event(), threading.Event()
    real_insert = vault_mod.insert_rows

    def slow_insert(conn: Any, table: Table, *args: Any, **kw: Any) -> Any:
        if table.name == "cv_records" and not holding.is_set():
            holding.set()  # the subject was found; its records are not yet written
            release.wait(30)
        return real_insert(conn, table, *args, **kw)

    monkeypatch.setattr(vault_mod, "insert_rows", slow_insert)
    ingest, ingest_err, ingested = _run(
        lambda: ingester.ingest(clerk_for(HONOR), record_for(ingester, HONOR, person))
    )
    assert holding.wait(30)
    erase, erase_err, erased = _run(
        lambda: eraser.erase_subject(ADMIN, person, legal_basis="PIPL Art 47")
    )
    time.sleep(0.5)  # the erasure reaches the subject row and waits there
    release.set()
    ingest.join(30)
    erase.join(30)
    assert not erase.is_alive()
    assert not ingest.is_alive()
    assert erase_err == []
    assert ingest_err == []

    assert _records_of_erased_subjects(eraser) == []
    assert set(erased[0].records) == {first, *ingested}


@pytest.mark.postgres
def test_two_ingests_creating_one_subject_share_its_row(
    pair: tuple[Vault, Vault], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both look the subject up and miss it; the first inserts it and holds its
    # transaction open; the second's insert waits on that row, does nothing when
    # the first commits, and takes the winner's row.
    first_vault, second_vault = pair
    person = SubjectRef.person(citizen_id(7))
    holding, release = threading.Event(), threading.Event()
    real_insert = vault_mod.insert_rows
    first_thread: list[threading.Thread] = []

    def slow_insert(conn: Any, table: Table, *args: Any, **kw: Any) -> Any:
        if threading.current_thread() in first_thread:
            holding.set()  # the subject row is inserted, not committed
            release.wait(30)
        return real_insert(conn, table, *args, **kw)

    monkeypatch.setattr(vault_mod, "insert_rows", slow_insert)
    first, first_err, first_ids = _run(
        lambda: first_vault.ingest(clerk_for(HONOR), record_for(first_vault, HONOR, person))
    )
    first_thread.append(first)
    assert holding.wait(30)
    second, second_err, second_ids = _run(
        lambda: second_vault.ingest(clerk_for(HONOR), record_for(second_vault, HONOR, person))
    )
    time.sleep(0.5)  # the second reaches its insert and waits on the first's row
    release.set()
    first.join(30)
    second.join(30)
    assert not first.is_alive()
    assert not second.is_alive()
    assert first_err == []
    assert second_err == []

    with second_vault._store.engine.connect() as conn:
        assert len(conn.execute(select(_S.c.id)).all()) == 1
        owners = set(conn.execute(select(_R.c.subject_id)).scalars())
    assert len(owners) == 1
    me = Actor(id="me", role="subject", subject=person)
    seen = second_vault.query(me, purpose="self_query", subject=person).records
    assert sorted(r.record_id for r in seen) == sorted(first_ids + second_ids)


def test_more_new_subjects_than_one_in_list(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite finds subjects with IN lists in chunks (it binds at most 32,766
    # parameters a statement); PostgreSQL with one array parameter, which the
    # chunk size does not touch.
    monkeypatch.setattr(vault_mod, "_IN_CHUNK", 3)
    with Vault.open(db_url, keys=keys, clock=clock) as v:
        register_all_sources(v)
        people = [SubjectRef.person(citizen_id(100 + i)) for i in range(10)]
        v.ingest_many(clerk_for(TRAFFIC), [record_for(v, TRAFFIC, p) for p in people[:4]])
        ids = v.ingest_many(clerk_for(TRAFFIC), [record_for(v, TRAFFIC, p) for p in people])
        assert len(ids) == 10
        with v._store.engine.connect() as conn:
            assert conn.execute(select(_S.c.id)).all().__len__() == 10
        d = v.query(OFFICER, purpose="licensing_review", subject=people[9], ticket="T-1")
        assert [r.record_id for r in d.records] == [ids[9]]


@pytest.mark.postgres
def test_a_batch_of_more_subjects_than_a_statement_has_parameters(
    pg_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    # 7,000 new subjects: one parameter per value (ten columns each) would be
    # 70,000, over PostgreSQL's 65,535. Half exist already, so the lookup finds
    # 3,500 and the insert writes 3,500.
    people = [
        SubjectRef.person(citizen_id(i % 1000, birth=f"19{80 + i // 1000}0101"))
        for i in range(7000)
    ]
    with Vault.open(pg_url, keys=keys, clock=clock) as v:
        register_all_sources(v)
        clerk = clerk_for(TRAFFIC)
        first = v.ingest_many(clerk, [record_for(v, TRAFFIC, p) for p in people[::2]])
        ids = v.ingest_many(clerk, [record_for(v, TRAFFIC, p) for p in people])
        assert len(ids) == 7000
        with v._store.engine.connect() as conn:
            assert len(conn.execute(select(_S.c.id)).all()) == 7000
            subject_of = dict(conn.execute(select(_R.c.id, _R.c.subject_id)).all())
        # Each person's two records (one from each batch) share one subject row.
        for p_index, rid in ((0, first[0]), (6998, first[3499])):
            assert subject_of[rid] == subject_of[ids[p_index]]
        assert len({subject_of[r] for r in ids}) == 7000
        d = v.query(OFFICER, purpose="licensing_review", subject=people[6999], ticket="T-1")
        assert [r.record_id for r in d.records] == [ids[6999]]


def test_conduct_end_in_the_future_is_refused(vault: Vault) -> None:
    rec = record_for(
        vault,
        TRAFFIC,
        SubjectRef.person(citizen_id(3)),
        conduct_ended_on=date(2205, 1, 1),
    )
    before = vault.audit.head().size
    with pytest.raises(InvalidRecord, match="conduct_ended_on must not be in the future"):
        vault.ingest(clerk_for(TRAFFIC), rec)
    assert vault.audit.head().size == before
    # Far enough to overflow the date arithmetic: still the same typed refusal.
    with pytest.raises(InvalidRecord):
        vault.ingest(
            clerk_for(TRAFFIC),
            rec.model_copy(update={"conduct_ended_on": date(9999, 12, 31)}),
        )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"purpose": ["licensing_review"]}, UnknownPurpose),
        ({"purpose": "licensing_review", "ticket": 12345}, InputError),
        ({"purpose": "licensing_review", "ticket": "T", "categories": TRAFFIC}, InputError),
        ({"purpose": "licensing_review", "ticket": "T", "categories": [1]}, InputError),
    ],
)
def test_query_arguments_of_the_wrong_type_get_typed_errors(
    vault: Vault, kwargs: dict[str, Any], error: type[CreditVaultError]
) -> None:
    with pytest.raises(error):
        vault.query(OFFICER, subject=SubjectRef.person(citizen_id(4)), **kwargs)


def test_register_source_refuses_a_bare_string_of_categories(vault: Vault) -> None:
    with pytest.raises(InputError, match="list of category codes"):
        vault.register_source("new-src", name="n", categories=TRAFFIC, actor=ADMIN)
    assert "new-src" not in vault.sources()


def test_ingest_many_takes_a_generator_and_refuses_a_non_list(vault: Vault) -> None:
    people = [SubjectRef.person(citizen_id(10 + i)) for i in range(3)]
    ids = vault.ingest_many(clerk_for(TRAFFIC), (record_for(vault, TRAFFIC, p) for p in people))
    assert len(ids) == 3
    with pytest.raises(InvalidRecord, match="list of RecordIn"):
        vault.ingest_many(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, people[0]))  # type: ignore[arg-type]


def _ops_since(v: Vault, start: int) -> list[tuple[str, str]]:
    return [(e["op"], e["outcome"]) for e in v.audit.entries(start)]


def test_a_refused_actor_is_logged_even_with_an_unknown_category(vault: Vault) -> None:
    person = SubjectRef.person(citizen_id(5))
    bad = record_for(vault, TRAFFIC, person).model_copy(update={"category": "11010519491231002X"})
    third = Actor(id="bank-1", role="third_party", organisation="bank")
    before = vault.audit.head().size
    with pytest.raises(PermissionDenied):
        vault.ingest(third, bad)
    assert _ops_since(vault, before) == [("ingest", "denied")]
    # The unknown code, which might be a mis-mapped personal value, is not logged.
    assert "11010519491231002X" not in repr(vault.audit.entries(before))
    # A permitted clerk still gets the typed input error, and nothing is logged.
    before = vault.audit.head().size
    with pytest.raises(UnknownCategory) as info:
        vault.ingest(clerk_for(TRAFFIC), bad)
    assert "11010519491231002X" not in str(info.value)
    assert vault.audit.head().size == before


def test_an_altered_field_list_is_an_integrity_error_and_logged(vault: Vault) -> None:
    person = SubjectRef.person(citizen_id(6))
    rec = record_for(vault, TRAFFIC, person)
    facts = {k: v for k, v in rec.facts.items() if k != "detail"}
    rid = vault.ingest(clerk_for(TRAFFIC), rec.model_copy(update={"facts": facts}))
    with vault._store.engine.begin() as conn:
        names = conn.execute(select(_R.c.field_names).where(_R.c.id == rid)).scalar_one()
        assert "detail" not in names.split(",")
        # Names a field the stored ciphertexts do not hold.
        conn.execute(update(_R).where(_R.c.id == rid).values(field_names=names + ",detail"))
    me = Actor(id="me", role="subject", subject=person)
    before = vault.audit.head().size
    with pytest.raises(IntegrityError):
        vault.query(me, purpose="self_query", subject=person)
    assert _ops_since(vault, before) == [("query", "error")]


def test_wage_arrears_listed_as_serious_wait_a_year_for_repair(
    vault: Vault, clock: FrozenClock
) -> None:
    wages = "labour.wage_arrears"
    person = SubjectRef.person(citizen_id(7))
    me = Actor(id="me", role="subject", subject=person)
    listed = vault.ingest(
        clerk_for(wages),
        record_for(
            vault,
            wages,
            person,
            decided_on=date(2025, 3, 1),
            occurred_on=date(2025, 1, 1),
            disclosure_until=date(2028, 3, 1),
        ),
    )
    general = vault.ingest(
        clerk_for(wages),
        record_for(vault, wages, person, decided_on=date(2025, 3, 1), occurred_on=date(2025, 1, 1)),
    )
    # 2025-06-01: three months on. The general record may be repaired, the listed one not.
    assert vault.repairs.eligibility(me, general).eligible
    refused = vault.repairs.eligibility(me, listed)
    assert refused.reasons == ("minimum_period_not_passed",)
    assert refused.repair_from == date(2026, 3, 1)


@pytest.mark.postgres
def test_a_connection_lost_during_the_log_append_is_an_audit_failure(
    pg_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from sqlalchemy import create_engine, text

    from credit_vault.errors import AuditWriteFailed

    with Vault.open(pg_url, keys=keys, clock=clock) as v:
        register_all_sources(v)
        person = SubjectRef.person(citizen_id(60))
        v.ingest(clerk_for(TRAFFIC), record_for(v, TRAFFIC, person))
        before = v.audit.head().size
        admin = create_engine(pg_url)
        try:
            with admin.begin() as c:  # the server drops the vault's connection mid-append
                c.execute(
                    text(
                        "CREATE FUNCTION cv_test_die() RETURNS trigger AS $$ BEGIN "
                        "PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NEW; END $$ "
                        "LANGUAGE plpgsql"
                    )
                )
                c.execute(
                    text(
                        "CREATE TRIGGER cv_test_die BEFORE INSERT ON audit_entries "
                        "FOR EACH ROW EXECUTE FUNCTION cv_test_die()"
                    )
                )
            with pytest.raises(AuditWriteFailed):
                v.query(OFFICER, purpose="licensing_review", subject=person, ticket="L-1")
            with admin.begin() as c:
                c.execute(text("DROP TRIGGER cv_test_die ON audit_entries"))
        finally:
            admin.dispose()
        assert v.audit.head().size == before  # nothing was committed
        # The lost connection left the pool; the next call works.
        d = v.query(OFFICER, purpose="licensing_review", subject=person, ticket="L-1")
        assert d.access_seq == before
        assert v.audit.verify().ok
