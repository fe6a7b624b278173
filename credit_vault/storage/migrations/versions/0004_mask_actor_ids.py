"""mask ID numbers in the actor ids and organisations the workflow tables keep

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Vaults made before this revision stored the caller's actor id (and, for record
changes, organisation) as given; an application that names a citizen's portal
account by their ID number put that number in the database in clear. The access
log already masked it. This data migration masks the stored values the same way
(``credit_vault.identifiers.mask_identifiers``; organisations keep credit codes).
It cannot be undone: downgrading leaves the masked values.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from credit_vault.identifiers import mask_identifiers

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# table -> (actor-id columns, organisation columns)
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cv_objections": (("filed_by", "decided_by"), ()),
    "cv_repairs": (("applied_by", "decided_by"), ()),
    "cv_cases": (("opened_by", "closed_by"), ()),
    "cv_record_changes": (("actor_id",), ("actor_org",)),
}


def upgrade() -> None:
    conn = op.get_bind()
    for name, (actors, orgs) in _COLUMNS.items():
        table = sa.table(name, sa.column("id"), *(sa.column(c) for c in (*actors, *orgs)))
        rows = conn.execute(sa.select(table)).mappings().all()
        for row in rows:
            changed = {c: mask_identifiers(row[c]) for c in actors if row[c]}
            changed.update(
                {c: mask_identifiers(row[c], credit_codes=False) for c in orgs if row[c]}
            )
            changed = {c: v for c, v in changed.items() if v != row[c]}
            if changed:
                conn.execute(sa.update(table).where(table.c.id == row["id"]).values(**changed))


def downgrade() -> None:
    """Nothing to undo: the clear values are gone on purpose."""
