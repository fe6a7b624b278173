"""``credit-vault db``: database schema tasks."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from credit_vault.cli._keysource import open_key_file, passphrase_file_option
from credit_vault.cli._main import Output
from credit_vault.errors import ConfigurationError, StorageError

__all__ = ["db", "read_url", "read_vault_url", "require_vault"]


@click.group("db")
def db() -> None:
    """Database schema tasks (SQLite file or PostgreSQL)."""


def read_url(url: str) -> str:
    """The URL argument, or the first line of stdin when it is ``-``.

    A password belongs in stdin, a ``.pgpass`` file or ``PGPASSWORD``; a URL given
    on the command line (visible in ``ps`` and shell history) may not carry one.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from_stdin = url == "-"
    if from_stdin:
        url = sys.stdin.readline().strip()
        if not url:
            raise click.BadParameter("no database URL on stdin", param_hint="URL")
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # ValueError: a port that is not a number. Neither message is shown: both
        # may quote the URL, password included.
        raise ConfigurationError("the database URL is not valid") from None
    if parsed.password is not None and not from_stdin:
        raise click.BadParameter(
            "the URL carries a password: pass the URL on stdin ('-') or use a .pgpass file "
            "or PGPASSWORD instead of a command-line argument",
            param_hint="URL",
        )
    return url


def read_vault_url(url: str) -> str:
    """:func:`read_url`, then :func:`require_vault`: for commands that act on an existing vault."""
    url = read_url(url)
    require_vault(url)
    return url


def require_vault(url: str) -> None:
    """Refuse a URL where no vault exists yet, before anything opens (and so creates) one.

    Opening a vault creates its schema, so a mistyped path or database name would
    otherwise become a new, empty vault, and maintenance would report on that
    (say, an old KEK wrapping nothing). A SQLite file must exist; any database
    must hold the ``cv_meta`` table. Looked at through a short-lived engine that
    writes nothing. Raises :class:`ConfigurationError` (exit 3) when there is no
    vault and :class:`StorageError` (exit 1) when the database cannot be reached.
    """
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        from credit_vault.storage.engine import sqlite_file_path

        database = sqlite_file_path(parsed)  # a file: URI names its path
        if database is None:
            raise ConfigurationError(
                "an in-memory SQLite database holds no vault; give the vault's file"
            )
        if Path(database).is_dir():
            raise ConfigurationError(f"no vault at {shown}: the path is a directory")
        if not Path(database).is_file():
            raise ConfigurationError(
                f"no vault at {shown}: the file does not exist (check the path; "
                "`credit-vault db upgrade` creates a new vault)"
            )
    elif backend != "postgresql" or parsed.get_driver_name() not in ("psycopg", "psycopg2"):
        return  # Vault.open names what it does not support
    try:
        engine = create_engine(parsed)
    except (NoSuchModuleError, ImportError):
        return  # Vault.open says which driver to install
    try:
        with engine.connect() as conn:
            found = inspect(conn).has_table("cv_meta")
    except SQLAlchemyError as exc:
        from credit_vault.storage.engine import connection_reason

        raise StorageError(
            f"cannot read the database at {shown} ({connection_reason(exc)})"
        ) from None
    finally:
        engine.dispose()
    if not found:
        raise ConfigurationError(
            f"no vault at {shown}: the database has no credit_vault schema (check the URL; "
            "`credit-vault db upgrade` creates a new vault)"
        )


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db.command("upgrade")
@click.argument("url", metavar="URL")
@click.option(
    "--keys",
    "keyfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=(
        "Key-set file (plain, or sealed: see --passphrase-file): also check the database "
        "belongs to it (or bind a new one to it)."
    ),
)
@passphrase_file_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def upgrade(url: str, keyfile: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Create the schema at URL, or upgrade it to the newest revision (idempotent).

    URL is sqlite:///path/vault.db or postgresql+psycopg://user@host/db; give -
    to read it from stdin (the only place a URL with a password is accepted).
    Prints the schema revision.
    """
    from credit_vault.storage.engine import current_revision, open_store

    out = Output(json_mode=as_json)
    url = read_url(url)
    shown = _shown(url)
    out.info(f"upgrading the schema of {shown}")
    store = open_store(url)
    try:
        with store.engine.begin() as conn:
            revision = current_revision(conn)
        dialect = store.dialect
    finally:
        store.dispose()

    fingerprint: str | None = None
    if keyfile is not None:
        from credit_vault import Vault

        keys = open_key_file(keyfile, passphrase_file)
        # Opening the vault records the key set's fingerprint in a new database
        # and refuses a database made under another key set (exit code 3).
        with Vault.open(url, keys=keys):
            fingerprint = keys.key_set().fingerprint
        out.info(f"the database belongs to key set {fingerprint}")

    out.info(f"schema is at revision {revision}")
    if as_json:
        out.emit_json(
            {"url": shown, "dialect": dialect, "revision": revision, "key_set": fingerprint}
        )
    else:
        click.echo(f"revision {revision}")
