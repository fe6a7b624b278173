"""The disclosure lifecycle: record status, the sweep, and a subject's erasure.

Correctness of reads never depends on this module: ``Vault.query`` judges every
window and purge date from the clock (:mod:`credit_vault.domain.windows`). The
sweep *records* what the clock already decided (``active`` → ``expired``) and
makes retention real: a purged record loses its data keys and ciphertexts
(crypto-shredding) and keeps a tombstone row without personal data.

Concurrency: each batch is its own transaction that claims rows with a
conditional ``UPDATE ... WHERE state = <old>`` (and, on PostgreSQL, ``SELECT ...
FOR UPDATE SKIP LOCKED`` first), so several processes may sweep at once: no row
changes state twice, and each transition appears in exactly one log entry.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Select, Table, Update, func, or_, select, update
from sqlalchemy.engine import Connection

from credit_vault import _fields
from credit_vault.audit._entry import clean, request_id_or_new
from credit_vault.crypto import FieldCipher
from credit_vault.domain.catalog import Category
from credit_vault.domain.models import Actor, SubjectRef
from credit_vault.domain.policy import ticket_well_formed
from credit_vault.domain.windows import (
    LIVE_STATES,
    RecordState,
    Window,
    check_transition,
    is_visible,
    purge_due,
    retention_running,
    state_today,
)
from credit_vault.errors import (
    ConflictError,
    CreditVaultError,
    InputError,
    IntegrityError,
    InvalidRecord,
    NotFound,
    PermissionDenied,
    RecordNotFound,
    RecordPurged,
    TicketRequired,
)
from credit_vault.storage.bulk import as_utc
from credit_vault.storage.tables import Record, RecordVersion, Subject, metadata

_LOG = logging.getLogger("credit_vault.lifecycle")

if TYPE_CHECKING:
    from credit_vault.vault import Vault

__all__ = [
    "ErasureReport",
    "Lifecycle",
    "RecordStatus",
    "SweepProgress",
    "SweepReport",
    "decrypt_facts",
    "live_record",
]

_R = cast("Table", Record.__table__)
_V = cast("Table", RecordVersion.__table__)
_S = cast("Table", Subject.__table__)

MAX_BATCH = 10_000
# Purge candidates are read in rounds of ids (then claimed batch by batch), so a
# sweep walks the purge_on index about once per round instead of once per batch.
_ROUND = 50_000

# Reason codes kept on tombstones and in the log (never free text).
REASON_WINDOW_ENDED = "window_ended"
REASON_RETENTION = "retention"
REASON_ERASURE = "erasure"

# Purpose kinds whose grants also let a role read the status of a record it covers.
_STATUS_KINDS = frozenset({"records", "metadata"})


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class RecordStatus:
    """Where a record stands in its lifecycle today; no fact is decrypted to answer.

    ``state`` is the state today, judged from the clock as reads judge it
    (``purged`` from the purge date on, swept or not);
    ``stored_state`` is what the sweep (or a workflow) has recorded so far, which
    may lag (``active`` while ``state`` is already ``expired``). ``disclosable``
    says whether a disclosure purpose could see the record today; ``purge_due``
    that its retention is over and the next sweep shreds it.
    """

    record_id: str
    category: str
    source: str
    state: RecordState
    stored_state: RecordState
    disclosable: bool
    disclosure_mode: str
    decided_on: date
    disclosure_starts_on: date | None
    disclosure_ends_on: date | None
    repair_from: date | None
    purge_on: date | None
    purge_due: bool
    version: int
    ended_reason: str | None
    state_changed_at: datetime | None
    purged_at: datetime | None
    as_of: date
    access_seq: int


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Progress of a sweep, passed to the ``progress`` callback after each batch.

    ``phase`` is ``"purge"`` or ``"expire"``; ``total`` is the number found due
    when the phase started (other processes may take some of them).
    """

    phase: Literal["purge", "expire"]
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did: records expired and purged (by this process), batches, log entries."""

    today: date
    expired: int
    purged: int
    batches: int
    entries: tuple[int, ...]
    wal_checkpointed: bool | None
    access_seq: int


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """A subject's erasure: the records shredded with it and the log entry that records it."""

    subject_pseudonym: str
    records: tuple[str, ...]
    categories: tuple[str, ...]
    erased_at: datetime
    access_seq: int


