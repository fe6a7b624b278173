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

import contextlib
import functools
import os
import sqlite3
import threading
import weakref
from importlib import resources
from typing import Any, Literal, cast
from urllib.parse import unquote

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from credit_vault.errors import ConfigurationError, StorageError
from credit_vault.storage.bulk import dbapi_cursor

__all__ = ["VERSION_TABLE", "Durability", "Store", "connection_reason", "open_store"]

Durability = Literal["strict", "normal"]

#: Alembic's version table for the vault's own migrations. Not Alembic's default
#: ``alembic_version``: an embedding application's migrations keep theirs there.
VERSION_TABLE = "cv_alembic_version"

# Engines the vault has configured, and for which durability: adopting one again
# (a second vault, a reopen) must not stack a second set of listeners on it.
_configured: weakref.WeakKeyDictionary[Engine, Durability] = weakref.WeakKeyDictionary()
_configured_lock = threading.Lock()


class Store:
    """An engine plus what the vault needs to know about it."""

    __slots__ = ("dialect", "durability", "engine", "lock", "owns_engine")

    def __init__(self, engine: Engine, *, durability: Durability, owns_engine: bool) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.durability = durability
        self.owns_engine = owns_engine
        # An in-memory SQLite database lives in one connection (StaticPool) that every
        # thread shares: its transactions must take turns, or they interleave.
        self.lock: threading.RLock | None = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else None
        )

    def checkpoint_wal(self) -> bool:
        """SQLite: copy the WAL into the database file and truncate it, so pages as they
        were before a purge or re-wrap (wrapped keys included) leave the disk. False
        if readers held the WAL (or the database is not SQLite)."""
        if self.dialect != "sqlite":
            return False
        with self.serialised():
            raw = self.engine.raw_connection()
            try:
                driver = cast("sqlite3.Connection", raw.driver_connection)
                row = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.Error:
                return False
            finally:
                raw.close()
        return row is not None and row[0] == 0

    def serialised(self) -> contextlib.AbstractContextManager[object]:
        """Hold for a whole transaction: the shared connection's lock, or nothing."""
        return self.lock if self.lock is not None else contextlib.nullcontext()

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
        if not isinstance(engine, Engine):
            raise ConfigurationError("engine must be a SQLAlchemy Engine")
        if engine.dialect.name == "sqlite":
            _create_private_file(engine.url)
        _configure(engine, durability)
    if engine.dialect.name == "postgresql":
        # The log entry must commit with the data it concerns: an adopted engine in
        # AUTOCOMMIT would commit each statement alone (and drop the head-row lock).
        engine = engine.execution_options(isolation_level="READ COMMITTED")
    store = Store(engine, durability=durability, owns_engine=owns)
    try:
        migrate(store)
    except SQLAlchemyError as exc:
        store.dispose()
        raise StorageError(
            f"the database could not be opened or its schema upgraded ({connection_reason(exc)})"
        ) from None
    except BaseException:
        store.dispose()
        raise
    return store


def connection_reason(exc: BaseException) -> str:
    """A short reason for a database error, for messages: the driver's first line when
    the database could not be reached or opened, else just the error's class.

    Only connection-level errors (:class:`OperationalError`) show the driver's text:
    it names hosts, ports, files, databases and roles (configuration, never a row's
    values, and never the password). Other errors can quote a statement's
    parameters, so they show their class alone.
    """
    from sqlalchemy.exc import OperationalError

    name = type(exc).__name__
    if not isinstance(exc, OperationalError):
        return name
    text_ = str(exc.orig).strip().splitlines()
    first = text_[0].strip() if text_ else ""
    first = "".join(ch for ch in first if ch.isprintable())[:200]
    return f"{name}: {first}" if first else name


def _create_engine(url: str, durability: Durability) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigurationError("the database URL is not valid") from None
    backend = parsed.get_backend_name()
    # Bound values never reach SQLAlchemy's log lines or its exception texts (an
    # application may log "sqlalchemy.engine" at INFO): they are caller ids,
    # ciphertexts, blind indexes and log entries.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        if sqlite_file_path(parsed) is None:
            # One shared connection (its transactions serialised by Store.lock):
            # SQLAlchemy's default for memory databases gives every thread its
            # own, empty database.
            kwargs["poolclass"] = StaticPool
        _create_private_file(parsed)
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


