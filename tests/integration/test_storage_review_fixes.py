"""Defects found in review of the storage layer, each pinned by a test that failed before.

- adopting an application's Engine stacked the vault's listeners again on every open
  (a reopen failed; two vaults on one engine broke each other's durability);
- an adopted PostgreSQL engine in AUTOCOMMIT committed records without their log entry;
- the vault's Alembic revision shared ``alembic_version`` with the application's own;
- SQLite files reached through ``engine=`` or a ``file:`` URI were created 0644;
- a schema from a newer release ended in a raw Alembic error;
- an in-memory SQLite vault was empty in every other thread.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from credit_vault import SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import AuditWriteFailed, ConfigurationError
from credit_vault.storage.engine import VERSION_TABLE, current_revision, head_revision
from credit_vault.storage.tables import Record
from credit_vault.testing import FrozenClock
from tests.helpers import (
    citizen_id,
    clerk_for,
    make_log_unwritable,
    record_for,
    register_all_sources,
)

TAX = "tax.major_violation"


def _ingest(v: Vault, n: int) -> str:
    return v.ingest(clerk_for(TAX), record_for(v, TAX, SubjectRef.person(citizen_id(n))))


def test_an_adopted_engine_can_be_reopened_and_shared(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    engine = create_engine(db_url)
    try:
        with Vault.open(engine=engine, keys=keys, clock=clock) as v:
            register_all_sources(v)
            _ingest(v, 1)
        # A reopen (and a second vault at the same time) on the same engine.
        with (
            Vault.open(engine=engine, keys=keys, clock=clock) as a,
            Vault.open(engine=engine, keys=keys, clock=clock) as b,
        ):
            _ingest(a, 2)
            _ingest(b, 3)
            assert a.audit.verify().ok
        # The application's own transactions still work on it.
        with engine.begin() as conn:
            assert conn.execute(select(func.count()).select_from(Record.__table__)).scalar() == 3
        # A vault asking for the other durability cannot share its connections.
        with pytest.raises(ConfigurationError, match="already serves a vault"):
            Vault.open(engine=engine, keys=keys, clock=clock, durability="normal")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_an_autocommit_engine_still_commits_records_with_their_log_entry(
    pg_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with Vault.open(engine=engine, keys=keys, clock=clock) as v:
            register_all_sources(v)
            with engine.begin() as conn:
                make_log_unwritable(conn)
            with pytest.raises(AuditWriteFailed):
                _ingest(v, 4)
            with engine.connect() as conn:
                count = select(func.count()).select_from(Record.__table__)
                assert conn.execute(count).scalar() == 0
    finally:
        engine.dispose()


def test_the_vault_keeps_its_revision_apart_from_the_applications(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            # The application's own Alembic history, at one of its revisions.
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('3f9c2a1b7d10')"))
        Vault.open(engine=engine, keys=keys, clock=clock).close()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [
                ("3f9c2a1b7d10",)
            ]
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_a_vault_made_before_keeps_working_and_moves_its_revision(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    engine = create_engine(db_url)
    try:
        with Vault.open(engine=engine, keys=keys, clock=clock) as v:
            register_all_sources(v)
            _ingest(v, 5)
        with engine.begin() as conn:  # as an earlier release left it
            conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
            conn.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head_revision()})
        with Vault.open(engine=engine, keys=keys, clock=clock) as v:
            assert v.audit.verify().ok
            _ingest(v, 6)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert "alembic_version" not in tables
            assert current_revision(conn) == head_revision()
    finally:
        engine.dispose()


def test_a_schema_from_a_newer_release_is_refused_and_left_alone(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    Vault.open(db_url, keys=keys, clock=clock).close()
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
        with pytest.raises(ConfigurationError, match="revision this credit_vault does not know"):
            Vault.open(db_url, keys=keys, clock=clock)
        with engine.connect() as conn:
            assert current_revision(conn) == "9999"
    finally:
        engine.dispose()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("how", ["engine", "uri"])
def test_sqlite_files_are_private_however_they_are_named(
    tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock, how: str
) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "v.db"
        if how == "engine":
            engine = create_engine(f"sqlite:///{path}")
            v = Vault.open(engine=engine, keys=keys, clock=clock)
        else:
            engine = None
            v = Vault.open(f"sqlite:///file:{path}?mode=rwc&uri=true", keys=keys, clock=clock)
        with v:
            register_all_sources(v)
            _ingest(v, 7)
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                assert _mode(p) == 0o600, p
        if engine is not None:
            engine.dispose()
    finally:
        os.umask(old)


def test_an_in_memory_vault_is_one_database_for_every_thread(
    keys: FileKeyProvider, clock: FrozenClock
) -> None:
    with Vault.open("sqlite://", keys=keys, clock=clock) as v:
        register_all_sources(v)
        rid = _ingest(v, 8)
        seen: list[Any] = []

        def other() -> None:
            seen.append(v.audit.head().size)

        t = threading.Thread(target=other)
        t.start()
        t.join(30)
        assert seen == [v.audit.head().size]
        assert rid


def test_a_database_that_cannot_be_opened_says_why(
    tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from credit_vault.errors import StorageError

    with pytest.raises(StorageError, match="unable to open database file"):
        Vault.open(f"sqlite:///{tmp_path / 'no-such-dir' / 'v.db'}", keys=keys, clock=clock)


@pytest.mark.postgres
def test_a_server_refusal_says_why_without_the_password(
    keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from credit_vault.errors import StorageError

    url = "postgresql+psycopg://nobody_here:s3cr3t-pw@127.0.0.1:5432/test"
    with pytest.raises(StorageError, match='role "nobody_here" does not exist') as info:
        Vault.open(url, keys=keys, clock=clock)
    assert "s3cr3t-pw" not in str(info.value)


def test_threads_on_an_in_memory_vault_take_turns(
    keys: FileKeyProvider, clock: FrozenClock
) -> None:
    # One shared connection: without the lock, threads' transactions interleaved
    # (records committed by calls that raised, gaps in the log, crashes).
    with Vault.open("sqlite://", keys=keys, clock=clock) as v:
        register_all_sources(v)
        errors: list[BaseException] = []

        def work(base: int) -> None:
            try:
                for i in range(15):
                    _ingest(v, base + i)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(100 * t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with v._store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Record.__table__)).scalar() == 60
        assert v.audit.verify().ok


def test_file_names_that_are_not_uris_make_no_stray_files(
    tmp_path: Path, keys: FileKeyProvider, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # Without uri=true SQLite takes "file:v.db" as the file's name; nothing else appears.
    Vault.open("sqlite:///file:v.db", keys=keys, clock=clock).close()
    # A memory URI names no file at all.
    Vault.open(
        "sqlite:///file:mem?mode=memory&cache=shared&uri=true", keys=keys, clock=clock
    ).close()
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("vault.keys"))
    assert [n for n in names if not n.startswith("file:v.db")] == []
    assert _mode(tmp_path / "file:v.db") == 0o600


def test_the_cli_finds_a_vault_named_by_a_file_uri(
    tmp_path: Path, key_path: Path, clock: FrozenClock
) -> None:
    from click.testing import CliRunner

    from credit_vault.cli import main

    url = f"sqlite:///file:{tmp_path / 'v.db'}?uri=true"
    Vault.open(url, keys=FileKeyProvider(key_path), clock=clock).close()
    result = CliRunner().invoke(main, ["keys", "usage", url, "--keys", str(key_path)])
    assert result.exit_code == 0, result.output
