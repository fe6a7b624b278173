"""The vault's tables (SQLAlchemy 2.x declarative, used through Core for bulk paths).

Storage keeps opaque bytes: every personal value arrives here already encrypted
(or as a keyed blind index). Field *names*, category codes, dates and states are
schema, not personal data, and are stored in clear so the vault can decide
disclosure without decrypting anything.

Constraint names follow one naming convention, so migrations name the same
constraints on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

__all__ = [
    "SUBJECT_KEY_VERSION",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Meta",
    "Record",
    "RecordVersion",
    "Source",
    "SourceCategory",
    "Subject",
    "metadata",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    """Declarative base bound to the vault's naming convention."""

    metadata = metadata


class Meta(Base):
    """Vault-wide settings: schema format, origin name, key-set fingerprint."""

    __tablename__ = "cv_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(1024))


class Source(Base):
    """A department or body registered to push records (信息提供单位)."""

    __tablename__ = "cv_sources"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_TS)


class SourceCategory(Base):
    """A category a source is allowed to push."""

    __tablename__ = "cv_source_categories"

    source_code: Mapped[str] = mapped_column(
        String(64), ForeignKey("cv_sources.code", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(64), primary_key=True)


#: The key version every subject's data key is bound to (subjects have one key for life).
SUBJECT_KEY_VERSION = 1


class Subject(Base):
    """A person or organisation: blind index for lookup, identity and name as ciphertext."""

    __tablename__ = "cv_subjects"
    __table_args__ = (UniqueConstraint("kind", "lookup", name="uq_cv_subjects_kind_lookup"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    lookup: Mapped[bytes] = mapped_column(LargeBinary(32))
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    kek_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    identity_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_lookup: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(_TS)
    erased_at: Mapped[datetime | None] = mapped_column(_TS)


class Record(Base):
    """One credit record: metadata in clear, facts as per-field ciphertexts under its data key."""

    __tablename__ = "cv_records"
    __table_args__ = (
        Index("ix_cv_records_subject_state", "subject_id", "state"),
        Index("ix_cv_records_state_ends", "state", "disclosure_ends_on"),
        # Purged tombstones keep their purge_on; leading with state lets the sweep
        # skip them, so its cost follows the number of records due.
        Index("ix_cv_records_state_purge", "state", "purge_on"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("cv_subjects.id"))
    # Not indexed: nothing filters records by category alone (migration 0003).
    category: Mapped[str] = mapped_column(String(64))
    source_code: Mapped[str] = mapped_column(String(64), ForeignKey("cv_sources.code"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    legal_basis: Mapped[str] = mapped_column(String(200))
    decided_on: Mapped[date] = mapped_column(Date)
    occurred_on: Mapped[date] = mapped_column(Date)
    conduct_ended_on: Mapped[date | None] = mapped_column(Date)
    disclosure_mode: Mapped[str] = mapped_column(String(16))
    disclosure_starts_on: Mapped[date | None] = mapped_column(Date)
    disclosure_ends_on: Mapped[date | None] = mapped_column(Date)
    repair_from: Mapped[date | None] = mapped_column(Date)
    purge_on: Mapped[date | None] = mapped_column(Date)
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The subject's statement (Z2), encrypted under the *subject's* data key with
    # field name "statement:<record id>", so it survives corrections of the record.
    statement_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Why disclosure ended or the record was purged (a reason code, never free text).
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    state_changed_at: Mapped[datetime | None] = mapped_column(_TS)
    purged_at: Mapped[datetime | None] = mapped_column(_TS)
    kek_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    fields: Mapped[bytes | None] = mapped_column(LargeBinary)
    field_names: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_TS)
    updated_at: Mapped[datetime] = mapped_column(_TS)


class RecordVersion(Base):
    """A superseded version of a record: still encrypted, never disclosed, purged with it."""

    __tablename__ = "cv_record_versions"

    record_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("cv_records.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    kek_id: Mapped[str | None] = mapped_column(String(32))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    fields: Mapped[bytes | None] = mapped_column(LargeBinary)
    field_names: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(64))
    superseded_at: Mapped[datetime] = mapped_column(_TS)


class AuditEntry(Base):
    """One access-log entry: its canonical bytes and leaf hash, plus columns for lookups."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(_TS)
    # Not indexed: every vault call appends here, and each index is one more page
    # written per commit; reviews read the log by sequence range anyway.
    actor_id: Mapped[str] = mapped_column(String(128))
    op: Mapped[str] = mapped_column(String(32))
    subject_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHead(Base):
    """The log's head: its size, the compact-range frontier and the current root (one row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    updated_at: Mapped[datetime | None] = mapped_column(_TS)


class AuditCheckpoint(Base):
    """A signed checkpoint of the log: size, root and the signed-note text."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_TS)


# --- correction workflows (issue 6; migration 0002) ---------------------------------
# Free text (reasons, evidence) is stored only as ciphertext under the subject's data
# key, bound to the workflow object's id; states, dates, organisations and reason
# codes are schema and stay in clear so deadlines can be reported without decrypting.


class _WorkflowRow:
    """What objections, repairs and cases share: their id, timestamps and handler indexes.

    The id sorts first and the timestamps last (after the class's own columns), as the
    migration creates them.
    """

    id: Mapped[str] = mapped_column(String(40), primary_key=True, sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(_TS)
    updated_at: Mapped[datetime] = mapped_column(_TS)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:  # noqa: N805 - declared_attr gets the class
        # Index names carry the table's name, as migration 0002 spells them.
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (
            Index(f"ix_{name}_org_state", "assigned_org", "state"),
            Index(f"ix_{name}_state_deadline", "state", "deadline"),
        )


class ObjectionRow(_WorkflowRow, Base):
    """An objection (异议) against a record, assigned to the organisation that decides it."""

    __tablename__ = "cv_objections"

    record_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("cv_records.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("cv_subjects.id"))
    assigned_org: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # The record id while the objection is open, else NULL: one open objection per
    # record, enforced by the unique constraint on both SQLite and PostgreSQL.
    open_record: Mapped[str | None] = mapped_column(String(40), unique=True)
    record_version: Mapped[int] = mapped_column(Integer)
    filed_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    deadline_rule: Mapped[str] = mapped_column(String(32))
    filed_by: Mapped[str] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_on: Mapped[date | None] = mapped_column(Date)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    decision_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class RepairRow(_WorkflowRow, Base):
    """A credit-repair application (信用修复), decided by the listing organisation."""

    __tablename__ = "cv_repairs"

    record_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("cv_records.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("cv_subjects.id"))
    assigned_org: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    open_record: Mapped[str | None] = mapped_column(String(40), unique=True)
    applied_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    deadline_rule: Mapped[str] = mapped_column(String(32))
    applied_by: Mapped[str] = mapped_column(String(128))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_on: Mapped[date | None] = mapped_column(Date)
    refile_after: Mapped[date | None] = mapped_column(Date)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    evidence_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    decision_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class CaseRow(_WorkflowRow, Base):
    """A reconsideration or complaint case the vault tracks but does not decide."""

    __tablename__ = "cv_cases"

    type: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("cv_records.id", ondelete="CASCADE"), index=True
    )
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("cv_subjects.id"))
    assigned_org: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    opened_on: Mapped[date] = mapped_column(Date)
    deadline: Mapped[date] = mapped_column(Date)
    deadline_rule: Mapped[str] = mapped_column(String(32))
    opened_by: Mapped[str] = mapped_column(String(128))
    closed_by: Mapped[str | None] = mapped_column(String(128))
    closed_on: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class RecordChangeRow(Base):
    """A correction, revocation, repair or statement of a record, with its reason code."""

    __tablename__ = "cv_record_changes"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    record_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("cv_records.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    workflow_id: Mapped[str | None] = mapped_column(String(40))
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_org: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(_TS)


class EventRow(Base):
    """The outbox: one event per workflow transition, keyed by its access-log sequence number."""

    __tablename__ = "cv_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(_TS)
    type: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str | None] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str | None] = mapped_column(String(64))
    deadline: Mapped[date | None] = mapped_column(Date)
