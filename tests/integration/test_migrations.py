"""The shipped migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from credit_vault.crypto import FileKeyProvider
from credit_vault.storage.engine import (
    VERSION_TABLE,
    current_revision,
    head_revision,
    open_store,
)
from credit_vault.storage.tables import metadata
from credit_vault.testing import FrozenClock


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
            assert current_revision(conn) == head_revision() == "0004"
            indexes = record_indexes(conn)
        assert "ix_cv_records_category" not in indexes
        assert {"ix_cv_records_subject_state", "ix_cv_records_state_ends"} <= indexes
    finally:
        store.dispose()


def test_migration_0004_masks_actor_ids_stored_before_it(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from alembic import command
    from sqlalchemy import text

    from credit_vault import Actor, SubjectRef, Vault
    from credit_vault.storage.engine import _alembic_config
    from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources

    idn = "110101198501011239"
    with Vault.open(db_url, keys=keys, clock=clock) as v:
        register_all_sources(v)
        s = SubjectRef.person(citizen_id(1))
        rid = v.ingest(clerk_for("penalty.traffic"), record_for(v, "penalty.traffic", s))
        v.records.statement(Actor(id="portal", role="subject", subject=s), rid, text="paid")
        v.objections.file(Actor(id="portal", role="subject", subject=s), rid, reason="wrong")
    store = open_store(db_url)
    try:
        with store.engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0003")
            # As an older release stored them: the caller's text as given.
            conn.execute(
                text("UPDATE cv_record_changes SET actor_id = :a, actor_org = :o"),
                {"a": f"portal:{idn}", "o": f"个人-{idn} 91350100M000100Y43"},
            )
            conn.execute(text("UPDATE cv_objections SET filed_by = :a"), {"a": f"portal:{idn}"})
        with store.engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        with store.engine.connect() as conn:
            change = conn.execute(text("SELECT actor_id, actor_org FROM cv_record_changes")).one()
            filed = conn.execute(text("SELECT filed_by FROM cv_objections")).scalar_one()
        assert tuple(change) == ("portal:[id]", "个人-[id] 91350100M000100Y43")
        assert filed == "portal:[id]"
    finally:
        store.dispose()
