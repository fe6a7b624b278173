"""Fact values refused at ingest that used to be stored and then broke every read.

Runs on a SQLite file and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.domain.catalog import Catalog
from credit_vault.errors import CreditVaultError, InvalidRecord
from credit_vault.storage.tables import AuditEntry, Record, Subject
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id

CATALOG = """
[[category]]
code = "court.hearing"
name = "hearing"
polarity = "neutral"
legal_bases = ["民事诉讼法"]
disclosure = "P1Y"
fields = [
  { name = "hearing_on", type = "date", tier = "public", required = true },
  { name = "note", type = "string", tier = "public" },
  { name = "fee", type = "decimal", tier = "public" },
]
"""
CLERK = Actor(id="clerk-1", role="source_clerk", organisation="src-court")
NAME = "张三丰"


@pytest.fixture
def hearing_vault(db_url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[Vault]:
    v = Vault.open(db_url, keys=keys, clock=clock, catalog=Catalog.from_toml(CATALOG))
    try:
        v.register_source("src-court", name="court", categories=["court.hearing"])
        yield v
    finally:
        v.close()


def _record(subject: SubjectRef, **facts: object) -> RecordIn:
    return RecordIn(
        subject=subject,
        category="court.hearing",
        legal_basis="民事诉讼法",
        decided_on=date(2025, 3, 1),
        occurred_on=date(2025, 2, 1),
        facts={"hearing_on": "2025-03-02", **facts},
    )


def _counts(vault: Vault) -> tuple[int, ...]:
    with vault._store.engine.connect() as conn:
        return tuple(
            int(conn.execute(select(func.count()).select_from(t.__table__)).scalar_one())
            for t in (Record, Subject, AuditEntry)
        )


def test_bad_fact_values_are_refused_at_ingest_and_reads_keep_working(
    hearing_vault: Vault,
) -> None:
    subject = SubjectRef.person(citizen_id(7))
    good = hearing_vault.ingest(CLERK, _record(subject, note="ok", fee="12.50"))
    before = _counts(hearing_vault)
    bad_facts: list[dict[str, object]] = [
        {"hearing_on": datetime(2025, 3, 1, 9, 30)},
        {"note": f"{NAME}\ud800"},
        {"fee": Decimal("1E+200000000")},
        {"fee": 10**200000},
        {"note": "a" * 8001},
    ]
    for facts in bad_facts:
        with pytest.raises(InvalidRecord) as info:
            hearing_vault.ingest(CLERK, _record(subject, **facts))
        assert NAME not in str(info.value)
        assert info.value.__cause__ is None
    with pytest.raises(InvalidRecord) as info:
        SubjectRef.person(citizen_id(8), f"{NAME}\udcff")
    assert NAME not in str(info.value)
    assert _counts(hearing_vault) == before

    me = Actor(id="me", role="subject", subject=subject)
    out = hearing_vault.query(me, purpose="self_query", subject=subject)
    assert [r.record_id for r in out.records] == [good]
    assert out.records[0].facts["hearing_on"] == date(2025, 3, 2)


def test_unknown_fact_key_holding_an_id_number_is_not_echoed(hearing_vault: Vault) -> None:
    pid = citizen_id(9)
    subject = SubjectRef.person(pid)
    with pytest.raises(CreditVaultError) as info:
        hearing_vault.ingest(CLERK, _record(subject, **{pid: "x"}))
    assert pid not in str(info.value)
