"""The disclosure lifecycle on SQLite and PostgreSQL: status, windows at read time, sweep, erasure."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select, text, update

from credit_vault import Actor, SubjectRef, Vault, _fields
from credit_vault._lifecycle import (
    SweepProgress,
    _expire_candidates,
    _expire_update,
    _purge_candidates,
    _purge_claim,
    decrypt_facts,
    live_record,
)
from credit_vault.crypto import Envelope, FieldCipher, FileKeyProvider
from credit_vault.errors import (
    InputError,
    InvalidRecord,
    NotFound,
    PermissionDenied,
    RecordNotFound,
    RecordPurged,
)
from credit_vault.storage.tables import Record, RecordVersion, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import AUDITOR, OFFICER, citizen_id, clerk_for, record_for

_R = cast("Table", Record.__table__)
_V = cast("Table", RecordVersion.__table__)
_S = cast("Table", Subject.__table__)

ADMIN = Actor(id="adm-1", role="admin")
HANDLER = Actor(id="h-1", role="objection_handler", organisation="src-penalty-traffic")
STATS = Actor(id="st-1", role="statistician")
TRAFFIC = "penalty.traffic"
HONOR = "honor.commendation"
IDENTITY = "identity.basic"
D = date


def person(n: int, name: str | None = None) -> SubjectRef:
    return SubjectRef.person(citizen_id(n), name=name)


def ingest(vault: Vault, category: str, subject: SubjectRef, **kw: Any) -> str:
    return vault.ingest(clerk_for(category), record_for(vault, category, subject, **kw))


def licensing(vault: Vault, subject: SubjectRef) -> set[str]:
    d = vault.query(OFFICER, purpose="licensing_review", subject=subject, ticket="LIC-1")
    return {r.record_id for r in d.records}


def retained(vault: Vault, subject: SubjectRef) -> set[str]:
    me = Actor(id="me", role="subject", subject=subject)
    d = vault.query(me, purpose="self_query", subject=subject)
    return {r.record_id for r in d.records}


def entries(vault: Vault, *ops: str) -> list[dict[str, Any]]:
    return [e for e in vault.audit.entries() if not ops or e["op"] in ops]


def row(vault: Vault, record_id: str) -> Any:
    with vault._tx() as conn:
        return conn.execute(select(_R).where(_R.c.id == record_id)).one()


def at_shanghai(y: int, m: int, d: int, hh: int = 10, mm: int = 0, ss: int = 0) -> datetime:
    """A Shanghai wall-clock time as the UTC instant the FrozenClock wants."""
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC) - timedelta(hours=8)


# --- record_status -------------------------------------------------------------------------


def test_record_status_reports_states_without_decrypting(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = person(1)
    current = ingest(vault, TRAFFIC, s)
    ended = ingest(vault, TRAFFIC, s, decided_on=D(2024, 3, 1), occurred_on=D(2024, 1, 1))
    old = ingest(vault, TRAFFIC, s, decided_on=D(2020, 3, 1), occurred_on=D(2020, 1, 1))

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("record_status and sweep must not decrypt")

    monkeypatch.setattr(Envelope, "unwrap", boom)
    monkeypatch.setattr(FieldCipher, "decrypt", boom)

    st = vault.record_status(ADMIN, current)
    assert (st.state, st.stored_state, st.disclosable) == ("active", "active", True)
    assert (st.disclosure_starts_on, st.disclosure_ends_on) == (D(2025, 3, 1), D(2026, 3, 1))
    assert (st.repair_from, st.purge_on, st.purge_due) == (D(2025, 6, 1), D(2029, 12, 1), False)
    assert (st.category, st.source, st.version, st.as_of) == (
        TRAFFIC,
        "src-penalty-traffic",
        1,
        D(2025, 6, 1),
    )
    st = vault.record_status(ADMIN, ended)
    # Read-time: expired although no sweep has recorded it yet.
    assert (st.state, st.stored_state, st.disclosable, st.purge_due) == (
        "expired",
        "active",
        False,
        False,
    )
    st = vault.record_status(ADMIN, old)
    # Read as deleted from its purge date, before the sweep shreds it.
    assert (st.state, st.stored_state, st.purge_due, st.purge_on) == (
        "purged",
        "active",
        True,
        D(2025, 1, 1),
    )

    report = vault.sweep(ADMIN)
    assert (report.purged, report.expired) == (1, 1)

    st = vault.record_status(ADMIN, old)
    assert (st.state, st.stored_state, st.disclosable) == ("purged", "purged", False)
    assert st.ended_reason == "retention"
    assert st.purged_at is not None
    assert st.purged_at.tzinfo is not None
    assert st.purged_at == vault.clock.now()
    assert st.purge_on == D(2025, 1, 1)  # the tombstone keeps its dates
    st = vault.record_status(ADMIN, ended)
    assert (st.state, st.stored_state, st.ended_reason) == ("expired", "expired", "window_ended")
    assert vault.record_status(ADMIN, current).stored_state == "active"
    status_entries = entries(vault, "status")
    assert len(status_entries) == 6
    assert all(e["outcome"] == "ok" and len(e["records"]) == 1 for e in status_entries)
    assert all(e["subject"] == vault.pseudonym(s) for e in status_entries)


def test_record_status_follows_the_policy_and_logs_every_call(vault: Vault) -> None:
    me = person(2)
    neg = ingest(vault, TRAFFIC, me)
    pos = ingest(vault, HONOR, me)
    cases: list[tuple[Actor, str, str | None, str | None]] = [
        (ADMIN, neg, None, None),
        (clerk_for(TRAFFIC), neg, None, None),  # the record's own source
        (clerk_for(HONOR), neg, None, "category_not_granted"),  # another source
        (Actor(id="me", role="subject", subject=me), neg, None, None),
        (Actor(id="other", role="subject", subject=person(3)), neg, None, "not_self"),
        # licensing_review covers negative categories, with the ticket its grant asks
        (OFFICER, neg, "LIC-1", None),
        (OFFICER, neg, None, "ticket_required"),
        (OFFICER, pos, "LIC-1", "category_not_granted"),
        (AUDITOR, pos, None, None),  # audit: metadata of every category
        (STATS, neg, None, "role_not_granted"),  # aggregates only, never one record
    ]
    for actor, rid, ticket, denial in cases:
        before = vault.audit.head().size
        if denial is None:
            assert vault.record_status(actor, rid, ticket=ticket).record_id == rid
        else:
            with pytest.raises(PermissionDenied):
                vault.record_status(actor, rid, ticket=ticket)
        new = vault.audit.entries(start=before)
        assert len(new) == 1, actor
        assert new[0]["op"] == "status"
        assert new[0]["records"] == [rid]
        assert new[0]["outcome"] == ("ok" if denial is None else "denied"), actor
        assert new[0]["reason"] == (denial or ""), actor
    assert vault.audit.verify().ok


def test_record_status_unknown_id(vault: Vault) -> None:
    with pytest.raises(RecordNotFound):
        vault.record_status(ADMIN, "r_000000000000000000000000")
    last = entries(vault)[-1]
    assert (last["op"], last["outcome"], last["reason"]) == ("status", "error", "record_not_found")
    for bad in ("", "x" * 65, 7):
        with pytest.raises(InvalidRecord):
            vault.record_status(ADMIN, bad)  # type: ignore[arg-type]


# --- windows and purge dates at read time, in Asia/Shanghai --------------------------------


def test_window_ends_at_shanghai_midnight_while_utc_is_the_previous_day(
    vault: Vault, clock: FrozenClock
) -> None:
    s = person(4)
    rid = ingest(vault, TRAFFIC, s)  # disclosed 2025-03-01 .. 2026-02-28 inclusive
    clock.set(datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC))  # 23:59:59 in Shanghai
    assert licensing(vault, s) == {rid}
    assert vault.record_status(ADMIN, rid).disclosable
    assert vault.sweep(ADMIN).expired == 0
    clock.advance(timedelta(seconds=1))  # 00:00 on 03-01 in Shanghai; UTC still says 02-28
    assert clock.now().date() == D(2026, 2, 28)
    assert vault.today() == D(2026, 3, 1)
    assert licensing(vault, s) == set()  # no sweep needed
    st = vault.record_status(ADMIN, rid)
    assert (st.state, st.stored_state, st.disclosable) == ("expired", "active", False)
    assert retained(vault, s) == {rid}
    assert vault.sweep(ADMIN).expired == 1
    assert licensing(vault, s) == set()
    assert retained(vault, s) == {rid}


def test_purge_date_boundary_in_shanghai(vault: Vault, clock: FrozenClock) -> None:
    s = person(5)
    rid = ingest(vault, TRAFFIC, s, decided_on=D(2020, 7, 1), occurred_on=D(2020, 6, 10))
    clock.set(at_shanghai(2025, 6, 9, 23, 59, 59))
    assert retained(vault, s) == {rid}
    assert vault.sweep(ADMIN).purged == 0
    clock.advance(timedelta(seconds=1))  # 2025-06-10 00:00 Shanghai = 06-09 16:00 UTC
    # From the start of the purge date nothing reaches any purpose, swept or not.
    assert retained(vault, s) == set()
    assert vault.record_status(ADMIN, rid).purge_due
    assert vault.sweep(ADMIN).purged == 1
    assert row(vault, rid).wrapped_key is None


def test_time_zone_is_configurable(vault: Vault, db_url: str, keys: FileKeyProvider) -> None:
    s = person(6)
    rid = ingest(vault, TRAFFIC, s)
    instant = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    utc_vault = Vault.open(db_url, keys=keys, clock=FrozenClock(instant), timezone="UTC")
    try:
        vault.clock.set(instant)  # type: ignore[attr-defined]
        assert licensing(vault, s) == set()  # already 03-01 in Shanghai
        assert licensing(utc_vault, s) == {rid}  # still 02-28 in UTC
        assert utc_vault.record_status(ADMIN, rid).state == "active"
        assert utc_vault.sweep(ADMIN).expired == 0
    finally:
        utc_vault.close()


# --- sweep ---------------------------------------------------------------------------------


def test_sweep_is_admin_only_and_denials_are_logged(vault: Vault) -> None:
    for actor in (OFFICER, AUDITOR, clerk_for(TRAFFIC)):
        with pytest.raises(PermissionDenied):
            vault.sweep(actor)
        last = entries(vault)[-1]
        assert (last["op"], last["outcome"], last["reason"]) == (
            "sweep",
            "denied",
            "role_not_admin",
        )
    for bad in (0, 10_001, True, "5"):
        with pytest.raises(InputError):
            vault.sweep(ADMIN, batch_size=bad)  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        vault.sweep("admin")  # type: ignore[arg-type]


def _population(vault: Vault) -> tuple[set[str], set[str], set[str]]:
    """Seven records past retention, five whose window ended, two current (as of 2025-06-01)."""
    recs_old = [
        record_for(
            vault, TRAFFIC, person(10 + i), decided_on=D(2020, 3, 1), occurred_on=D(2020, 1, i + 1)
        )
        for i in range(7)
    ]
    recs_ended = [
        record_for(
            vault, TRAFFIC, person(20 + i), decided_on=D(2024, 3, i + 1), occurred_on=D(2024, 1, 1)
        )
        for i in range(5)
    ]
    recs_now = [record_for(vault, TRAFFIC, person(30 + i)) for i in range(2)]
    ids = vault.ingest_many(clerk_for(TRAFFIC), [*recs_old, *recs_ended, *recs_now])
    return set(ids[:7]), set(ids[7:12]), set(ids[12:])


def test_sweep_batches_log_each_transition_once_and_is_idempotent(vault: Vault) -> None:
    old, ended, current = _population(vault)
    events: list[SweepProgress] = []
    report = vault.sweep(ADMIN, batch_size=3, progress=events.append)
    assert (report.purged, report.expired, report.batches) == (7, 5, 5)
    purge = entries(vault, "purge")
    expire = entries(vault, "expire")
    assert [len(e["records"]) for e in purge] == [3, 3, 1]
    assert [len(e["records"]) for e in expire] == [3, 2]
    purged_ids = [r for e in purge for r in e["records"]]
    expired_ids = [r for e in expire for r in e["records"]]
    assert sorted(purged_ids) == sorted(old)  # each exactly once
    assert sorted(expired_ids) == sorted(ended)
    assert {e["reason"] for e in purge} == {"retention"}
    assert {e["reason"] for e in expire} == {"window_ended"}
    assert all(e["categories"] == [TRAFFIC] and e["role"] == "admin" for e in purge + expire)
    assert sorted(report.entries) == sorted(e["seq"] for e in purge + expire)
    summary = entries(vault, "sweep")[-1]
    assert (summary["x_purged"], summary["x_expired"], summary["x_today"]) == (
        "7",
        "5",
        "2025-06-01",
    )
    assert summary["seq"] == report.access_seq
    # Progress: per phase, done grows to the total found due.
    assert [(e.phase, e.done, e.total) for e in events] == [
        ("purge", 3, 7),
        ("purge", 6, 7),
        ("purge", 7, 7),
        ("expire", 3, 5),
        ("expire", 5, 5),
    ]
    for rid in current:
        assert row(vault, rid).state == "active"
    again = vault.sweep(ADMIN, batch_size=3)
    assert (again.purged, again.expired, again.batches, again.entries) == (0, 0, 0, ())
    assert len(entries(vault, "purge", "expire")) == 5
    assert vault.audit.verify().ok


def test_interrupted_sweep_resumes_without_repeating(vault: Vault) -> None:
    old, ended, _ = _population(vault)

    class Stop(Exception):
        pass

    def stop_after_two(event: SweepProgress) -> None:
        if event.done >= 4:
            raise Stop

    with pytest.raises(Stop):
        vault.sweep(ADMIN, batch_size=2, progress=stop_after_two)
    assert sum(len(e["records"]) for e in entries(vault, "purge")) == 4  # two batches committed
    report = vault.sweep(ADMIN, batch_size=2)
    assert (report.purged, report.expired) == (3, 5)
    purged_ids = [r for e in entries(vault, "purge") for r in e["records"]]
    assert sorted(purged_ids) == sorted(old)
    assert sorted(r for e in entries(vault, "expire") for r in e["records"]) == sorted(ended)


def test_purged_record_is_a_tombstone_and_its_facts_are_gone(
    vault: Vault, clock: FrozenClock
) -> None:
    s = person(7, name="张三")
    rid = ingest(vault, TRAFFIC, s, decided_on=D(2020, 3, 1), occurred_on=D(2020, 1, 1))
    with vault._tx() as conn:
        # A statement as the statements feature stores it (opaque bytes here).
        conn.execute(update(_R).where(_R.c.id == rid).values(statement_ct=b"\x01opaque"))
    before = row(vault, rid)
    with vault._tx() as conn:
        assert decrypt_facts(vault, live_record(conn, rid))  # readable before the sweep
    vault.sweep(ADMIN)
    after = row(vault, rid)
    assert after.state == "purged"
    for col in ("wrapped_key", "fields", "statement_ct", "kek_id"):
        assert getattr(after, col) is None, col
    assert after.field_names == ""
    assert after.ended_reason == "retention"
    for col in (
        "category",
        "source_code",
        "subject_id",
        "legal_basis",
        "decided_on",
        "occurred_on",
        "disclosure_starts_on",
        "disclosure_ends_on",
        "purge_on",
        "version",
        "created_at",
    ):
        assert getattr(after, col) == getattr(before, col), col
    with vault._tx() as conn, pytest.raises(RecordPurged):
        live_record(conn, rid)
    with pytest.raises(RecordPurged):
        decrypt_facts(vault, after)
    with vault._tx() as conn, pytest.raises(RecordNotFound):
        live_record(conn, "r_nope")
    me = Actor(id="me", role="subject", subject=s)
    own = vault.query(me, purpose="self_query", subject=s)
    assert own.records == ()
    assert own.subject_name == "张三"  # the subject is not erased by a record's purge
    clock.advance(timedelta(days=3650))
    assert vault.query(me, purpose="self_query", subject=s).records == ()


def _supersede(vault: Vault, record_id: str, marker: str) -> None:
    """What a correction does (issue 6): the current version moves to cv_record_versions."""
    now = vault.clock.now()
    with vault._tx() as conn:
        cur = conn.execute(select(_R).where(_R.c.id == record_id)).one()
        conn.execute(
            insert(_V).values(
                record_id=record_id,
                version=cur.version,
                kek_id=cur.kek_id,
                wrapped_key=cur.wrapped_key,
                fields=cur.fields,
                field_names=cur.field_names,
                reason="correction",
                superseded_at=now,
            )
        )
        cat = vault.catalog.get(cur.category)
        facts = cat.validate_facts(record_for(vault, cur.category, person(0), marker=marker).facts)
        new_version = cur.version + 1
        dk, wrapped = vault._envelope.new_data_key(record_id, new_version)
        names = list(facts)
        cts = FieldCipher(dk).encrypt_many(
            record_id, [(n, _fields.encode_value(facts[n])) for n in names]
        )
        conn.execute(
            update(_R)
            .where(_R.c.id == record_id)
            .values(
                version=new_version,
                wrapped_key=wrapped,
                fields=_fields.pack(zip(names, cts, strict=True)),
                field_names=",".join(names),
            )
        )


def test_old_versions_are_never_disclosed_and_are_purged_with_the_record(
    vault: Vault, clock: FrozenClock
) -> None:
    s = person(8)
    rid = ingest(vault, TRAFFIC, s, marker="FIRST")
    _supersede(vault, rid, "SECOND")
    for d in (
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1"),
        vault.query(HANDLER, purpose="objection_handling", subject=s, ticket="OBJ-1"),
        vault.query(Actor(id="me", role="subject", subject=s), purpose="self_query", subject=s),
    ):
        (rec,) = d.records
        assert rec.version == 2
        assert rec.facts["summary"].startswith("SECOND")
        assert not any(str(v).startswith("FIRST") for v in rec.facts.values())
    clock.set(at_shanghai(2029, 12, 1, 0, 0))  # purge date of conduct 2024-12-01
    assert vault.sweep(ADMIN).purged == 1
    with vault._tx() as conn:
        versions = conn.execute(select(_V).where(_V.c.record_id == rid)).all()
    assert len(versions) == 1
    (v1,) = versions
    assert (v1.version, v1.wrapped_key, v1.fields, v1.kek_id, v1.field_names) == (
        1,
        None,
        None,
        None,
        "",
    )
    assert v1.reason == "correction"


def test_sweep_walks_the_due_date_indexes(vault: Vault) -> None:
    today = D(2025, 6, 1)
    engine = vault._store.engine
    with engine.connect() as conn:
        for stmt, index in (
            (_purge_candidates(today, 500), "ix_cv_records_state_purge"),
            (_expire_candidates(today, 500), "ix_cv_records_state_ends"),
        ):
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            if vault.dialect == "sqlite":
                plan = " ".join(
                    str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
                )
                assert f"USING INDEX {index}" in plan, plan
                assert "SCAN" not in plan, plan
            else:
                # An empty table makes a sequential scan cheapest; ask whether the
                # index serves the query at all.
                conn.execute(text("SET LOCAL enable_seqscan = off"))
                plan = " ".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
                assert index in plan, plan


def test_batches_find_their_ids_by_primary_key(sqlite_vault: Vault) -> None:
    """With 500 bound ids, the planner must not walk the state index instead (SQLite guesses).

    SQLite only: PostgreSQL plans from statistics, and the guess this guards against is SQLite's.
    """
    vault = sqlite_vault
    ids = [f"r_{i:024x}" for i in range(500)]
    engine = vault._store.engine
    now = datetime(2025, 6, 1, tzinfo=UTC)
    with engine.connect() as conn:
        for stmt in (_purge_claim(ids, D(2025, 6, 1)), _expire_update(ids, now)):
            compiled = stmt.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            params = compiled.construct_params()
            args = tuple(params[k] for k in compiled.positiontup or ())
            plan = " ".join(
                str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args)
            )
            assert "USING INDEX sqlite_autoindex_cv_records_1 (id=?)" in plan, plan


# --- subject erasure -----------------------------------------------------------------------


def test_erasure_is_admin_only(vault: Vault) -> None:
    s = person(40)
    ingest(vault, HONOR, s)
    with pytest.raises(PermissionDenied):
        vault.erase_subject(OFFICER, s, legal_basis="个人信息保护法 第47条")
    last = entries(vault)[-1]
    assert (last["op"], last["outcome"], last["reason"]) == ("erase", "denied", "role_not_admin")
    assert last["subject"] == vault.pseudonym(s)
    for bad in ("", "   ", "x" * 201, "a\nb"):
        with pytest.raises(InvalidRecord):
            vault.erase_subject(ADMIN, s, legal_basis=bad)
    with pytest.raises(InvalidRecord):
        vault.erase_subject(ADMIN, citizen_id(40), legal_basis="PIPL 47")  # type: ignore[arg-type]


def test_erasure_refused_while_retention_is_mandatory(vault: Vault) -> None:
    s = person(41)
    neg = ingest(vault, TRAFFIC, s)
    pos = ingest(vault, HONOR, s)
    with pytest.raises(PermissionDenied, match=r"penalty\.traffic") as info:
        vault.erase_subject(ADMIN, s, legal_basis="个人信息保护法 第47条")
    assert HONOR not in info.value.message
    last = entries(vault)[-1]
    assert (last["op"], last["outcome"], last["reason"]) == (
        "erase",
        "denied",
        "retention_mandatory",
    )
    assert last["categories"] == [TRAFFIC]
    assert last["basis"] == "个人信息保护法 第47条"
    # Nothing changed.
    assert row(vault, neg).wrapped_key is not None
    assert row(vault, pos).wrapped_key is not None
    assert retained(vault, s) == {neg, pos}


def test_erasure_shreds_records_and_identity(vault: Vault) -> None:
    s = person(42, name="李四")
    ids = [ingest(vault, HONOR, s), ingest(vault, IDENTITY, s)]
    subject_id = row(vault, ids[0]).subject_id
    with vault._tx() as conn:
        srow_before = conn.execute(select(_S).where(_S.c.id == subject_id)).one()
    report = vault.erase_subject(ADMIN, s, legal_basis="个人信息保护法 第47条")
    assert sorted(report.records) == sorted(ids)
    assert report.categories == tuple(sorted([HONOR, IDENTITY]))
    assert report.subject_pseudonym == vault.pseudonym(s)
    last = entries(vault)[-1]
    assert (last["op"], last["outcome"], last["seq"]) == ("erase", "ok", report.access_seq)
    assert sorted(last["records"]) == sorted(ids)
    for rid in ids:
        r = row(vault, rid)
        assert (r.state, r.ended_reason, r.wrapped_key, r.fields) == (
            "purged",
            "erasure",
            None,
            None,
        )
    with vault._tx() as conn:
        srow = conn.execute(select(_S).where(_S.c.id == srow_before.id)).one()
    for col in ("wrapped_key", "identity_ct", "name_ct", "name_lookup", "kek_id"):
        assert getattr(srow, col) is None, col
    assert srow.pseudonym == ""
    assert srow.erased_at is not None
    assert bytes(srow.lookup) != bytes(srow_before.lookup)
    # The person is no longer findable: reads return nothing, a second erasure finds nobody.
    me = Actor(id="me", role="subject", subject=s)
    own = vault.query(me, purpose="self_query", subject=s)
    assert (own.records, own.subject_name) == ((), None)
    with pytest.raises(NotFound):
        vault.erase_subject(ADMIN, s, legal_basis="个人信息保护法 第47条")
    assert (entries(vault)[-1]["outcome"], entries(vault)[-1]["reason"]) == (
        "error",
        "subject_not_found",
    )
    # A later record for the same person starts a new subject.
    new = ingest(vault, HONOR, person(42, name="李四"))
    assert row(vault, new).subject_id != srow_before.id
    own = vault.query(me, purpose="self_query", subject=s)
    assert [r.record_id for r in own.records] == [new]
    assert own.subject_name == "李四"
    assert vault.audit.verify().ok


def test_erasure_allowed_once_negative_retention_is_over(vault: Vault) -> None:
    s = person(43)
    old = ingest(vault, TRAFFIC, s, decided_on=D(2020, 3, 1), occurred_on=D(2020, 1, 1))
    pos = ingest(vault, HONOR, s)
    report = vault.erase_subject(ADMIN, s, legal_basis="个人信息保护法 第47条")
    assert sorted(report.records) == sorted([old, pos])
    assert row(vault, old).ended_reason == "erasure"
    assert vault.sweep(ADMIN).purged == 0  # nothing left to purge twice


def test_purge_shreds_what_the_workflows_keep_about_the_record(
    vault: Vault, clock: FrozenClock
) -> None:
    """A corrected, objected, revoked record: every version and workflow text goes with it."""
    from credit_vault.storage.tables import ObjectionRow, RecordChangeRow

    s = person(50)
    me = Actor(id="me", role="subject", subject=s)
    rid = ingest(vault, TRAFFIC, s, marker="FIRST")
    vault.objections.file(me, rid, reason="金额有误", statement="我有异议")
    fixed = record_for(vault, TRAFFIC, s, marker="SECOND").facts
    vault.records.correct(clerk_for(TRAFFIC), rid, facts=fixed, reason="录入错误")
    vault.records.revoke(clerk_for(TRAFFIC), rid, reason="决定已撤销")
    st = vault.record_status(ADMIN, rid)
    assert (st.state, st.version, st.disclosable) == ("revoked", 2, False)
    assert licensing(vault, s) == set()
    assert retained(vault, s) == {rid}

    obj_t = cast("Table", ObjectionRow.__table__)
    chg_t = cast("Table", RecordChangeRow.__table__)
    with vault._tx() as conn:
        assert conn.execute(select(obj_t.c.reason_ct).where(obj_t.c.record_id == rid)).scalar()
        assert conn.execute(select(_V.c.wrapped_key).where(_V.c.record_id == rid)).scalar()
    assert row(vault, rid).statement_ct is not None

    clock.set(at_shanghai(2029, 12, 1, 0, 0))
    assert vault.sweep(ADMIN).purged == 1
    assert vault.record_status(ADMIN, rid).state == "purged"
    with vault._tx() as conn:
        objections = conn.execute(select(obj_t).where(obj_t.c.record_id == rid)).all()
        changes = conn.execute(select(chg_t).where(chg_t.c.record_id == rid)).all()
        versions = conn.execute(select(_V).where(_V.c.record_id == rid)).all()
    assert objections
    assert changes
    assert all(o.reason_ct is None and o.decision_ct is None for o in objections)
    assert all(c.reason_ct is None for c in changes)
    assert versions
    assert all(v.wrapped_key is None and v.fields is None for v in versions)
    assert row(vault, rid).statement_ct is None
    assert retained(vault, s) == set()
