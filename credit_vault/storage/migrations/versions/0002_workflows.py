"""correction workflows: objections, repairs, cases, record changes, events outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _workflow_columns(kind: str) -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=kind == "cases"),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("assigned_org", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
    ]


def _fks(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["cv_records.id"],
            name=op.f(f"fk_{table}_record_id_cv_records"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["cv_subjects.id"], name=op.f(f"fk_{table}_subject_id_cv_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _indexes(table: str, short: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_record_id"), ["record_id"], unique=False)
        batch_op.create_index(f"ix_cv_{short}_org_state", ["assigned_org", "state"], unique=False)
        batch_op.create_index(f"ix_cv_{short}_state_deadline", ["state", "deadline"], unique=False)


def upgrade() -> None:
    op.create_table(
        "cv_objections",
        *_workflow_columns("objections"),
        sa.Column("open_record", sa.String(length=40), nullable=True),
        sa.Column("record_version", sa.Integer(), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_rule", sa.String(length=32), nullable=False),
        sa.Column("filed_by", sa.String(length=128), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=True),
        sa.Column("decision_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        *_fks("cv_objections"),
        sa.UniqueConstraint("open_record", name=op.f("uq_cv_objections_open_record")),
    )
    _indexes("cv_objections", "objections")

    op.create_table(
        "cv_repairs",
        *_workflow_columns("repairs"),
        sa.Column("open_record", sa.String(length=40), nullable=True),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_rule", sa.String(length=32), nullable=False),
        sa.Column("applied_by", sa.String(length=128), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("refile_after", sa.Date(), nullable=True),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("evidence_ct", sa.LargeBinary(), nullable=True),
        sa.Column("decision_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        *_fks("cv_repairs"),
        sa.UniqueConstraint("open_record", name=op.f("uq_cv_repairs_open_record")),
    )
    _indexes("cv_repairs", "repairs")

    op.create_table(
        "cv_cases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=True),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("assigned_org", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("deadline_rule", sa.String(length=32), nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=True),
        sa.Column("outcome_ct", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        *_fks("cv_cases"),
    )
    _indexes("cv_cases", "cases")

    op.create_table(
        "cv_record_changes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("reason_ct", sa.LargeBinary(), nullable=True),
        sa.Column("workflow_id", sa.String(length=40), nullable=True),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("actor_org", sa.String(length=128), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["cv_records.id"],
            name=op.f("fk_cv_record_changes_record_id_cv_records"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cv_record_changes")),
    )
    with op.batch_alter_table("cv_record_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cv_record_changes_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "cv_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=64), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cv_events")),
    )


def downgrade() -> None:
    op.drop_table("cv_events")
    with op.batch_alter_table("cv_record_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cv_record_changes_record_id"))
    op.drop_table("cv_record_changes")
    for table, short in (
        ("cv_cases", "cases"),
        ("cv_repairs", "repairs"),
        ("cv_objections", "objections"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_cv_{short}_state_deadline")
            batch_op.drop_index(f"ix_cv_{short}_org_state")
            batch_op.drop_index(batch_op.f(f"ix_{table}_record_id"))
        op.drop_table(table)
