"""Bulk inserts (storage/bulk.py) on both engines: values round-trip, errors are typed, all or nothing.

SQLite takes driver-ready rows through ``executemany``; PostgreSQL with psycopg 3
takes them through ``COPY ... FROM STDIN``. Both must store exactly what Core would.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError

from credit_vault.storage.bulk import as_utc, driver_values, insert_rows
from credit_vault.storage.engine import open_store
from credit_vault.storage.tables import Record, Source, Subject
from credit_vault.vault import _SUBJECT_COLUMNS

NOW = datetime(2025, 6, 1, 2, 0, 0, 123456, tzinfo=UTC)
SOURCES = cast("Table", Source.__table__)
SUBJECTS = cast("Table", Subject.__table__)
RECORDS = cast("Table", Record.__table__)


def _subject_row(sid: str) -> list[object]:
    return [
        sid,
        "person",
        sid.encode().ljust(16, b"\0"),
        "p" * 32,
        "kek-1",
        b"\x01wrapped",
        b"\x02identity\tnew\nline\\",
        None,
        None,
        NOW,
    ]


# The columns the vault's ingest writes for a new subject, in its order.
SUBJECT_COLS = list(_SUBJECT_COLUMNS)


def test_values_round_trip_and_errors_are_typed(db_url: str) -> None:
    store = open_store(db_url)
    try:
        engine = store.engine
        if engine.dialect.name == "postgresql":
            assert engine.dialect.driver == "psycopg"  # so the COPY path is the one tested
        with engine.begin() as conn:
            insert_rows(
                conn,
                SOURCES,
                ["code", "name", "created_at"],
                [["tax", "市税务局\t(tab)", NOW]],
            )
            insert_rows(conn, SUBJECTS, SUBJECT_COLS, [_subject_row("s_1"), _subject_row("s_2")])
            fixed = driver_values(
                conn.dialect.name,
                RECORDS,
                ["decided_on", "conduct_ended_on", "disputed", "created_at"],
                [date(2025, 3, 1), None, False, NOW],
            )
            names = [
                "id",
                "subject_id",
                "category",
                "source_code",
                "version",
                "state",
                "legal_basis",
                "decided_on",
                "occurred_on",
                "conduct_ended_on",
                "disclosure_mode",
                "disputed",
                "field_names",
                "created_at",
                "updated_at",
                "wrapped_key",
                "fields",
            ]
            rows = [
                [
                    f"r_{i}",
                    "s_1",
                    "tax.major_violation",
                    "tax",
                    1,
                    "active",
                    "税收征收管理法",
                    fixed[0],
                    fixed[0],
                    fixed[1],
                    "period",
                    fixed[2],
                    "a,b",
                    fixed[3],
                    fixed[3],
                    bytes(range(256)),
                    b"",
                ]
                for i in range(3)
            ]
            insert_rows(conn, RECORDS, names, rows, converted=True)
        with engine.connect() as conn:
            src = conn.execute(select(Source.name, Source.created_at)).one()
            assert src.name == "市税务局\t(tab)"
            assert as_utc(src.created_at) == NOW
            subj = conn.execute(
                select(Subject.identity_ct, Subject.name_ct).where(Subject.id == "s_2")
            ).one()
            assert bytes(subj.identity_ct) == b"\x02identity\tnew\nline\\"
            assert subj.name_ct is None
            recs = conn.execute(select(Record).order_by(Record.id)).all()
            assert [r.id for r in recs] == ["r_0", "r_1", "r_2"]
            r = recs[0]
            assert (r.decided_on, r.conduct_ended_on, r.disputed) == (date(2025, 3, 1), None, False)
            assert as_utc(r.created_at) == NOW
            assert bytes(r.wrapped_key) == bytes(range(256))
            assert bytes(r.fields) == b""

        # A constraint violation is a typed SQLAlchemy error, and the batch is all or nothing.
        with pytest.raises(DBAPIError), engine.begin() as conn:
            insert_rows(conn, SUBJECTS, SUBJECT_COLS, [_subject_row("s_3"), _subject_row("s_1")])
        with engine.connect() as conn:
            ids = set(conn.execute(select(Subject.id)).scalars())
        assert ids == {"s_1", "s_2"}
    finally:
        store.dispose()
