"""Alembic environment for credit_vault's schema.

The vault runs migrations itself (``Vault.open`` and ``credit-vault db upgrade``)
and hands Alembic an open connection through ``config.attributes["connection"]``,
so the migration runs in the caller's transaction and under its lock.
"""

from __future__ import annotations

from alembic import context

from credit_vault.storage.engine import VERSION_TABLE
from credit_vault.storage.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when run by a bare `alembic` command
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url or use `credit-vault db upgrade URL`")
    with create_engine(url).begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            render_as_batch=True,
            version_table=VERSION_TABLE,
        )
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
        version_table=VERSION_TABLE,
    )
    context.run_migrations()
