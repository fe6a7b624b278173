"""The vault's core path on a real SQLite file and a real PostgreSQL schema."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import (
    AuditWriteFailed,
    ConfigurationError,
    ConsentRequired,
    IntegrityError,
    InvalidPeriodOverride,
    InvalidRecord,
    PermissionDenied,
    TicketRequired,
    UnknownCategory,
    UnknownPurpose,
)
from credit_vault.storage.tables import AuditEntry, Record, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import (
    AUDITOR,
    ENFORCER,
    OFFICER,
    THIRD,
    citizen_id,
    clerk_for,
    credit_code,
    full_facts,
    make_log_unwritable,
    record_for,
)

PERSON = citizen_id(1)
TAX = "tax.major_violation"


def _count(vault: Vault, table: type) -> int:
    with vault._store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table.__table__)).scalar_one())


def _last_entry(vault: Vault) -> dict[str, object]:
    return vault.audit.entries()[-1]


def test_ingest_then_licensing_review_sees_restricted_tier(vault: Vault) -> None:
    subject = SubjectRef.person(PERSON, name="张三")
    rid = vault.ingest(clerk_for(TAX), record_for(vault, TAX, subject))
    d = vault.query(
        OFFICER, purpose="licensing_review", subject=SubjectRef.person(PERSON), ticket="XK-2025-001"
    )
    assert [r.record_id for r in d.records] == [rid]
    rec = d.records[0]
    assert set(rec.facts) == {"decision_no", "authority", "summary", "penalty_kind", "amount"}
    assert "detail" in rec.withheld_fields
    assert rec.disclosure_ends_on == date(2028, 3, 1)
    assert d.subject_name is None
    entry = _last_entry(vault)
    assert entry["seq"] == d.access_seq
    assert entry["records"] == [rid]
    assert "detail" not in entry["fields"]
    assert entry["ticket"] == "XK-2025-001"
    assert PERSON not in str(entry)


def test_self_query_sees_everything_including_name(vault: Vault) -> None:
    subject = SubjectRef.person(PERSON, name="李四")
    vault.ingest(clerk_for("penalty.minor"), record_for(vault, "penalty.minor", subject))
    me = Actor(id="citizen-1", role="subject", subject=SubjectRef.person(PERSON))
    d = vault.query(me, purpose="self_query", subject=SubjectRef.person(PERSON))
    assert d.subject_name == "李四"
    assert len(d.records) == 1
    assert "detail" in d.records[0].facts
    # penalty.minor is never disclosed to disclosure purposes.
    assert d.records[0].disclosable is False
    officer = vault.query(OFFICER, purpose="licensing_review", subject=subject, ticket="T-1")
    assert officer.records == ()


@pytest.mark.parametrize(
    ("actor", "purpose", "ticket", "error", "reason"),
    [
        (OFFICER, "no_such_purpose", "T-1", UnknownPurpose, "unknown_purpose"),
        (THIRD, "licensing_review", "T-1", PermissionDenied, "role_not_granted"),
        (OFFICER, "licensing_review", None, TicketRequired, "ticket_required"),
        (THIRD, "authorized_query", None, ConsentRequired, "consent_required"),
        (
            Actor(id="c-2", role="subject", subject=SubjectRef.person(citizen_id(2))),
            "self_query",
            None,
            PermissionDenied,
            "not_self",
        ),
        (AUDITOR, "audit", None, PermissionDenied, "purpose_not_for_records"),
    ],
)
def test_each_denial_raises_and_is_logged(
    vault: Vault,
    actor: Actor,
    purpose: str,
    ticket: str | None,
    error: type[Exception],
    reason: str,
) -> None:
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(PERSON)))
    before = vault.audit.head().size
    with pytest.raises(error) as info:
        vault.query(actor, purpose=purpose, subject=SubjectRef.person(PERSON), ticket=ticket)
    assert type(info.value) is error
    assert vault.audit.head().size == before + 1
    entry = _last_entry(vault)
    assert entry["outcome"] == "denied"
    assert entry["reason"] == reason
    assert entry["records"] == []
    assert entry["fields"] == []
    assert PERSON not in str(info.value)


def test_category_not_granted_is_denied_and_logged(vault: Vault) -> None:
    with pytest.raises(PermissionDenied):
        vault.query(
            ENFORCER,
            purpose="joint_punishment",
            subject=SubjectRef.person(PERSON),
            ticket="ZX-1",
            categories=["penalty.traffic"],
        )
    assert _last_entry(vault)["reason"] == "category_not_granted"


def test_joint_punishment_sees_only_serious(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
    vault.ingest(clerk_for("penalty.traffic"), record_for(vault, "penalty.traffic", s))
    d = vault.query(ENFORCER, purpose="joint_punishment", subject=s, ticket="ZX-1")
    assert [r.category for r in d.records] == [TAX]


def test_ingest_rules(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    base = record_for(vault, TAX, s)
    with pytest.raises(PermissionDenied):
        vault.ingest(OFFICER, base)
    assert _last_entry(vault)["outcome"] == "denied"
    with pytest.raises(PermissionDenied):
        vault.ingest(clerk_for("penalty.traffic"), base)  # source not registered for tax
    with pytest.raises(InvalidRecord, match="legal basis"):
        vault.ingest(clerk_for(TAX), base.model_copy(update={"legal_basis": "随便什么法"}))
    with pytest.raises(UnknownCategory):
        vault.ingest(clerk_for(TAX), base.model_copy(update={"category": "tax.nothing"}))
    facts = dict(base.facts)
    facts["blood_type"] = "AB"
    with pytest.raises(InvalidRecord, match="blood_type") as info:
        vault.ingest(clerk_for(TAX), base.model_copy(update={"facts": facts}))
    assert "'AB'" not in str(info.value)
    facts = dict(base.facts)
    facts["amount"] = 12.5
    with pytest.raises(InvalidRecord, match="amount"):
        vault.ingest(clerk_for(TAX), base.model_copy(update={"facts": facts}))
    facts = dict(base.facts)
    del facts["decision_no"]
    with pytest.raises(InvalidRecord, match="decision_no"):
        vault.ingest(clerk_for(TAX), base.model_copy(update={"facts": facts}))
    facts = dict(base.facts)
    facts["secret_note"] = "SECRETVALUE"
    with pytest.raises(InvalidRecord, match="secret_note") as info2:
        vault.ingest(clerk_for(TAX), base.model_copy(update={"facts": facts}))
    assert "SECRETVALUE" not in str(info2.value)
    assert _count(vault, Record) == 0


def test_forbidden_fields_refused_by_name(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    for name in [
        "religion",
        "genes",
        "fingerprint",
        "blood_type",
        "disease",
        "medical_history",
        "宗教信仰",
    ]:
        rec = record_for(vault, TAX, s)
        facts = dict(rec.facts)
        facts[name] = "x"
        with pytest.raises(InvalidRecord, match="may not be collected"):
            vault.ingest(clerk_for(TAX), rec.model_copy(update={"facts": facts}))


def test_ingest_many_is_all_or_nothing(vault: Vault) -> None:
    good = [record_for(vault, TAX, SubjectRef.person(citizen_id(i))) for i in range(5)]
    bad = good[2].model_copy(update={"facts": {"decision_no": "x"}})
    head = vault.audit.head().size
    with pytest.raises(InvalidRecord, match="record 5"):
        vault.ingest_many(clerk_for(TAX), [*good, bad])
    assert _count(vault, Record) == 0
    assert _count(vault, Subject) == 0
    assert vault.audit.head().size == head
    ids = vault.ingest_many(clerk_for(TAX), good)
    assert len(ids) == 5
    assert _count(vault, Record) == 5
    entry = _last_entry(vault)
    assert entry["op"] == "ingest"
    assert entry["records"] == ids


def test_ingest_leaves_the_cyclic_collector_as_it_found_it(vault: Vault) -> None:
    # Ingest pauses the collector for the batch (credit_vault/_gcpause.py).
    import gc

    recs = [record_for(vault, TAX, SubjectRef.person(citizen_id(i))) for i in range(3)]
    assert gc.isenabled()
    vault.ingest_many(clerk_for(TAX), recs)
    assert gc.isenabled()
    with pytest.raises(InvalidRecord):
        vault.ingest_many(clerk_for(TAX), [recs[0].model_copy(update={"facts": {}})])
    assert gc.isenabled()
    with pytest.raises(PermissionDenied):
        vault.ingest_many(OFFICER, recs)
    assert gc.isenabled()


def test_minors_refused_for_min_age_categories(vault: Vault) -> None:
    child = SubjectRef.person(citizen_id(3, birth="20100101"))
    with pytest.raises(InvalidRecord, match="aged 18"):
        vault.ingest(clerk_for("court.defaulter"), record_for(vault, "court.defaulter", child))


def test_period_override_within_limits(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    rec = record_for(vault, "court.defaulter", s, disclosure_until=date(2029, 3, 1))
    vault.ingest(clerk_for("court.defaulter"), rec)
    with pytest.raises(InvalidPeriodOverride):
        vault.ingest(
            clerk_for("court.defaulter"),
            record_for(vault, "court.defaulter", s, disclosure_until=date(2031, 3, 2)),
        )
    with pytest.raises(InvalidPeriodOverride):
        vault.ingest(
            clerk_for("court.defaulter"),
            record_for(vault, "court.defaulter", s, disclosure_until=date(2026, 3, 1)),
        )


def test_window_enforced_at_read_time(vault: Vault, clock: FrozenClock) -> None:
    s = SubjectRef.person(PERSON)
    vault.ingest(clerk_for("penalty.traffic"), record_for(vault, "penalty.traffic", s))
    # penalty.traffic: 1 year from 2025-03-01 → disclosed until 2026-02-28 inclusive.
    assert len(vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T").records) == 1
    clock.set(clock.now().replace(year=2026, month=2, day=28, hour=15, minute=59))  # 23:59 Shanghai
    assert len(vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T").records) == 1
    clock.advance(timedelta(minutes=1))  # 2026-03-01 00:00 in Shanghai, still 02-28 in UTC
    assert vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T").records == ()
    # Retained-scope purposes still see it.
    handler = Actor(id="h-1", role="objection_handler", organisation="src-penalty-traffic")
    assert (
        len(vault.query(handler, purpose="objection_handling", subject=s, ticket="YY-1").records)
        == 1
    )


def test_organisation_subjects(vault: Vault) -> None:
    org = SubjectRef.organisation(credit_code(5), name="咸宁某某公司")
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, org))
    d = vault.query(
        OFFICER,
        purpose="licensing_review",
        subject=SubjectRef.organisation(credit_code(5)),
        ticket="T",
    )
    assert len(d.records) == 1


def test_unknown_subject_query_is_logged_with_no_records(vault: Vault) -> None:
    d = vault.query(
        OFFICER, purpose="licensing_review", subject=SubjectRef.person(citizen_id(9)), ticket="T"
    )
    assert d.records == ()
    assert _last_entry(vault)["outcome"] == "ok"


def test_unwritable_log_means_no_disclosure(vault: Vault, db_url: str) -> None:
    s = SubjectRef.person(PERSON)
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
    engine = create_engine(db_url)
    with engine.begin() as conn:
        make_log_unwritable(conn)
    engine.dispose()
    result = None
    with pytest.raises(AuditWriteFailed):
        result = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T")
    assert result is None
    with pytest.raises(AuditWriteFailed):
        vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
    assert _count(vault, Record) == 1
    with pytest.raises(AuditWriteFailed):
        vault.query(
            OFFICER, purpose="licensing_review", subject=s
        )  # the denial cannot be logged either


@pytest.mark.parametrize("column", ["fields", "wrapped_key"])
def test_swapped_ciphertexts_fail_loudly(vault: Vault, db_url: str, column: str) -> None:
    """Field ciphertexts or wrapped data keys swapped between two rows never decrypt."""
    a = vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(citizen_id(1))))
    b = vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(citizen_id(2))))
    engine = create_engine(db_url)
    t = Record.__table__
    col = t.c[column]
    with engine.begin() as conn:
        va = conn.execute(select(col).where(t.c.id == a)).scalar_one()
        vb = conn.execute(select(col).where(t.c.id == b)).scalar_one()
        conn.execute(t.update().where(t.c.id == a).values({column: vb}))
        conn.execute(t.update().where(t.c.id == b).values({column: va}))
    engine.dispose()
    for n in (1, 2):
        with pytest.raises(IntegrityError):
            vault.query(
                OFFICER,
                purpose="licensing_review",
                subject=SubjectRef.person(citizen_id(n)),
                ticket="T",
            )
        entry = _last_entry(vault)
        assert entry["outcome"] == "error"
        assert entry["reason"] == "integrity_error"


def test_other_key_set_refused(
    db_url: str, keys: FileKeyProvider, tmp_path: Path, clock: FrozenClock
) -> None:
    Vault.open(db_url, keys=keys, clock=clock).close()
    other = FileKeyProvider.create(tmp_path / "other.keys")
    with pytest.raises(ConfigurationError, match="another key set"):
        Vault.open(db_url, keys=other, clock=clock)


def test_reopen_keeps_data_and_log(db_url: str, keys: FileKeyProvider, clock: FrozenClock) -> None:
    from tests.helpers import register_all_sources

    with Vault.open(db_url, keys=keys, clock=clock) as v:
        register_all_sources(v)
        v.ingest(clerk_for(TAX), record_for(v, TAX, SubjectRef.person(PERSON)))
        size = v.audit.head().size
    with Vault.open(db_url, keys=keys, clock=clock) as v:
        assert v.audit.head().size == size
        d = v.query(
            OFFICER, purpose="licensing_review", subject=SubjectRef.person(PERSON), ticket="T"
        )
        assert len(d.records) == 1
        assert v.audit.verify().ok


def test_close_is_idempotent(db_url: str, keys: FileKeyProvider) -> None:
    v = Vault.open(db_url, keys=keys)
    v.close()
    v.close()
    with pytest.raises(ConfigurationError):
        v.audit.head()


def test_subject_name_updates_only_when_changed(vault: Vault) -> None:
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(PERSON, name="王五")))
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(PERSON, name="王六")))
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, SubjectRef.person(PERSON)))
    me = Actor(id="me", role="subject", subject=SubjectRef.person(PERSON))
    d = vault.query(me, purpose="self_query", subject=SubjectRef.person(PERSON))
    assert d.subject_name == "王六"
    assert len(d.records) == 3
    assert _count(vault, Subject) == 1


def test_within_one_batch_the_last_name_given_wins(vault: Vault) -> None:
    batch = [
        record_for(vault, TAX, SubjectRef.person(PERSON)),
        record_for(vault, TAX, SubjectRef.person(PERSON, name="赵一")),
        record_for(vault, TAX, SubjectRef.person(PERSON)),
        record_for(vault, TAX, SubjectRef.person(PERSON, name="赵二")),
        record_for(vault, TAX, SubjectRef.person(PERSON)),
    ]
    vault.ingest_many(clerk_for(TAX), batch)
    me = Actor(id="me", role="subject", subject=SubjectRef.person(PERSON))
    d = vault.query(me, purpose="self_query", subject=SubjectRef.person(PERSON))
    assert d.subject_name == "赵二"
    assert len(d.records) == 5
    assert _count(vault, Subject) == 1


def test_every_call_one_entry_and_verify(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    start = vault.audit.head().size
    vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
    vault.ingest_many(clerk_for(TAX), [record_for(vault, TAX, s), record_for(vault, TAX, s)])
    vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="T")
    with pytest.raises(TicketRequired):
        vault.query(OFFICER, purpose="licensing_review", subject=s)
    assert vault.audit.head().size == start + 4
    assert _count(vault, AuditEntry) == start + 4
    report = vault.audit.verify()
    assert report.ok, report.problems
    assert report.entries == start + 4


def test_durability_settings(tmp_path: Path, keys: FileKeyProvider) -> None:
    for mode, expected in (("strict", 2), ("normal", 1)):
        v = Vault.open(f"sqlite:///{tmp_path / (mode + '.db')}", keys=keys, durability=mode)  # type: ignore[arg-type]
        with v._store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == expected
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        v.close()
    with pytest.raises(ConfigurationError):
        Vault.open(f"sqlite:///{tmp_path / 'x.db'}", keys=keys, durability="fast")  # type: ignore[arg-type]


def test_pg_durability_setting(pg_url: str, keys: FileKeyProvider) -> None:
    for mode, expected in (("strict", "on"), ("normal", "off")):
        v = Vault.open(pg_url, keys=keys, durability=mode)  # type: ignore[arg-type]
        with v._store.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == expected
        v.close()


def test_facts_round_trip_types(vault: Vault) -> None:
    s = SubjectRef.person(PERSON)
    cat = vault.catalog.get("labour.wage_arrears")
    facts = full_facts(cat)
    facts["amount"] = 1200
    facts["workers_affected"] = "12"
    vault.ingest(
        clerk_for(cat.code),
        RecordIn(
            subject=s,
            category=cat.code,
            legal_basis=cat.legal_bases[0],
            decided_on=date(2025, 3, 1),
            occurred_on=date(2025, 1, 1),
            facts=facts,
        ),
    )
    me = Actor(id="me", role="subject", subject=s)
    got = vault.query(me, purpose="self_query", subject=s).records[0].facts
    from decimal import Decimal

    assert got["amount"] == Decimal(1200)
    assert got["workers_affected"] == 12
    assert got["summary"] == facts["summary"]


def test_embedding_application_passes_its_own_engine(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from tests.helpers import register_all_sources

    engine = create_engine(db_url)
    with Vault.open(engine=engine, keys=keys, clock=clock) as v:
        register_all_sources(v)
        v.ingest(clerk_for(TAX), record_for(v, TAX, SubjectRef.person(PERSON)))
        d = v.query(
            OFFICER, purpose="licensing_review", subject=SubjectRef.person(PERSON), ticket="T"
        )
        assert len(d.records) == 1
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    # The vault does not dispose of an engine it did not create.
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Record.__table__)).scalar_one() == 1
    engine.dispose()
