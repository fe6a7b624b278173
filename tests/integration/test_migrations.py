"""The shipped migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credit_vault.storage.engine import (
    VERSION_TABLE,
    current_revision,
    head_revision,
    open_store,
)
from credit_vault.storage.tables import metadata


def test_migrations_match_metadata(db_url: str) -> None:
    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            diff = compare_metadata(ctx, metadata)
        assert diff == [], diff
    finally:
        store.dispose()


def test_open_twice_is_idempotent(db_url: str) -> None:
    for _ in range(2):
        store = open_store(db_url)
        store.dispose()


def test_migration_0003_drops_the_category_index_and_downgrades(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from credit_vault.storage.engine import _alembic_config

    def record_indexes(conn: object) -> set[str]:
        return {ix["name"] for ix in inspect(conn).get_indexes("cv_records") if ix["name"]}

    store = open_store(db_url)
    try:
        with store.engine.connect() as conn:
            assert "ix_cv_records_category" not in record_indexes(conn)
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0002")
        with store.engine.connect() as conn:
            assert "ix_cv_records_category" in record_indexes(conn)
        with store.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0003"
            indexes = record_indexes(conn)
        assert "ix_cv_records_category" not in indexes
        assert {"ix_cv_records_subject_state", "ix_cv_records_state_ends"} <= indexes
    finally:
        store.dispose()
