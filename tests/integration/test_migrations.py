"""The shipped migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credit_vault.storage.engine import current_revision, head_revision, open_store
from credit_vault.storage.tables import metadata


def test_migrations_match_metadata(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], diff
    finally:
        store.dispose()


def test_open_twice_is_idempotent(db_url: str) -> None:
    for _ in range(2):
        store = open_store(db_url)
        store.dispose()