ProgressCallback = Callable[[SweepProgress], None]


# --------------------------------------------------------------------------- helpers


def window_of(row: Any) -> Window:
    """The window stored on a record row."""
    return Window(
        mode=row.disclosure_mode,
        starts_on=row.disclosure_starts_on,
        ends_on=row.disclosure_ends_on,
        purge_on=row.purge_on,
        repair_from=row.repair_from,
    )


def live_record(conn: Connection, record_id: str, *, for_update: bool = False) -> Any:
    """The record row if its facts can still be read; RecordNotFound or RecordPurged otherwise.

    For services that read one record's facts (objections, corrections): a
    purged record has no data key left, so it is refused before any decryption.
    """
    stmt = select(_R).where(_R.c.id == record_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).first()
    if row is None:
        raise RecordNotFound
    if row.state == "purged" or row.wrapped_key is None or row.fields is None:
        raise RecordPurged
    return row


def check_batch(batch_size: object, progress: object, progress_type: str) -> None:
    """The arguments every batched maintenance walk takes (sweep, re-wrap), checked alike."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= MAX_BATCH
    ):
        raise InputError(f"batch_size must be a whole number from 1 to {MAX_BATCH}")
    if progress is not None and not callable(progress):
        raise InputError(f"progress must be a callable taking a {progress_type}")


def decrypt_facts(vault: Vault, row: Any, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Decrypt the current version's facts of a live record row (``names`` only, if given)."""
    if row.state == "purged" or row.wrapped_key is None or row.fields is None:
        raise RecordPurged
    stored = [n for n in row.field_names.split(",") if n]
    if names is None:
        wanted = stored
    else:
        keep = set(names)
        wanted = [n for n in stored if n in keep]
    return decrypt_fields(vault, row, wanted)


def decrypt_fields(vault: Vault, row: Any, names: Sequence[str]) -> dict[str, Any]:
    """Decrypt exactly ``names`` (stored fields of the row's current version, in that order).

    The read path's step once it has chosen the fields; :func:`decrypt_facts` checks
    and filters first.
    """
    if not names:
        return {}
    fc = FieldCipher(vault._envelope.unwrap(row.id, row.version, bytes(row.wrapped_key)))
    cts = _fields.unpack(bytes(row.fields), names)
    if len(cts) != len(set(names)):
        # field_names lists a field the ciphertexts do not hold: the row was altered.
        raise IntegrityError("a record's field list does not match its ciphertexts")
    return {n: _fields.decode_value(fc.decrypt(row.id, n, cts[n])) for n in names}


def _bound_ciphertexts(key: str) -> list[tuple[Table, list[str]]]:
    """Other tables with a ``key`` column (record_id, subject_id) and their ``*_ct`` columns.

    Workflow tables keep free text (objection reasons, repair evidence) as
    ciphertext next to the record or subject it concerns; found from the schema,
    so a table added later is shredded too.
    """
    out: list[tuple[Table, list[str]]] = []
    for table in metadata.sorted_tables:
        if table.name in (_R.name, _S.name, _V.name) or key not in table.c:
            continue
        cols = [c.name for c in table.c if c.name.endswith("_ct") and c.nullable]
        if cols:
            out.append((table, cols))
    return out


