"""drop the unused index on cv_records.category

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

No query filters records by category alone (the query reads a subject's records
through (subject_id, state); the sweep walks (state, disclosure_ends_on) and
(state, purge_on)), so the index only cost a B-tree write on every ingest.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cv_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cv_records_category"))


def downgrade() -> None:
    with op.batch_alter_table("cv_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cv_records_category"), ["category"], unique=False)