def sqlite_file_path(url: URL) -> str | None:
    """The file a SQLite URL names, or None for an in-memory database.

    A URI filename (``sqlite:///file:path?mode=rwc&uri=true``) names ``path``, or no
    file with ``mode=memory``; without ``uri=true`` SQLite takes ``file:...``
    literally, as a file of that name.
    """
    database = url.database
    if not database or database == ":memory:":
        return None
    uri = str(url.query.get("uri", "")).lower() in ("true", "1", "yes", "on")
    if uri and database.startswith("file:"):
        if str(url.query.get("mode", "")) == "memory":
            return None
        path = unquote(database[len("file:") :].split("#", 1)[0])
        if path.startswith("//"):  # file://host/path: only the path counts
            path = "/" + path[2:].partition("/")[2]
        return path if path and path != ":memory:" else None
    return database


def _create_private_file(url: URL) -> None:
    """Create a new SQLite file readable by its owner only (its -wal and -shm inherit the mode).

    It holds only ciphertext and blind indexes, but category codes, dates and
    source names are in clear; no reason to let other local users read them.
    """
    path = sqlite_file_path(url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError:
        # Let SQLite report a missing directory or permission problem itself.
        return
    os.close(fd)


def _configure(engine: Engine, durability: Durability) -> None:
    """Add the vault's connection settings to ``engine``, once per engine.

    An engine already configured for the same durability is left as it is; one
    configured for the other durability is refused (its connections cannot keep
    both promises).
    """
    with _configured_lock:
        have = _configured.get(engine)
        if have is not None:
            if have != durability:
                raise ConfigurationError(
                    f"this Engine already serves a vault with durability '{have}'"
                )
            return
        _add_listeners(engine, durability)
        _configured[engine] = durability


def _add_listeners(engine: Engine, durability: Durability) -> None:
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
            with dbapi_cursor(conn) as cur:
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


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every migration revision shipped with the package."""
    from alembic.script import ScriptDirectory

    location = resources.files("credit_vault.storage").joinpath("migrations")
    return frozenset(s.revision for s in ScriptDirectory(str(location)).walk_revisions())


def current_revision(conn: Connection) -> str | None:
    """The schema's Alembic revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def _adopt_legacy_version_table(conn: Connection) -> None:
    """Move the vault's revision out of Alembic's default table (vaults made before 0.x).

    Earlier versions kept it in ``alembic_version``, which an embedding
    application's own migrations share. Only a database that holds the vault's
    tables and one of the vault's revisions there is touched; another
    application's revision stays where it is.
    """
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables or "alembic_version" not in tables or "cv_meta" not in tables:
        return
    ours = [
        v
        for v in conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
        if v in known_revisions()
    ]
    if len(ours) != 1:
        return
    # The layout Alembic itself gives a version table.
    table = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    table.create(conn)
    conn.execute(insert(table).values(version_num=ours[0]))
    conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": ours[0]})
    if conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 0:
        conn.execute(text("DROP TABLE alembic_version"))


def migrate(store: Store) -> None:
    """Apply the shipped Alembic migrations up to head, under a lock (safe from many processes).

    A schema at a revision this package does not know (made by a newer
    credit_vault) is refused with :class:`ConfigurationError`, never downgraded
    or changed.
    """
    with store.serialised(), store.engine.begin() as conn:
        if store.is_postgres:
            # One migrator at a time across processes and hosts.
            conn.execute(text("SELECT pg_advisory_xact_lock(7315001)"))
        _adopt_legacy_version_table(conn)
        revision = current_revision(conn)
        if revision == head_revision():
            return
        if revision is not None and revision not in known_revisions():
            raise ConfigurationError(
                "the database schema is at a revision this credit_vault does not know "
                "(made by a newer version?); upgrade the package, the schema is left as it is"
            )
        from alembic import command

        command.upgrade(_alembic_config(conn), "head")
