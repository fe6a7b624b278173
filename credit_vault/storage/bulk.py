"""Bulk inserts without per-value ORM type processing.

SQLAlchemy's bind processors cost a few microseconds per row and column; for the
ingest path (thousands of rows, two dozen columns) that is more than the crypto.
On SQLite this module converts dates, datetimes and booleans itself — to exactly
the text SQLAlchemy's SQLite types store and read back — and hands tuples to the
driver's ``executemany``. PostgreSQL (psycopg adapts Python types natively) goes
through Core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, overload

from sqlalchemy import Boolean, Date, DateTime, Table, insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

__all__ = [
    "as_utc",
    "dbapi_cursor",
    "driver_values",
    "insert_many",
    "insert_rows",
    "sqlite_datetime",
]


def _sqlite_date(v: Any) -> Any:
    return None if v is None else v.isoformat()


@overload
def as_utc(ts: datetime) -> datetime: ...
@overload
def as_utc(ts: None) -> None: ...
def as_utc(ts: datetime | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime.

    SQLite hands back naive datetimes for timezone-aware columns; the vault always
    stores them in UTC.
    """
    if ts is None or ts.tzinfo is not None:
        return ts
    return ts.replace(tzinfo=UTC)


def sqlite_datetime(v: Any) -> Any:
    """A datetime as the text SQLAlchemy's SQLite ``DateTime`` stores (UTC, microseconds)."""
    if v is None:
        return None
    if isinstance(v, datetime) and v.tzinfo is not None:
        v = v.astimezone(UTC)
    return v.strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_bool(v: Any) -> Any:
    return None if v is None else int(bool(v))


def _identity(v: Any) -> Any:
    return v


def _converter(column_type: Any) -> Callable[[Any], Any]:
    if isinstance(column_type, DateTime):
        return sqlite_datetime
    if isinstance(column_type, Date):
        return _sqlite_date
    if isinstance(column_type, Boolean):
        return _sqlite_bool
    return _identity


@contextmanager
def dbapi_cursor(conn: Connection) -> Iterator[Any]:
    """A DB-API cursor on the transaction's own connection, for any driver.

    For the few statements every vault call runs, where SQLAlchemy's per-statement
    bookkeeping costs as much as a loopback round trip. Driver errors are raised as
    SQLAlchemy raises them (:class:`DBAPIError`), so callers handle both paths alike.
    """
    driver_error = conn.dialect.loaded_dbapi.Error
    raw = conn.connection.dbapi_connection
    cur = raw.cursor()  # type: ignore[union-attr]
    try:
        yield cur
    except driver_error as exc:
        # A lost connection is invalidated, as SQLAlchemy does for its own
        # statements: the pool then drops it and the caller's rollback is a no-op
        # instead of a second error hiding the first.
        lost = conn.dialect.is_disconnect(exc, raw, cur)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, driver_error, connection_invalidated=lost
        ) from exc
    finally:
        with suppress(driver_error):  # a lost connection cannot close its cursor
            cur.close()


def insert_many(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in one executemany."""
    if not rows:
        return
    names = list(rows[0])
    if len(names) == 1:
        insert_rows(conn, table, names, [[row[names[0]]] for row in rows])
        return
    getter = itemgetter(*names)
    insert_rows(conn, table, names, [list(getter(row)) for row in rows])


def driver_values(
    dialect: str, table: Table, names: Sequence[str], values: Sequence[Any]
) -> tuple[Any, ...]:
    """``values`` of the columns ``names`` as :func:`insert_rows` converts them on ``dialect``.

    For rows built from parts that repeat within a batch: convert each part once,
    then insert with ``converted=True``. Other dialects keep Python values.
    """
    if dialect != "sqlite":
        return tuple(values)
    return tuple(_converter(table.c[n].type)(v) for n, v in zip(names, values, strict=True))


def insert_rows(
    conn: Connection,
    table: Table,
    names: Sequence[str],
    rows: list[list[Any]],
    *,
    converted: bool = False,
) -> None:
    """Insert positional ``rows`` (lists in the order of ``names``) in one executemany.

    The list form saves a dict per row on the hot ingest path; on SQLite the
    lists are converted in place (unless ``converted``: every value already came
    through :func:`driver_values`) and handed to the driver as they are.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        if conn.dialect.driver == "psycopg":
            _pg_copy(conn, table, names, rows)
        else:
            conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    if converted:
        _executemany(conn, table, names, rows)
        return
    # Only date, datetime and boolean columns need converting; their values repeat
    # a lot within a batch (one timestamp, a few decision dates), so memoise.
    todo: list[tuple[int, Callable[[Any], Any], dict[Any, Any]]] = [
        (i, conv, {})
        for i, n in enumerate(names)
        if (conv := _converter(table.c[n].type)) is not _identity
    ]
    for row in rows:
        for i, conv, memo in todo:
            v = row[i]
            try:
                row[i] = memo[v]
            except KeyError:
                row[i] = memo[v] = conv(v)
    _executemany(conn, table, names, rows)


def _pg_copy(conn: Connection, table: Table, names: Sequence[str], rows: list[list[Any]]) -> None:
    """PostgreSQL with psycopg 3: ``COPY ... FROM STDIN`` in the caller's transaction.

    COPY checks constraints and fires triggers like INSERT, at a fraction of the
    cost per row (psycopg adapts dates, timestamps, bytes and booleans itself).
    Driver errors are raised as :func:`dbapi_cursor` raises them.
    """
    cols = ", ".join(f'"{n}"' for n in names)
    sql = f'COPY "{table.name}" ({cols}) FROM STDIN'
    with dbapi_cursor(conn) as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _executemany(
    conn: Connection, table: Table, names: Sequence[str], rows: list[list[Any]]
) -> None:
    cols = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    sql = f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})'  # noqa: S608 - names from the schema
    with dbapi_cursor(conn) as cur:
        cur.executemany(sql, rows)
