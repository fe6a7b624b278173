"""Engines for SQLite (embedded default) and PostgreSQL, and schema migration.

SQLite: WAL journal, ``secure_delete`` (freed pages are zeroed, so purged
ciphertexts do not linger), foreign keys on, a busy timeout, and every
transaction opened with ``BEGIN IMMEDIATE`` so that a read which must append to
the access log takes the write lock up front instead of failing on lock upgrade.

PostgreSQL (psycopg 3): READ COMMITTED; the access log serialises appends by
locking its head row as the last step before commit.

Durability: ``"strict"`` (default) flushes each commit to disk before the call
returns (SQLite ``synchronous=FULL``, PostgreSQL ``synchronous_commit=on``);
``"normal"`` (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL
``synchronous_commit=off``) survives a crash of the process but may lose the
last commits if the machine or the database server crashes.
"""

from __future__ import annotations

import functools
import os
from importlib import resources
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from credit_vault.errors import ConfigurationError, StorageError
from credit_vault.storage.bulk import sqlite_cursor

__all__ = ["Durability", "Store", "open_store"]

Durability = Literal["strict", "normal"]


class Store:
    """An engine plus what the vault needs to know about it."""

    __slots__ = ("dialect", "durability", "engine", "owns_engine")

    def __init__(self, engine: Engine, *, durability: Durability, owns_engine: bool) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.durability = durability
        self.owns_engine = owns_engine

    @property
    def is_postgres(self) -> bool:
        """Whether the engine talks to PostgreSQL."""
        return self.dialect == "postgresql"

    def dispose(self) -> None:
        """Close pooled connections if the vault created the engine."""
        if self.owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store(dialect={self.dialect!r}, durability={self.durability!r})"


def open_store(
    url: str | None,
    *,
    engine: Engine | None = None,
    durability: Durability = "strict",
) -> Store:
    """Create (or adopt) an engine, configure it, and bring its schema to the head revision."""
    if durability not in ("strict", "normal"):
        raise ConfigurationError("durability must be 'strict' or 'normal'")
    owns = engine is None
    if engine is None:
        if not url:
            raise ConfigurationError("give a database URL or an Engine")
        engine = _create_engine(url, durability)
    else:
        _configure(engine, durability)
    store = Store(engine, durability=durability, owns_engine=owns)
    try:
        migrate(store)
    except SQLAlchemyError as exc:
        store.dispose()
        raise StorageError(
            f"the schema could not be created or upgraded ({type(exc).__name__})"
        ) from None
    return store


def _create_engine(url: str, durability: Durability) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigurationError("the database URL is not valid") from None
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        _create_private_file(parsed.database)
    elif backend == "postgresql":
        if parsed.get_driver_name() not in ("psycopg", "psycopg2"):
            raise ConfigurationError("use a postgresql+psycopg:// URL (psycopg 3)")
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["pool_pre_ping"] = True
    else:
        raise ConfigurationError("credit_vault supports SQLite and PostgreSQL URLs")
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError):
        raise ConfigurationError(
            "the database driver is not installed "
            "(for PostgreSQL: pip install 'credit-vault[postgres]')"
        ) from None
    _configure(engine, durability)
    return engine


def _create_private_file(database: str | None) -> None:
    """Create a new SQLite file readable by its owner only (its -wal and -shm inherit the mode).

    It holds only ciphertext and blind indexes, but category codes, dates and
    source names are in clear; no reason to let other local users read them.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        fd = os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:
        # Let SQLite report a missing directory or permission problem itself.
        return
    os.close(fd)


def _configure(engine: Engine, durability: Durability) -> None:
    if engine.dialect.name == "sqlite":
        sync = "FULL" if durability == "strict" else "NORMAL"

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the sqlite3 module so that we can
            # issue BEGIN IMMEDIATE ourselves.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            try:
                cur.execute("PRAGMA busy_timeout = 60000")
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute(f"PRAGMA synchronous = {sync}")
                cur.execute("PRAGMA secure_delete = ON")
                cur.execute("PRAGMA foreign_keys = ON")
            finally:
                cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # Straight to the driver: every vault call begins here, and going
            # through exec_driver_sql costs as much as the statement itself.
            # Driver errors (a lock wait that timed out) are raised as
            # SQLAlchemy raises them, so callers handle both paths alike.
            with sqlite_cursor(conn) as cur:
                cur.execute("BEGIN IMMEDIATE")

    elif engine.dialect.name == "postgresql":
        setting = "on" if durability == "strict" else "off"

        @event.listens_for(engine, "connect")
        def _pg_connect(dbapi_conn: Any, _record: Any) -> None:
            # psycopg 3 connections start outside a transaction; SET then commit
            # so the setting holds for the session.
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET synchronous_commit = {setting}")
            dbapi_conn.commit()

    else:
        raise ConfigurationError("credit_vault supports SQLite and PostgreSQL engines")


def _alembic_config(conn: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    location = resources.files("credit_vault.storage").joinpath("migrations")
    cfg.set_main_option("script_location", str(location))
    cfg.attributes["connection"] = conn
    return cfg


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with the package."""
    from alembic.script import ScriptDirectory

    location = resources.files("credit_vault.storage").joinpath("migrations")
    return ScriptDirectory(str(location)).get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def migrate(store: Store) -> None:
    """Apply the shipped Alembic migrations up to head, under a lock (safe from many processes)."""
    with store.engine.begin() as conn:
        if store.is_postgres:
            # One migrator at a time across processes and hosts.
            conn.execute(text("SELECT pg_advisory_xact_lock(7315001)"))
        if current_revision(conn) == head_revision():
            return
        from alembic import command

        command.upgrade(_alembic_config(conn), "head")