def _shred(conn: Connection, ids: Sequence[str], *, reason: str, now: datetime) -> int:
    """Crypto-shred records (and their superseded versions); return the rows changed.

    The data keys and ciphertexts are set to NULL, so a copy of a ciphertext made
    earlier is useless without its key. The row stays as a tombstone: category,
    dates, source, legal basis, state ``purged`` and the reason. Ciphertexts other
    tables keep about the record (workflow reasons, evidence) are deleted with it.
    """
    if not ids:
        return 0
    changed = 0
    for i in range(0, len(ids), 500):
        chunk = list(ids[i : i + 500])
        res = conn.execute(
            update(_R)
            .where(_R.c.id.in_(chunk), _R.c.state != "purged")
            .values(
                state="purged",
                kek_id=None,
                wrapped_key=None,
                fields=None,
                field_names="",
                statement_ct=None,
                ended_reason=reason,
                state_changed_at=now,
                purged_at=now,
                updated_at=now,
            )
        )
        changed += res.rowcount
        conn.execute(
            update(_V)
            .where(_V.c.record_id.in_(chunk))
            .values(kek_id=None, wrapped_key=None, fields=None, field_names="")
        )
        for table, cols in _bound_ciphertexts("record_id"):
            conn.execute(
                update(table).where(table.c.record_id.in_(chunk)).values(dict.fromkeys(cols))
            )
    return changed


def _purge_candidates(today: date, limit: int) -> Select[Any]:
    """Ids of records past retention, oldest first (walks the (state, purge_on) index)."""
    return (
        select(_R.c.id)
        .where(_R.c.state.in_(LIVE_STATES), _R.c.purge_on <= today)
        .order_by(_R.c.purge_on)
        .limit(limit)
    )


def _expire_candidates(today: date, limit: int) -> Select[Any]:
    """Active records whose window has ended and whose retention is not over yet.

    Walks the (state, disclosure_ends_on) index; a record already due for purge
    is left to the purge phase so that it makes one transition, not two.
    """
    return (
        select(_R.c.id, _R.c.category)
        .where(
            _R.c.state == "active",
            _R.c.disclosure_ends_on <= today,
            or_(_R.c.purge_on.is_(None), _R.c.purge_on > today),
        )
        .order_by(_R.c.disclosure_ends_on)
        .limit(limit)
    )


def _purge_claim(ids: Sequence[str], today: date) -> Select[Any]:
    """The rows of ``ids`` still due for purge (locked on PostgreSQL by the caller)."""
    return select(_R.c.id, _R.c.category, _R.c.state).where(
        _R.c.id.in_(list(ids)), _R.c.state != "purged", _R.c.purge_on <= today
    )


def _expire_update(ids: Sequence[str], now: datetime) -> Update:
    """Mark ``ids`` expired, but only those still active (the claim)."""
    return (
        update(_R)
        # The state test is wrapped so that SQLite's planner, which guesses that
        # `state = ?` matches a few rows, looks the ids up by primary key instead of
        # walking every active row through the state index.
        .where(_R.c.id.in_(list(ids)), func.coalesce(_R.c.state, "") == "active")
        .values(
            state="expired",
            ended_reason=REASON_WINDOW_ENDED,
            state_changed_at=now,
            updated_at=now,
        )
    )


def _count(conn: Connection, stmt: Select[Any]) -> int:
    inner = stmt.limit(None).order_by(None).subquery()
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


# --------------------------------------------------------------------------- service


