"""Invariant 1: no plaintext personal data at rest, in logs, errors or reprs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text

from credit_vault import Actor, RecordIn, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, credit_code, register_all_sources

MARK = "QZXMARK"


def _ingest_markers(vault: Vault) -> list[bytes]:
    """Ingest a record of every category with a marker in every string field and name."""
    secrets: list[bytes] = []
    for i, cat in enumerate(vault.catalog.categories):
        if "person" in cat.subjects:
            idn = citizen_id(100 + i)
            subject = SubjectRef.person(idn, name=f"{MARK}姓名{i}")
        else:  # pragma: no cover - every default category takes persons
            idn = credit_code(100 + i)
            subject = SubjectRef.organisation(idn, name=f"{MARK}公司{i}")
        secrets += [idn.encode(), f"{MARK}姓名{i}".encode()]
        facts: dict[str, object] = {}
        for f in cat.fields:
            if f.type == "string":
                value = f"{MARK}{cat.code}.{f.name}值"[: f.max_length or 1000]
                facts[f.name] = value
                secrets.append(value.encode())
            elif f.type == "integer":
                facts[f.name] = 987654321
            elif f.type == "decimal":
                facts[f.name] = "8765432.19"
            elif f.type == "date":
                facts[f.name] = "2024-01-02"
            else:
                facts[f.name] = True
        vault.ingest(
            clerk_for(cat.code),
            RecordIn(
                subject=subject,
                category=cat.code,
                legal_basis=cat.legal_bases[0],
                decided_on=vault.today(),
                occurred_on=vault.today(),
                facts=facts,
            ),
        )
    org = credit_code(7)
    vault.ingest(
        clerk_for("tax.major_violation"),
        RecordIn(
            subject=SubjectRef.organisation(org, name=f"{MARK}有限公司"),
            category="tax.major_violation",
            legal_basis="税收征收管理法",
            decided_on=vault.today(),
            occurred_on=vault.today(),
            facts={"decision_no": f"{MARK}no", "authority": f"{MARK}auth", "summary": f"{MARK}sum"},
        ),
    )
    secrets += [org.encode(), f"{MARK}有限公司".encode(), b"8765432.19", b"987654321"]
    return secrets


def test_sqlite_file_and_wal_hold_no_plaintext(
    tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "vault.db"
    v = Vault.open(f"sqlite:///{db}", keys=keys, clock=clock)
    register_all_sources(v)
    secrets = _ingest_markers(v)
    # Read everything back under several purposes so query paths run too.
    for i in range(len(v.catalog.categories)):
        s = SubjectRef.person(citizen_id(100 + i))
        v.query(OFFICER, purpose="licensing_review", subject=s, ticket="T-1")
        me = Actor(id="me", role="subject", subject=s)
        d = v.query(me, purpose="self_query", subject=s)
        assert MARK not in repr(d)
        for r in d.records:
            assert MARK not in repr(r)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("vault.db")]
    assert any(p.name.endswith("-wal") for p in files), (
        "the WAL should exist while the vault is open"
    )
    blobs = {p.name: p.read_bytes() for p in files}
    v.close()
    blobs.update(
        {
            p.name + "(closed)": p.read_bytes()
            for p in tmp_path.iterdir()
            if p.name.startswith("vault.db")
        }
    )
    for name, blob in blobs.items():
        assert MARK.encode() not in blob, name
        for secret in secrets:
            assert secret not in blob, (name, len(secret))
    # Nothing was logged with personal data either.
    for rec in caplog.records:
        assert MARK not in rec.getMessage()


def test_postgres_tables_hold_no_plaintext(
    pg_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    v = Vault.open(pg_url, keys=keys, clock=clock)
    register_all_sources(v)
    secrets = _ingest_markers(v)
    v.close()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT t::text FROM "{table}" t')):
                dump = row[0].encode()
                assert MARK.encode() not in dump, table
                for secret in secrets:
                    assert secret not in dump, table
                # bytea renders as hex in text form; look for hex-encoded markers too.
                assert MARK.encode().hex() not in row[0], table
        # Index contents live in the same tables' columns; no plaintext index exists.
        idx = conn.execute(
            select(text("indexdef"))
            .select_from(text("pg_indexes"))
            .where(text("schemaname = current_schema()"))
        ).all()
        assert idx
    engine.dispose()


def test_reprs_and_errors_mask_identifiers() -> None:
    idn = citizen_id(42)
    s = SubjectRef.person(idn, name="赵六")
    assert idn not in repr(s)
    assert "赵六" not in repr(s)
    assert idn not in str(s)
    a = Actor(id="x", role="subject", subject=s)
    assert idn not in repr(a)
    rec = RecordIn(
        subject=s,
        category="tax.major_violation",
        legal_basis="税收征收管理法",
        decided_on="2025-01-01",  # type: ignore[arg-type]
        occurred_on="2025-01-01",  # type: ignore[arg-type]
        facts={"summary": "SECRETFACT"},
    )
    assert "SECRETFACT" not in repr(rec)
    assert idn not in repr(rec)


def test_validation_errors_do_not_echo_values() -> None:
    from credit_vault.errors import InvalidRecord

    with pytest.raises(InvalidRecord) as info:
        RecordIn(
            subject=SubjectRef.person(citizen_id(1)),
            category="tax.major_violation",
            legal_basis="税收征收管理法",
            decided_on="SECRET-NOT-A-DATE",  # type: ignore[arg-type]
            occurred_on="2025-01-01",  # type: ignore[arg-type]
        )
    assert "SECRET" not in str(info.value)
    assert "decided_on" in str(info.value)


def test_the_byte_search_finds_planted_plaintext(vault: Vault, db_url: str) -> None:
    """The search used by the privacy tests can fail: plaintext planted in a text and a binary column is found."""
    from sqlalchemy import update

    from credit_vault.storage.tables import Record
    from tests.helpers import stored_bytes

    rid = vault.ingest(
        clerk_for("tax.major_violation"),
        RecordIn(
            subject=SubjectRef.person(citizen_id(5)),
            category="tax.major_violation",
            legal_basis="税收征收管理法",
            decided_on=vault.today(),
            occurred_on=vault.today(),
            facts={"decision_no": "n", "authority": "a", "summary": "s"},
        ),
    )
    assert b"PLANTED-TEXT" not in stored_bytes(db_url)
    engine = create_engine(db_url)
    t = Record.__table__
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.id == rid)
            .values(legal_basis="PLANTED-TEXT", statement_ct="PLANTED-BIN张".encode())
        )
    engine.dispose()
    blob = stored_bytes(db_url)
    assert b"PLANTED-TEXT" in blob
    assert "PLANTED-BIN张".encode() in blob
