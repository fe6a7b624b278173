"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# SHA-256 of nothing: the root of the empty tree (RFC 6962).
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoints")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("op", sa.String(length=32), nullable=False),
        sa.Column("subject_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_subject_pseudonym"), ["subject_pseudonym"], unique=False
        )

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "cv_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_cv_meta")),
    )
    op.create_table(
        "cv_sources",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_cv_sources")),
    )
    op.create_table(
        "cv_subjects",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.LargeBinary(length=32), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("identity_ct", sa.LargeBinary(), nullable=True),
        sa.Column("name_ct", sa.LargeBinary(), nullable=True),
        sa.Column("name_lookup", sa.LargeBinary(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cv_subjects")),
        sa.UniqueConstraint("kind", "lookup", name="uq_cv_subjects_kind_lookup"),
    )
    with op.batch_alter_table("cv_subjects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cv_subjects_pseudonym"), ["pseudonym"], unique=False)

    op.create_table(
        "cv_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("source_code", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("legal_basis", sa.String(length=200), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("conduct_ended_on", sa.Date(), nullable=True),
        sa.Column("disclosure_mode", sa.String(length=16), nullable=False),
        sa.Column("disclosure_starts_on", sa.Date(), nullable=True),
        sa.Column("disclosure_ends_on", sa.Date(), nullable=True),
        sa.Column("repair_from", sa.Date(), nullable=True),
        sa.Column("purge_on", sa.Date(), nullable=True),
        sa.Column("disputed", sa.Boolean(), nullable=False),
        sa.Column("statement_ct", sa.LargeBinary(), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kek_id", sa.String(length=32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("fields", sa.LargeBinary(), nullable=True),
        sa.Column("field_names", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_code"], ["cv_sources.code"], name=op.f("fk_cv_records_source_code_cv_sources")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["cv_subjects.id"], name=op.f("fk_cv_records_subject_id_cv_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cv_records")),
    )
    with op.batch_alter_table("cv_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cv_records_category"), ["category"], unique=False)
        batch_op.create_index("ix_cv_records_state_purge", ["state", "purge_on"], unique=False)
        batch_op.create_index(
            "ix_cv_records_state_ends", ["state", "disclosure_ends_on"], unique=False
        )
        batch_op.create_index("ix_cv_records_subject_state", ["subject_id", "state"], unique=False)

    op.create_table(
        "cv_source_categories",
        sa.Column("source_code", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_code"],
            ["cv_sources.code"],
            name=op.f("fk_cv_source_categories_source_code_cv_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_code", "category", name=op.f("pk_cv_source_categories")),
    )
    op.create_table(
        "cv_record_versions",
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kek_id", sa.String(length=32), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("fields", sa.LargeBinary(), nullable=True),
        sa.Column("field_names", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["cv_records.id"],
            name=op.f("fk_cv_record_versions_record_id_cv_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("record_id", "version", name=op.f("pk_cv_record_versions")),
    )
    # The log's head row exists from the start so appends only ever UPDATE it
    # (a row lock in PostgreSQL, never an insert race).
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer()),
        sa.column("size", sa.BigInteger()),
        sa.column("frontier", sa.LargeBinary()),
        sa.column("root", sa.LargeBinary()),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "frontier": b"", "root": EMPTY_ROOT}])


def downgrade() -> None:
    op.drop_table("cv_record_versions")
    op.drop_table("cv_source_categories")
    with op.batch_alter_table("cv_records", schema=None) as batch_op:
        batch_op.drop_index("ix_cv_records_subject_state")
        batch_op.drop_index("ix_cv_records_state_ends")
        batch_op.drop_index("ix_cv_records_state_purge")
        batch_op.drop_index(batch_op.f("ix_cv_records_category"))

    op.drop_table("cv_records")
    with op.batch_alter_table("cv_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cv_subjects_pseudonym"))

    op.drop_table("cv_subjects")
    op.drop_table("cv_sources")
    op.drop_table("cv_meta")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_subject_pseudonym"))

    op.drop_table("audit_entries")
    op.drop_table("audit_checkpoints")
