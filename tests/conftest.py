"""Shared fixtures: a SQLite file and a fresh PostgreSQL schema per test, keys, a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from credit_vault import Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_ENV = "CREDIT_VAULT_TEST_POSTGRES_URL"
REQUIRE_PG_ENV = "CREDIT_VAULT_REQUIRE_POSTGRES"


def postgres_base_url() -> str | None:
    """The PostgreSQL URL for tests; skip (or fail, when required) without it."""
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get(REQUIRE_PG_ENV) == "1":
        pytest.fail(f"{REQUIRE_PG_ENV}=1 but {PG_ENV} is not set")
    pytest.skip(f"{PG_ENV} not set")
    return None  # pragma: no cover


class PgSchema:
    """A throw-away schema on the test server; its URL pins search_path to it."""

    def __init__(self, base_url: str) -> None:
        from sqlalchemy import create_engine, text

        self.name = "cvt_" + uuid.uuid4().hex[:12]
        self._admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        sep = "&" if "?" in base_url else "?"
        self.url = f"{base_url}{sep}options=-csearch_path%3D{self.name}"

    def drop(self) -> None:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self._admin.dispose()


def _fresh_pg_schema() -> Iterator[str]:
    base = postgres_base_url()
    assert base is not None
    schema = PgSchema(base)
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL (the run fails, not skips, when PostgreSQL is required)."""
    yield from _fresh_pg_schema()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a SQLite file and on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vault.db'}"
    else:
        yield from _fresh_pg_schema()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    """Path of a freshly created key-set file."""
    path = tmp_path / "vault.keys"
    FileKeyProvider.create(path)
    return path


@pytest.fixture
def keys(key_path: Path) -> FileKeyProvider:
    """A key provider over a fresh key-set file."""
    return FileKeyProvider(key_path)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2025-06-01 10:00 Asia/Shanghai (02:00 UTC)."""
    return FrozenClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))


def _open_vault(url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[Vault]:
    v = Vault.open(url, keys=keys, clock=clock)
    try:
        from tests.helpers import register_all_sources

        register_all_sources(v)
        yield v
    finally:
        v.close()


@pytest.fixture
def vault(db_url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[Vault]:
    """An open vault with the default catalogue and policy, and sources for every category."""
    yield from _open_vault(db_url, keys, clock)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL, for tests about SQLite itself (file bytes, query plans)."""
    return f"sqlite:///{tmp_path / 'vault.db'}"


@pytest.fixture
def sqlite_vault(sqlite_url: str, keys: FileKeyProvider, clock: FrozenClock) -> Iterator[Vault]:
    """Like ``vault``, on a SQLite file only."""
    yield from _open_vault(sqlite_url, keys, clock)