class Lifecycle:
    """Record status, sweeps and erasure for one vault (used through the Vault's methods)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    # ------------------------------------------------------------------ status

    def _status_grant(
        self, actor: Actor, category: Category | None, row: Any, ticket: str | None
    ) -> str | None:
        """None when a policy grant lets the actor's role see this record's status, as a
        query under that grant would see the record; else the reason code."""
        if category is None:
            return "category_not_granted"
        policy = self._vault.policy
        today = self._vault.today()
        reason = "category_not_granted"
        for g in policy.grants:
            if g.role != actor.role or not g.covers(category):
                continue
            if not policy.has_purpose(g.purpose):
                continue
            purpose = policy.purpose(g.purpose)
            # Answer and aggregate purposes never see one record, so not its status
            # either; a purpose that needs the subject's consent gives nothing without
            # it (and record_status takes none), as a query under it would give nothing.
            if purpose.kind not in _STATUS_KINDS or purpose.consent or purpose.self_only:
                continue
            if purpose.own_source and actor.organisation != row.source_code:
                continue  # as a query under it would leave the record out
            if g.ticket and not (ticket is not None and ticket_well_formed(ticket)):
                reason = "ticket_required"
                continue  # the ticket the grant asks a query for
            if purpose.kind == "records" and not is_visible(
                scope=purpose.scope,
                consent_purpose=purpose.sees_consent_only,
                state=row.state,
                window=window_of(row),
                today=today,
                ended_records=purpose.ended_records,
            ):
                # A record the purpose could not query: its state (repaired, revoked,
                # expired) is not the purpose's to learn either.
                if reason == "category_not_granted":
                    reason = "not_visible"
                continue
            return None
        return reason

    def _may_ask_status(self, actor: Actor) -> bool:
        """A cheap role-level check before anything is read."""
        if actor.role == "admin" or actor.subject is not None:
            return True
        if actor.role == "source_clerk" and actor.organisation:
            return True
        policy = self._vault.policy
        return any(
            g.role == actor.role
            and policy.has_purpose(g.purpose)
            and policy.purpose(g.purpose).kind in _STATUS_KINDS
            for g in policy.grants
        )

    def record_status(
        self,
        actor: Actor,
        record_id: str,
        *,
        ticket: str | None = None,
        request_id: str | None = None,
    ) -> RecordStatus:
        """The lifecycle state, window and purge date of one record (see Vault.record_status)."""
        v = self._vault
        actor = v._check_actor(actor)
        if not isinstance(record_id, str) or not record_id or len(record_id) > 64:
            raise InvalidRecord("record_id must be a record id (1-64 characters)")
        rid = request_id_or_new(request_id)
        shown_id = clean(record_id, 64)
        if not self._may_ask_status(actor):
            v._log_only(
                v._entry(
                    actor,
                    "status",
                    "denied",
                    ticket=ticket,
                    records=[shown_id],
                    reason="role_not_granted",
                    request_id=rid,
                )
            )
            raise PermissionDenied(f"{v.policy.role_ref(actor.role)} may not read record status")
        today = v.today()
        outcome: tuple[str, str, str, str] | None = None  # (outcome, reason, category, pseudonym)
        status: RecordStatus | None = None
        with v._tx() as conn:
            row = conn.execute(
                select(
                    _R.c.id,
                    _R.c.category,
                    _R.c.source_code,
                    _R.c.state,
                    _R.c.version,
                    _R.c.decided_on,
                    _R.c.disclosure_mode,
                    _R.c.disclosure_starts_on,
                    _R.c.disclosure_ends_on,
                    _R.c.repair_from,
                    _R.c.purge_on,
                    _R.c.ended_reason,
                    _R.c.state_changed_at,
                    _R.c.purged_at,
                    _S.c.kind,
                    _S.c.lookup,
                    _S.c.pseudonym,
                )
                .join(_S, _S.c.id == _R.c.subject_id)
                .where(_R.c.id == record_id)
            ).first()
            if row is None:
                outcome = ("error", "record_not_found", "", "")
            else:
                cat = v.catalog.get(row.category) if row.category in v.catalog else None
                reason = self._status_denial(actor, row, cat, ticket)
                if reason is not None:
                    outcome = ("denied", reason, row.category, row.pseudonym or "")
                else:
                    window = window_of(row)
                    seq = v._append(
                        conn,
                        v._entry(
                            actor,
                            "status",
                            "ok",
                            ticket=ticket,
                            subject=row.pseudonym or "",
                            records=[row.id],
                            categories=[row.category],
                            request_id=rid,
                        ),
                    )
                    status = RecordStatus(
                        record_id=row.id,
                        category=row.category,
                        source=row.source_code,
                        state=state_today(row.state, window, today),
                        stored_state=cast("RecordState", row.state),
                        disclosable=is_visible(
                            scope="disclosable",
                            consent_purpose=False,
                            state=row.state,
                            window=window,
                            today=today,
                        ),
                        disclosure_mode=row.disclosure_mode,
                        decided_on=row.decided_on,
                        disclosure_starts_on=row.disclosure_starts_on,
                        disclosure_ends_on=row.disclosure_ends_on,
                        repair_from=row.repair_from,
                        purge_on=row.purge_on,
                        purge_due=purge_due(row.state, window, today),
                        version=row.version,
                        ended_reason=row.ended_reason,
                        state_changed_at=as_utc(row.state_changed_at),
                        purged_at=as_utc(row.purged_at),
                        as_of=today,
                        access_seq=seq,
                    )
        if status is not None:
            return status
        assert outcome is not None  # noqa: S101 - either a status or an outcome was set
        result, reason, category, pseudo = outcome
        v._log_only(
            v._entry(
                actor,
                "status",
                result,
                ticket=ticket,
                subject=pseudo,
                records=[shown_id],
                categories=[category] if category else [],
                reason=reason,
                request_id=rid,
            )
        )
        if result == "error":
            raise RecordNotFound
        if reason == "ticket_required":
            raise TicketRequired("the grant for this record's status needs a ticket (case number)")
        raise PermissionDenied("the policy does not let this actor read this record's status")

    def _status_denial(
        self, actor: Actor, row: Any, cat: Category | None, ticket: str | None
    ) -> str | None:
        """None when the actor may read this record's status, else the reason code."""
        v = self._vault
        if actor.role == "admin":
            return None
        if actor.role == "source_clerk" and actor.organisation == row.source_code:
            return None
        if actor.role == "subject":
            # The subject themself, and only about their own records; another role
            # carrying a subject= (an agent, a clerk) is judged by its own grants
            # below, as a query would judge it.
            if (
                actor.subject is not None
                and actor.subject.kind == row.kind
                and bytes(row.lookup) == v._subject_lookup(actor.subject)
            ):
                return None
            return "not_self"
        return self._status_grant(actor, cat, row, ticket)

    # ------------------------------------------------------------------ sweep

    def sweep(
        self,
        actor: Actor,
        *,
        batch_size: int = 500,
        progress: ProgressCallback | None = None,
        request_id: str | None = None,
    ) -> SweepReport:
        """Purge records past retention, then mark ended windows (see Vault.sweep)."""
        v = self._vault
        actor = v._check_actor(actor)
        check_batch(batch_size, progress, "SweepProgress")
        rid = request_id_or_new(request_id)
        v._require_admin(
            actor, "sweep", "only the admin role runs the lifecycle sweep", request_id=rid
        )
        today = v.today()
        entries: list[int] = []
        purged, batches_p = self._purge_phase(actor, today, batch_size, progress, rid, entries)
        expired, batches_e = self._expire_phase(actor, today, batch_size, progress, rid, entries)
        # Open objections and repair applications of purged records (this run's, and
        # any an earlier run or an erasure could not close) lapse, each logged.
        try:
            v._workflows.lapse_purged(actor, request_id=rid)
        except CreditVaultError as exc:
            # The purge stands; the next sweep lapses what is still open.
            _LOG.warning("open workflow items of purged records not lapsed yet (%s)", exc.code)
        checkpointed: bool | None = None
        if v.dialect == "sqlite":
            # Without a checkpoint the WAL keeps the pages as they were before the
            # purge (wrapped data keys included) until SQLite reuses that space.
            checkpointed = v._store.checkpoint_wal() if purged else None
        summary = v._entry(actor, "sweep", "ok", reason="sweep", request_id=rid)
        summary = dataclasses.replace(
            summary,
            extra=(
                ("expired", str(expired)),
                ("purged", str(purged)),
                ("today", today.isoformat()),
            ),
        )
        seq = v._log_only(summary)
        return SweepReport(
            today=today,
            expired=expired,
            purged=purged,
            batches=batches_p + batches_e,
            entries=tuple(entries),
            wal_checkpointed=checkpointed,
            access_seq=seq,
        )

    def _purge_phase(
        self,
        actor: Actor,
        today: date,
        batch_size: int,
        progress: ProgressCallback | None,
        rid: str,
        entries: list[int],
    ) -> tuple[int, int]:
        v = self._vault
        pg = v.dialect == "postgresql"
        total = self._count_due(progress, _purge_candidates(today, 1))
        done = batches = 0
        seen: set[str] = set()
        while True:
            with v._tx() as conn:
                round_ids = list(conn.execute(_purge_candidates(today, _ROUND)).scalars())
            fresh = [i for i in round_ids if i not in seen]
            if not fresh:
                # Nothing due, or only rows another process holds right now.
                break
            seen.update(fresh)
            for i in range(0, len(fresh), batch_size):
                chunk = fresh[i : i + batch_size]
                now = v._now()
                with v._tx() as conn:
                    claim = _purge_claim(chunk, today)
                    if pg:
                        claim = claim.with_for_update(skip_locked=True)
                    rows = conn.execute(claim).all()
                    if not rows:
                        continue
                    for r in rows:
                        check_transition(r.state, "purged")
                    ids = [r.id for r in rows]
                    if _shred(conn, ids, reason=REASON_RETENTION, now=now) != len(ids):
                        raise ConflictError("a record changed while it was being purged")
                    entries.append(
                        self._log_batch(conn, actor, "purge", rows, REASON_RETENTION, rid)
                    )
                done += len(ids)
                batches += 1
                if progress is not None:
                    progress(SweepProgress("purge", done, max(total, done)))
            if len(round_ids) < _ROUND:
                break
        return done, batches

    def _expire_phase(
        self,
        actor: Actor,
        today: date,
        batch_size: int,
        progress: ProgressCallback | None,
        rid: str,
        entries: list[int],
    ) -> tuple[int, int]:
        v = self._vault
        pg = v.dialect == "postgresql"
        total = self._count_due(progress, _expire_candidates(today, 1))
        done = batches = 0
        while True:
            now = v._now()
            with v._tx() as conn:
                claim = _expire_candidates(today, batch_size)
                if pg:
                    claim = claim.with_for_update(skip_locked=True)
                rows = conn.execute(claim).all()
                if not rows:
                    break
                ids = [r.id for r in rows]
                for _ in ids:
                    check_transition("active", "expired")
                res = conn.execute(_expire_update(ids, now))
                if res.rowcount != len(ids):
                    raise ConflictError("a record changed while its window was being closed")
                entries.append(
                    self._log_batch(conn, actor, "expire", rows, REASON_WINDOW_ENDED, rid)
                )
            done += len(ids)
            batches += 1
            if progress is not None:
                progress(SweepProgress("expire", done, max(total, done)))
        return done, batches

    def _count_due(self, progress: ProgressCallback | None, candidates: Select[Any]) -> int:
        """How many records a phase has to do; counted only when someone watches progress."""
        if progress is None:
            return 0
        with self._vault._tx() as conn:
            return _count(conn, candidates)

    def _log_batch(
        self,
        conn: Connection,
        actor: Actor,
        op: Literal["purge", "expire"],
        rows: Sequence[Any],
        reason: str,
        rid: str,
    ) -> int:
        """Log one batch of a sweep phase in the batch's transaction; returns the entry's seq."""
        v = self._vault
        return v._append(
            conn,
            v._entry(
                actor,
                op,
                "ok",
                records=[r.id for r in rows],
                categories=sorted({r.category for r in rows}),
                reason=reason,
                request_id=rid,
            ),
        )

    # ------------------------------------------------------------------ erasure

    def erase_subject(
        self,
        actor: Actor,
        subject: SubjectRef,
        *,
        legal_basis: str,
        request_id: str | None = None,
    ) -> ErasureReport:
        """Crypto-shred a subject's records and identity (see Vault.erase_subject)."""
        v = self._vault
        actor = v._check_actor(actor)
        if not isinstance(subject, SubjectRef):
            raise InvalidRecord("subject must be a SubjectRef")
        if (
            not isinstance(legal_basis, str)
            or not legal_basis.strip()
            or len(legal_basis) > 200
            or not legal_basis.isprintable()
        ):
            raise InvalidRecord("legal_basis must name the law that allows the erasure (1-200)")
        rid = request_id_or_new(request_id)
        pseudo = v.pseudonym(subject)
        v._require_admin(
            actor,
            "erase",
            "only the admin role erases a subject",
            legal_basis=legal_basis,
            subject=pseudo,
            request_id=rid,
        )
        now = v._now()
        today = v.today()
        pg = v.dialect == "postgresql"
        refused: list[str] | None = None
        report: ErasureReport | None = None
        with v._tx() as conn:
            find = select(_S.c.id).where(
                _S.c.lookup == v._subject_lookup(subject), _S.c.kind == subject.kind
            )
            if pg:
                find = find.with_for_update()
            srow = conn.execute(find).first()
            if srow is not None:
                sel = (
                    select(
                        _R.c.id,
                        _R.c.category,
                        _R.c.state,
                        _R.c.disclosure_mode,
                        _R.c.disclosure_starts_on,
                        _R.c.disclosure_ends_on,
                        _R.c.repair_from,
                        _R.c.purge_on,
                    )
                    .where(_R.c.subject_id == srow.id)
                    .order_by(_R.c.id)
                )
                if pg:
                    sel = sel.with_for_update()
                rows = conn.execute(sel).all()
                blocking = sorted(
                    {
                        r.category
                        for r in rows
                        if retention_running(
                            v.catalog.get(r.category) if r.category in v.catalog else None,
                            window_of(r),
                            r.state,
                            today,
                        )
                    }
                )
                if blocking:
                    refused = blocking
                else:
                    live = [r.id for r in rows if r.state != "purged"]
                    for r in rows:
                        if r.state != "purged":
                            check_transition(r.state, "purged")
                    if _shred(conn, live, reason=REASON_ERASURE, now=now) != len(live):
                        raise ConflictError("a record changed while its subject was being erased")
                    for table, cols in _bound_ciphertexts("subject_id"):
                        conn.execute(
                            update(table)
                            .where(table.c.subject_id == srow.id)
                            .values(dict.fromkeys(cols))
                        )
                    conn.execute(
                        update(_S)
                        .where(_S.c.id == srow.id)
                        .values(
                            # The lookup index is a keyed hash of the identifier: keeping
                            # it would keep the person findable. A random value matches
                            # nobody; a later ingest for the same person starts afresh.
                            lookup=os.urandom(32),
                            pseudonym="",
                            kek_id=None,
                            wrapped_key=None,
                            identity_ct=None,
                            name_ct=None,
                            name_lookup=None,
                            erased_at=now,
                        )
                    )
                    cats = sorted({r.category for r in rows if r.state != "purged"})
                    seq = v._append(
                        conn,
                        v._entry(
                            actor,
                            "erase",
                            "ok",
                            legal_basis=legal_basis,
                            subject=pseudo,
                            records=live,
                            categories=cats,
                            reason="subject_erasure",
                            request_id=rid,
                        ),
                    )
                    report = ErasureReport(
                        subject_pseudonym=pseudo,
                        records=tuple(live),
                        categories=tuple(cats),
                        erased_at=now,
                        access_seq=seq,
                    )
        if report is not None:
            # After the erasure committed, in transactions of their own (see
            # Workflows.lapse_purged); one left open is closed by the next sweep.
            try:
                v._workflows.lapse_purged(actor, request_id=rid, record_ids=report.records)
            except CreditVaultError as exc:
                # The erasure stands; the next sweep lapses what is still open.
                _LOG.warning("open workflow items of an erasure not lapsed yet (%s)", exc.code)
            if v.dialect == "sqlite":
                v._store.checkpoint_wal()
            return report
        if refused is not None:
            v._log_only(
                v._entry(
                    actor,
                    "erase",
                    "denied",
                    legal_basis=legal_basis,
                    subject=pseudo,
                    categories=refused,
                    reason="retention_mandatory",
                    request_id=rid,
                )
            )
            raise PermissionDenied(
                "erasure refused: the law still requires keeping records of "
                f"{'category' if len(refused) == 1 else 'categories'} {', '.join(refused)} "
                "until their purge date"
            )
        v._log_only(
            v._entry(
                actor,
                "erase",
                "error",
                legal_basis=legal_basis,
                subject=pseudo,
                reason="subject_not_found",
                request_id=rid,
            )
        )
        raise NotFound("no subject with this identifier is stored (never ingested, or erased)")
