"""``vault.objections``, ``vault.repairs``, ``vault.records``, ``vault.cases``, ``vault.events``.

The services behind the correction workflows. Every step follows one pattern:

1. read the object, its record and its subject in a short transaction;
2. decide who the actor is relative to them (subject or agent with consent,
   handler of the assigned organisation, clerk of the record's source, ...), ask
   the pure state machine (:mod:`credit_vault.domain.workflows`) whether the step
   is allowed, validate input and encrypt free text, all outside the write lock;
3. write in one transaction with conditional updates (``WHERE state = <what was
   read>``): if another actor got there first, nothing is written and the caller
   gets :class:`~credit_vault.errors.ConflictError`; otherwise each transition
   appends one access-log entry (actor, reason code, never free text) and one
   outbox event keyed by that entry's sequence number, as the last steps.

Refusals (wrong actor, illegal step, lost race) are logged as ``denied`` entries.
Free text (reasons, evidence, statements) is stored only as ciphertext under the
subject's data key, bound to the workflow object's id, so erasing the subject
shreds it too.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeGuard, TypeVar, cast

from sqlalchemy import Table, and_, exists, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as DbIntegrityError

from credit_vault import _fields
from credit_vault._ids import is_id, new_id
from credit_vault._lifecycle import decrypt_facts, window_of
from credit_vault.audit._entry import AccessEntry, request_id_or_new
from credit_vault.crypto import Envelope, FieldCipher
from credit_vault.domain.models import Actor, SubjectRef
from credit_vault.domain.policy import ticket_well_formed
from credit_vault.domain.windows import state_today
from credit_vault.domain.workflows import (
    CASE,
    CASE_OUTCOMES,
    OBJECTION,
    OBJECTION_OUTCOMES,
    RECORD,
    REPAIR,
    Case,
    Event,
    Objection,
    OverdueItem,
    OverdueReport,
    RecordChange,
    RepairApplication,
    RepairEligibility,
    StateMachine,
    WorkflowSettings,
    check_reason_code,
    check_text,
    repair_eligibility,
)
from credit_vault.errors import (
    ConflictError,
    ConsentRequired,
    CreditVaultError,
    InputError,
    InvalidRecord,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RecordNotFound,
)
from credit_vault.identifiers import contains_identifier
from credit_vault.storage.bulk import as_utc
from credit_vault.storage.tables import (
    CaseRow,
    EventRow,
    ObjectionRow,
    Record,
    RecordChangeRow,
    RecordVersion,
    RepairRow,
    Subject,
)

if TYPE_CHECKING:
    from credit_vault.vault import Vault

__all__ = ["Cases", "Events", "Objections", "RecordsAdmin", "Repairs", "Workflows"]

_R = cast("Table", Record.__table__)
_RV = cast("Table", RecordVersion.__table__)
_S = cast("Table", Subject.__table__)
_OB = cast("Table", ObjectionRow.__table__)
_RP = cast("Table", RepairRow.__table__)
_CS = cast("Table", CaseRow.__table__)
_CH = cast("Table", RecordChangeRow.__table__)
_EV = cast("Table", EventRow.__table__)

_T = TypeVar("_T")

_ORG = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")

# The past tense of each step, for event types ("objection.filed").
_DONE = {
    "file": "filed",
    "uphold": "upheld",
    "reject": "rejected",
    "leave_unresolved": "unresolved",
    "withdraw": "withdrawn",
    "apply": "applied",
    "approve": "approved",
    "open": "opened",
    "assign": "assigned",
    "close": "closed",
    "correct": "corrected",
    "revoke": "revoked",
    "repair": "repaired",
    "attach_statement": "statement",
    "lapse": "lapsed",
}


def _changed_first() -> ConflictError:
    return ConflictError(
        "another actor changed this object first; nothing was changed (reload and retry)"
    )


class _PastPurgeDate(Exception):
    """Inside :meth:`Workflows.write`: a record's purge date has come (not yet swept)."""


def _organisation_code(org: object) -> TypeGuard[str]:
    """Whether ``org`` can name an organisation a case is assigned to: printable, no
    outer spaces, and no ID or card number (it is kept in clear and in the outbox)."""
    return (
        isinstance(org, str)
        and _ORG.match(org) is not None
        and org == org.strip()
        and not contains_identifier(org, credit_codes=False)
    )


@dataclass(frozen=True, slots=True)
class _Step:
    """One transition to log and announce: the entry's op, the event's kind/type/state."""

    op: str
    machine: str
    action: str
    object_id: str
    record_id: str | None
    state: str
    organisation: str | None
    deadline: date | None
    code: str
    from_state: str | None
    purpose: str = ""
    category: str | None = None


class Workflows:
    """Holds the workflow services of one vault (built once by ``Vault.open``)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self.objections = Objections(self)
        self.repairs = Repairs(self)
        self.records = RecordsAdmin(self)
        self.cases = Cases(self)
        self.events = Events(self)

    # ------------------------------------------------------------------ shared plumbing

    @property
    def settings(self) -> WorkflowSettings:
        """The policy's workflow settings (deadlines, roles, calendar)."""
        return self._vault.policy.workflows

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A short transaction for the read phase (no locks are held across the decision)."""
        with self._vault._tx() as conn:
            yield conn

    def load_record(self, conn: Connection, record_id: object) -> tuple[Any, Any]:
        """The record row and its subject row; :class:`RecordNotFound` if there is none."""
        if not isinstance(record_id, str) or not 0 < len(record_id) <= 40:
            raise RecordNotFound()
        rec = conn.execute(select(_R).where(_R.c.id == record_id)).first()
        if rec is None:
            raise RecordNotFound()
        subj = conn.execute(
            select(
                _S.c.id,
                _S.c.kind,
                _S.c.lookup,
                _S.c.pseudonym,
                _S.c.kek_id,
                _S.c.wrapped_key,
            ).where(_S.c.id == rec.subject_id)
        ).one()
        return rec, subj

    def load_subject(self, conn: Connection, subject_id: str, *, shared: bool = False) -> Any:
        """A subject row by id; with ``shared``, read FOR KEY SHARE on PostgreSQL (an
        erasure of the subject then waits for this transaction, or this for it)."""
        find = select(
            _S.c.id, _S.c.kind, _S.c.lookup, _S.c.pseudonym, _S.c.kek_id, _S.c.wrapped_key
        ).where(_S.c.id == subject_id)
        if shared and conn.dialect.name == "postgresql":
            find = find.with_for_update(read=True, key_share=True)
        return conn.execute(find).one()

    def record_state(self, rec: Any) -> str:
        """The record's state as of the vault's clock, whatever the sweep has stored so far.

        Every step that acts on a record judges this state: a record whose window has
        ended is ``expired`` and one whose purge date has come is ``purged`` (refused as a
        purged record is), swept or not. Writes stay conditional on the stored state.
        """
        return state_today(rec.state, window_of(rec), self._vault.today())

    def is_subject(self, actor: Actor, subj: Any) -> bool:
        """Whether the actor names the same subject as the subject row."""
        s = actor.subject
        return (
            s is not None
            and s.kind == subj.kind
            and self._vault._subject_lookup(s) == bytes(subj.lookup)
        )

    def subject_kind(
        self, actor: Actor, subj: Any, consent: str | None, *, op: str, records: Sequence[str]
    ) -> bool:
        """Whether the actor acts as the subject: the subject, or an agent with written consent."""
        if not self.is_subject(actor, subj):
            return False
        if actor.role == "subject":
            return True
        if actor.role == self.settings.agent_role:
            self.require_consent(actor, consent, op=op, subject=subj.pseudonym, records=records)
            return True
        return False

    def require_consent(
        self,
        actor: Actor,
        consent: str | None,
        *,
        op: str,
        subject: str,
        records: Sequence[str] = (),
    ) -> None:
        """An agent acts for a subject only with a reference to their written consent;
        without one the attempt is refused and logged."""
        if consent is None or not ticket_well_formed(consent):
            self.refuse(
                actor,
                op,
                ConsentRequired(
                    "an agent acts for a subject only with their written consent "
                    "(consent=<reference of the authorisation>)"
                ),
                reason="consent_required",
                subject=subject,
                records=records,
            )

    def grants(self, actor: Actor, purpose: str, category: str) -> bool:
        """Whether the actor's role has a grant of ``purpose`` covering ``category``."""
        vault = self._vault
        if category not in vault.catalog:
            return False
        cat = vault.catalog.get(category)
        return any(g.covers(cat) for g in vault.policy.grants_for(actor.role, purpose))

    def cipher(self, subj: Any) -> FieldCipher:
        """The subject's field cipher (free text is encrypted under the subject's data key)."""
        if subj.wrapped_key is None:
            raise InvalidRecord("the subject was erased; nothing can be attached to their file")
        return self._vault._subject_cipher(subj)

    def seal(self, subj: Any, object_id: str, name: str, text: str | None) -> bytes | None:
        """Encrypt a free text for ``object_id`` under the subject's key (None stays None)."""
        if text is None:
            return None
        return self.cipher(subj).encrypt(object_id, name, text.encode("utf-8"))

    def unseal(self, subj: Any, object_id: str, name: str, blob: Any) -> str | None:
        """Decrypt what :meth:`seal` wrote."""
        if blob is None or subj.wrapped_key is None:
            return None
        return self.cipher(subj).decrypt(object_id, name, bytes(blob)).decode("utf-8")

    def refuse(
        self,
        actor: Actor,
        op: str,
        exc: CreditVaultError,
        *,
        reason: str,
        subject: str = "",
        records: Sequence[str] = (),
        object_id: str | None = None,
        request_id: str = "",
    ) -> NoReturn:
        """Log a refused step (nothing was changed) and raise ``exc``."""
        entry = self._vault._entry(
            actor,
            op,
            "denied",
            subject=subject,
            records=[r for r in records if r],
            reason=reason,
            request_id=request_id,
        )
        if object_id:
            entry = replace(entry, extra=(("object", object_id),))
        self._vault._log_only(entry)
        raise exc

    def check_step(
        self,
        machine: StateMachine,
        state: str | None,
        action: str,
        kinds: set[str],
        *,
        actor: Actor,
        op: str,
        subject: str,
        records: Sequence[str],
        object_id: str | None = None,
        request_id: str = "",
    ) -> str | None:
        """Ask the machine; log and raise its refusal."""
        try:
            return machine.step(state, action, by=kinds)
        except PermissionDenied as exc:
            self.refuse(
                actor,
                op,
                exc,
                reason=f"{machine.name}.{action}:not_permitted",
                subject=subject,
                records=records,
                object_id=object_id,
                request_id=request_id,
            )
        except InvalidTransition as exc:
            self.refuse(
                actor,
                op,
                exc,
                reason=f"{machine.name}.{action}:invalid_from_{state or 'new'}",
                subject=subject,
                records=records,
                object_id=object_id,
                request_id=request_id,
            )

    @contextmanager
    def write(
        self,
        actor: Actor,
        op: str,
        *,
        subject: str,
        records: Sequence[str],
        request_id: str,
        object_id: str | None = None,
        live_records: bool = True,
    ) -> Iterator[Connection]:
        """The write transaction; a lost race is logged (after the rollback) and re-raised.

        The transaction first reads the rows of ``records`` (locked on PostgreSQL):
        a step then always locks record before item (objection, repair, case,
        version), the order the sweep and the erasure use (they claim records, then
        clear the items' ciphertexts), so the two cannot deadlock. With
        ``live_records`` a record purged since the step's checks is a lost race
        (:class:`ConflictError`): nothing may be written about it after its shredding.
        A record whose purge date has come is purged as far as steps go, swept or
        not: the step is refused (:class:`InvalidTransition`, logged
        ``record_purged``); its open items lapse at the next sweep.
        """
        try:
            with self._vault._tx() as conn:
                ids = sorted({r for r in records if r})
                if ids:
                    find = (
                        select(_R.c.id, _R.c.state, _R.c.purge_on)
                        .where(_R.c.id.in_(ids))
                        .order_by(_R.c.id)
                    )
                    if conn.dialect.name == "postgresql":
                        find = find.with_for_update()
                    states = conn.execute(find).all()
                    if live_records and any(r.state == "purged" for r in states):
                        raise _changed_first()
                    today = self._vault.today()
                    if live_records and any(
                        r.purge_on is not None and r.purge_on <= today for r in states
                    ):
                        raise _PastPurgeDate()
                yield conn
        except _PastPurgeDate:
            self.refuse(
                actor,
                op,
                InvalidTransition(
                    "the record has reached its purge date: nothing more is decided about it "
                    "(its open objections and repairs lapse)"
                ),
                reason="record_purged",
                subject=subject,
                records=records,
                object_id=object_id,
                request_id=request_id,
            )
        except ConflictError as exc:
            self.refuse(
                actor,
                op,
                exc,
                reason="conflict",
                subject=subject,
                records=records,
                object_id=object_id,
                request_id=request_id,
            )

    def _step_entry(
        self,
        actor: Actor,
        step: _Step,
        *,
        subject: str,
        ticket: str | None,
        request_id: str,
        fields: Sequence[str] = (),
    ) -> AccessEntry:
        entry = self._vault._entry(
            actor,
            step.op,
            "ok",
            purpose=step.purpose,
            ticket=ticket,
            subject=subject,
            records=[step.record_id] if step.record_id else [],
            categories=[step.category] if step.category else [],
            fields=fields,
            reason=_reason(step),
            request_id=request_id,
        )
        return replace(
            entry,
            extra=(
                ("object", step.object_id),
                ("from", step.from_state or ""),
                ("to", step.state),
            ),
        )

    def _step_event(self, seq: int, step: _Step, subject: str) -> dict[str, Any]:
        return {
            "seq": seq,
            "at": self._vault._now(),
            "type": f"{step.machine}.{_DONE[step.action]}",
            "kind": step.machine,
            "object_id": step.object_id,
            "record_id": step.record_id,
            "subject": subject or None,
            "state": step.state,
            "organisation": step.organisation,
            "deadline": step.deadline,
        }

    def commit_step(
        self,
        conn: Connection,
        actor: Actor,
        step: _Step,
        *,
        subject: str,
        ticket: str | None,
        request_id: str,
        fields: Sequence[str] = (),
    ) -> int:
        """Append the transition's log entry and its outbox event; return the entry's seq."""
        entry = self._step_entry(
            actor, step, subject=subject, ticket=ticket, request_id=request_id, fields=fields
        )
        # The entry's sequence number keys the event: appends are serialised (head-row
        # lock on PostgreSQL, BEGIN IMMEDIATE on SQLite) and held to commit, so event
        # numbers follow commit order and a poller never skips one.
        seq = self._vault._append(conn, entry)
        conn.execute(insert(_EV).values(**self._step_event(seq, step, subject)))
        return seq

    def commit_steps(
        self,
        conn: Connection,
        actor: Actor,
        steps: Sequence[tuple[_Step, str]],
        *,
        request_id: str,
    ) -> list[int]:
        """:meth:`commit_step` for several (step, subject) at once: one batch append."""
        entries = [
            self._step_entry(actor, step, subject=subject, ticket=None, request_id=request_id)
            for step, subject in steps
        ]
        seqs = self._vault._append_many(conn, entries)
        if seqs:
            conn.execute(
                insert(_EV),
                [
                    self._step_event(seq, step, subject)
                    for seq, (step, subject) in zip(seqs, steps, strict=True)
                ],
            )
        return seqs

    def lapse_purged(
        self,
        actor: Actor,
        *,
        request_id: str,
        record_ids: Sequence[str] | None = None,
        batch: int = 100,
    ) -> int:
        """Close the open objections and pending repair applications of purged records.

        Called by the sweep (for every purged record) and the erasure (for its own
        records) after the purge has committed: with the record gone there is nothing
        left to decide, and an item left open would stay on the overdue report for
        ever. Each item goes to ``lapsed`` with its own log entry and outbox event,
        as every transition does; ``actor`` is the one purging. Each batch of items
        lapses in one transaction that locks the items it can take without waiting
        (others are left for the next sweep) and then the log head, so nothing can
        deadlock with it.
        An item a handler or the subject closed meanwhile is left as they closed it;
        one that could not be lapsed now is found by the next sweep. Returns how many
        items lapsed.
        """
        v = self._vault
        lapsed = 0
        for machine, states, table in (("objection", OBJECTION, _OB), ("repair", REPAIR, _RP)):
            (open_state,) = next(t.sources for t in states.transitions if t.action == "lapse")
            assert open_state is not None  # noqa: S101 - lapse starts from an existing state
            find = (
                select(
                    table.c.id,
                    table.c.record_id,
                    table.c.assigned_org,
                    _R.c.category,
                    _S.c.pseudonym,
                )
                .join(_R, _R.c.id == table.c.record_id)
                .join(_S, _S.c.id == table.c.subject_id)
                .where(table.c.state == open_state, _R.c.state == "purged")
                .order_by(table.c.id)
            )
            chunks: list[list[str] | None] = (
                [None]
                if record_ids is None
                else [list(record_ids[i : i + 500]) for i in range(0, len(record_ids), 500)]
            )
            for chunk in chunks:
                query = find if chunk is None else find.where(table.c.record_id.in_(chunk))
                after = ""
                while True:
                    with v._tx() as conn:
                        rows = conn.execute(query.where(table.c.id > after).limit(batch)).all()
                        if rows:
                            lapsed += self._lapse_batch(
                                conn, actor, machine, table, open_state, rows, request_id
                            )
                    if len(rows) < batch:
                        break
                    after = rows[-1].id
        return lapsed

    def _lapse_batch(
        self,
        conn: Connection,
        actor: Actor,
        machine: str,
        table: Table,
        open_state: str,
        rows: Sequence[Any],
        request_id: str,
    ) -> int:
        """Lapse ``rows`` still open: lock them, update, then log as a batch.

        Items first, skipping any another transaction holds (so it never waits on an
        item: no deadlock with a step, an erasure or another run), the log head last
        and nothing after it. A skipped item is lapsed by the next sweep.
        """
        v = self._vault
        lock = (
            select(table.c.id)
            .where(table.c.id.in_([r.id for r in rows]), table.c.state == open_state)
            .order_by(table.c.id)
        )
        if conn.dialect.name == "postgresql":
            # An item someone else holds (a step deciding it, an erasure clearing its
            # texts in its own order) is left for the next sweep: never a wait here.
            lock = lock.with_for_update(skip_locked=True)
        still_open = set(conn.execute(lock).scalars())
        todo = [r for r in rows if r.id in still_open]
        if not todo:
            return 0
        conn.execute(
            update(table)
            .where(table.c.id.in_([r.id for r in todo]), table.c.state == open_state)
            .values(
                state="lapsed",
                open_record=None,
                decided_on=v.today(),
                reason_code="record_purged",
                updated_at=v._now(),
            )
        )
        steps = [
            (
                _Step(
                    op=machine,
                    machine=machine,
                    action="lapse",
                    object_id=row.id,
                    record_id=row.record_id,
                    state="lapsed",
                    organisation=row.assigned_org,
                    deadline=None,
                    code="record_purged",
                    from_state=open_state,
                    category=row.category,
                ),
                row.pseudonym,
            )
            for row in todo
        ]
        return len(self.commit_steps(conn, actor, steps, request_id=request_id))

    def conditional(self, conn: Connection, stmt: Any) -> None:
        """Run an UPDATE that must change exactly one row; otherwise someone else won."""
        if conn.execute(stmt).rowcount != 1:
            raise _changed_first()

    def refresh_disputed(self, conn: Connection, record_id: str, now: datetime) -> None:
        """A record is disputed while an objection on it is open or was left unresolved."""
        disputed = conn.execute(
            select(
                exists().where(
                    _OB.c.record_id == record_id, _OB.c.state.in_(("open", "unresolved"))
                )
            )
        ).scalar_one()
        conn.execute(
            update(_R).where(_R.c.id == record_id).values(disputed=bool(disputed), updated_at=now)
        )

    def prepare_version(self, rec: Any, facts: object) -> dict[str, Any]:
        """Validate replacement facts as ingest does and encrypt them as version+1."""
        vault = self._vault
        if not isinstance(facts, Mapping):
            raise InvalidRecord("facts must be a mapping of field names to values")
        cat = vault.catalog.get(rec.category)
        clean = cat.validate_facts(facts)
        version = int(rec.version) + 1
        ((dk, wrapped),) = vault._envelope.new_data_keys([(rec.id, version)])
        names = list(clean)
        cts = FieldCipher(dk).encrypt_many(
            rec.id, [(n, _fields.encode_value(clean[n])) for n in names]
        )
        return {
            "version": version,
            "kek_id": Envelope.kek_id_of(wrapped),  # the KEK it was wrapped under
            "wrapped_key": wrapped,
            "fields": _fields.pack(zip(names, cts, strict=True)),
            "field_names": ",".join(names),
        }

    def write_version(
        self, conn: Connection, rec: Any, new: Mapping[str, Any], code: str, now: datetime
    ) -> None:
        """Make ``new`` the current version; keep the old one encrypted in cv_record_versions.

        The superseded version is copied from the row as it stands in this
        transaction (locked on PostgreSQL), not as it was read before: a key re-wrap
        that committed in between must not be undone by writing back the old blob.
        """
        find = select(_R.c.kek_id, _R.c.wrapped_key, _R.c.fields, _R.c.field_names).where(
            _R.c.id == rec.id, _R.c.version == rec.version, _R.c.state == rec.state
        )
        if conn.dialect.name == "postgresql":
            find = find.with_for_update()
        old = conn.execute(find).first()
        if old is None:
            raise _changed_first()
        self.conditional(
            conn,
            update(_R)
            .where(_R.c.id == rec.id, _R.c.version == rec.version, _R.c.state == rec.state)
            .values(**new, updated_at=now),
        )
        conn.execute(
            insert(_RV).values(
                record_id=rec.id,
                version=rec.version,
                kek_id=old.kek_id,
                wrapped_key=old.wrapped_key,
                fields=old.fields,
                field_names=old.field_names,
                reason=code,
                superseded_at=now,
            )
        )

    def write_state(
        self, conn: Connection, rec: Any, state: str, ended_reason: str, now: datetime
    ) -> None:
        """End the record's disclosure (revoked, repaired) unless it changed since it was read."""
        self.conditional(
            conn,
            update(_R)
            .where(_R.c.id == rec.id, _R.c.version == rec.version, _R.c.state == rec.state)
            .values(state=state, ended_reason=ended_reason, state_changed_at=now, updated_at=now),
        )

    def add_change(
        self,
        conn: Connection,
        rec_id: str,
        *,
        change_id: str,
        kind: str,
        version: int,
        state: str,
        code: str,
        reason_ct: bytes | None,
        workflow_id: str | None,
        actor: Actor,
        now: datetime,
    ) -> None:
        """Keep the history row of a record change."""
        conn.execute(
            insert(_CH).values(
                id=change_id,
                record_id=rec_id,
                kind=kind,
                version=version,
                state=state,
                reason_code=code,
                reason_ct=reason_ct,
                workflow_id=workflow_id,
                actor_id=self._vault._actor_label(actor),
                actor_org=self._vault._org_label(actor),
                at=now,
            )
        )

    def record_change(
        self,
        conn: Connection,
        actor: Actor,
        rec: Any,
        *,
        change_id: str,
        kind: str,
        action: str,
        op: str,
        version: int,
        state: str,
        code: str,
        reason_ct: bytes | None,
        workflow_id: str | None,
        now: datetime,
        purpose: str = "",
        from_state: str | None = None,
    ) -> _Step:
        """Keep the history row of a record change; return the record's step to commit for it.

        ``from_state`` is the record's state as the step judged it (default: as stored).
        """
        self.add_change(
            conn,
            rec.id,
            change_id=change_id,
            kind=kind,
            version=version,
            state=state,
            code=code,
            reason_ct=reason_ct,
            workflow_id=workflow_id,
            actor=actor,
            now=now,
        )
        return _Step(
            op=op,
            machine="record",
            action=action,
            object_id=change_id,
            record_id=rec.id,
            state=state,
            organisation=rec.source_code,
            deadline=None,
            code=code,
            from_state=rec.state if from_state is None else from_state,
            purpose=purpose,
            category=rec.category,
        )

    def load_object(self, conn: Connection, table: Table, object_id: object) -> Any:
        """A workflow row by id; :class:`NotFound` if there is none."""
        if not is_id(object_id):
            raise NotFound("no workflow object has this id")
        row = conn.execute(select(table).where(table.c.id == object_id)).first()
        if row is None:
            raise NotFound("no workflow object has this id")
        return row

    def log_read(
        self,
        actor: Actor,
        *,
        reason: str,
        subject: str = "",
        records: Sequence[str] = (),
        fields: Sequence[str] = (),
        object_id: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Log a read of workflow data (who looked at whose objections, repairs, cases).

        In ``conn`` when given (the read's own transaction), else in one of its own.
        """
        entry = self._vault._entry(
            actor,
            "workflow_read",
            "ok",
            subject=subject,
            records=records,
            fields=fields,
            reason=reason,
        )
        if object_id:
            entry = replace(entry, extra=(("object", object_id),))
        if conn is not None:
            self._vault._append(conn, entry)
        else:
            self._vault._log_only(entry)

    def log_text_read(
        self,
        actor: Actor,
        subj: Any,
        *,
        texts: bool,
        reason: str,
        records: Sequence[str],
        fields: Sequence[str],
        object_id: str | None = None,
    ) -> tuple[Any, bool]:
        """Log a read that may decrypt the subject's texts; (subject row, texts shown).

        With ``texts`` the subject's key is re-read in the logging transaction (locked
        on PostgreSQL): an erasure that committed since the rows were read leaves no
        key, and then nothing is decrypted or logged as disclosed. Decrypt with the
        subject row returned, never the one read before.
        """
        with self._vault._tx() as conn:
            if texts:
                subj = self.load_subject(conn, subj.id, shared=True)
                texts = subj.wrapped_key is not None
            self.log_read(
                actor,
                reason=reason + (":texts" if texts else ""),
                subject=subj.pseudonym,
                records=records,
                fields=fields if texts else [],
                object_id=object_id,
                conn=conn,
            )
        return subj, texts

    def log_reads(
        self,
        conn: Connection,
        actor: Actor,
        rows: Sequence[Any],
        *,
        reason: str,
        default_subject: str = "",
    ) -> None:
        """Log a read of many workflow rows in ``conn``: one entry per subject they concern.

        Each row carries ``subject_pseudonym`` and ``record_id``. A read that found
        nothing is logged once, under ``default_subject``.
        """
        by_subject: dict[str, set[str]] = {}
        for r in rows:
            recs = by_subject.setdefault(r.subject_pseudonym or "", set())
            if r.record_id:
                recs.add(r.record_id)
        if not by_subject:
            by_subject[default_subject] = set()
        self._vault._append_many(
            conn,
            [
                self._vault._entry(
                    actor,
                    "workflow_read",
                    "ok",
                    subject=pseudo,
                    records=sorted(recs),
                    reason=reason,
                )
                for pseudo, recs in sorted(by_subject.items())
            ],
        )


def _reason(step: _Step) -> str:
    """The log's reason code: the event type, then the caller's code when it adds something."""
    done = f"{step.machine}.{_DONE[step.action]}"
    return done if step.code in ("", _DONE[step.action]) else f"{done}:{step.code}"


def _consent(consent: object) -> str | None:
    if consent is None:
        return None
    if not isinstance(consent, str) or not ticket_well_formed(consent):
        raise InputError("consent must be 1-64 characters of letters, digits and - / . : ( )")
    return consent


def _read_object(
    w: Workflows,
    actor: Actor,
    row: Any,
    subj: Any,
    consent: str | None,
    *,
    machine: str,
    record_id: str | None,
    handles: Callable[[], bool],
    refusal: str,
    texts: Mapping[str, tuple[str, str]],
    build: Callable[..., _T],
) -> _T:
    """A workflow object for ``get``: texts only for the subject and its handler; logged.

    ``texts`` maps each field of the result to the name its ciphertext is bound to and
    the column holding it; ``handles`` is asked only when the actor is not the subject.
    """
    shown = (
        w.subject_kind(actor, subj, consent, op="workflow_read", records=[record_id or ""])
        or handles()
    )
    if not shown and actor.role not in w.settings.report_roles:
        w.refuse(
            actor,
            "workflow_read",
            PermissionDenied(refusal),
            reason=f"{machine}.read:not_permitted",
            subject=subj.pseudonym,
            records=[record_id or ""],
            object_id=row.id,
        )
    subj, shown = w.log_text_read(
        actor,
        subj,
        texts=shown,
        reason=f"{machine}.read",
        records=[record_id] if record_id else [],
        fields=list(texts),
        object_id=row.id,
    )
    if not shown:
        return build(row)
    return build(
        row,
        **{
            field: w.unseal(subj, row.id, name, getattr(row, column))
            for field, (name, column) in texts.items()
        },
    )


def _get_on_record(
    w: Workflows,
    actor: Actor,
    table: Table,
    object_id: str,
    consent: str | None,
    *,
    machine: str,
    purpose: str,
    refusal: str,
    texts: Mapping[str, tuple[str, str]],
    build: Callable[..., _T],
) -> _T:
    """``get`` of an objection or repair: the handler is the assigned organisation with a grant."""
    actor = w._vault._check_actor(actor)
    consent = _consent(consent)
    with w.read() as conn:
        row = w.load_object(conn, table, object_id)
        rec, subj = w.load_record(conn, row.record_id)
    return _read_object(
        w,
        actor,
        row,
        subj,
        consent,
        machine=machine,
        record_id=rec.id,
        handles=lambda: (
            actor.organisation == row.assigned_org and w.grants(actor, purpose, rec.category)
        ),
        refusal=refusal,
        texts=texts,
        build=build,
    )


def _list_objects(
    w: Workflows,
    actor: Actor,
    table: Table,
    subject: SubjectRef | None,
    purpose: str,
    *,
    filters: Mapping[str, object],
    order: str,
    machine: str,
    build: Callable[[Any], _T],
    consent: str | None = None,
) -> list[_T]:
    """``list`` of a workflow: the actor's scope, the filters given (None = any), metadata only.

    Logged in the read's own transaction, one entry per subject the result concerns
    (with all its record ids), so each subject's access history shows the read.
    """
    actor = w._vault._check_actor(actor)
    consent = _consent(consent)
    if subject is not None and not isinstance(subject, SubjectRef):
        raise InputError("subject must be a SubjectRef")
    for column, value in filters.items():
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= 64):
            raise InputError(f"{column} must be text of 1-64 characters (or None for any)")
    cond, pseudo = _scope(w, actor, table, subject, purpose, consent)
    for column, value in filters.items():
        if value is not None:
            cond = and_(cond, table.c[column] == value)
    stmt = (
        select(table, _S.c.pseudonym.label("subject_pseudonym"))
        .join(_S, _S.c.id == table.c.subject_id)
        .where(cond)
        .order_by(table.c[order], table.c.id)
    )
    with w.read() as conn:
        rows = conn.execute(stmt).all()
        w.log_reads(conn, actor, rows, reason=f"{machine}.list", default_subject=pseudo)
    return [build(r) for r in rows]


def _withdraw_on_record(
    w: Workflows,
    actor: Actor,
    table: Table,
    object_id: str,
    consent: str | None,
    request_id: str | None,
    *,
    machine: str,
    states: StateMachine,
    refresh_disputed: bool,
) -> tuple[Any, date]:
    """The subject withdraws an objection or repair: returns the row as it was and the day."""
    v = w._vault
    actor = v._check_actor(actor)
    rid = request_id_or_new(request_id)
    consent = _consent(consent)
    with w.read() as conn:
        row = w.load_object(conn, table, object_id)
        rec, subj = w.load_record(conn, row.record_id)
    ok = w.subject_kind(actor, subj, consent, op=machine, records=[rec.id])
    w.check_step(
        states,
        row.state,
        "withdraw",
        {"subject"} if ok else set(),
        actor=actor,
        op=machine,
        subject=subj.pseudonym,
        records=[rec.id],
        object_id=row.id,
        request_id=rid,
    )
    today, now = v.today(), v._now()
    with w.write(
        actor,
        machine,
        subject=subj.pseudonym,
        records=[rec.id],
        request_id=rid,
        object_id=row.id,
    ) as conn:
        w.conditional(
            conn,
            update(table)
            .where(table.c.id == row.id, table.c.state == row.state)
            .values(state="withdrawn", open_record=None, decided_on=today, updated_at=now),
        )
        if refresh_disputed:
            w.refresh_disputed(conn, rec.id, now)
        w.commit_step(
            conn,
            actor,
            _Step(
                op=machine,
                machine=machine,
                action="withdraw",
                object_id=row.id,
                record_id=rec.id,
                state="withdrawn",
                organisation=row.assigned_org,
                deadline=None,
                code="withdrawn",
                from_state=row.state,
                category=rec.category,
            ),
            subject=subj.pseudonym,
            ticket=consent,
            request_id=rid,
        )
    return row, today


# ====================================================================== objections


class Objections:
    """Objections (异议): a subject contests a record; the source's handler decides (Z6, S4)."""

    def __init__(self, workflows: Workflows) -> None:
        self._w = workflows
        self._v = workflows._vault

    def file(
        self,
        actor: Actor,
        record_id: str,
        *,
        reason: str,
        statement: str | None = None,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> Objection:
        """File an objection: the record is marked disputed at once and assigned to its source.

        The deadline is the policy's ``objection_deadline`` from today. A
        ``statement`` (Z2) is attached to the record in the same transaction.
        Agents (the policy's agent role) act with ``consent``, the reference of the
        subject's written authorisation.
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        text = check_text(reason, "reason", required=True)
        stmt_text = check_text(statement, "statement", required=False, limit=2000)
        consent = _consent(consent)
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
            open_id = conn.execute(
                select(_OB.c.id).where(_OB.c.open_record == rec.id)
            ).scalar_one_or_none()
        kinds = (
            {"subject"}
            if w.subject_kind(actor, subj, consent, op="objection", records=[rec.id])
            else set()
        )
        common = {"actor": actor, "subject": subj.pseudonym, "records": [rec.id], "request_id": rid}
        w.check_step(OBJECTION, None, "file", kinds, op="objection", **common)
        rec_state = w.record_state(rec)
        w.check_step(RECORD, rec_state, "object", kinds, op="objection", **common)
        if open_id is not None:
            w.refuse(
                actor,
                "objection",
                InvalidTransition(
                    "objection: step 'file' is not allowed while another objection on the record "
                    "is in state 'open'"
                ),
                reason="objection.file:already_open",
                subject=subj.pseudonym,
                records=[rec.id],
                request_id=rid,
            )
        s = w.settings
        today = v.today()
        rule = s.objection_deadline
        deadline = s.due(rule, today)
        oid = new_id("ob")
        reason_ct = w.seal(subj, oid, "objection.reason", text)
        stmt_ct = (
            None
            if stmt_text is None
            else w.cipher(subj).encrypt(subj.id, f"statement:{rec.id}", stmt_text.encode("utf-8"))
        )
        now = v._now()
        with w.write(
            actor, "objection", subject=subj.pseudonym, records=[rec.id], request_id=rid
        ) as conn:
            try:
                conn.execute(
                    insert(_OB).values(
                        id=oid,
                        record_id=rec.id,
                        subject_id=subj.id,
                        assigned_org=rec.source_code,
                        state="open",
                        open_record=rec.id,
                        record_version=rec.version,
                        filed_on=today,
                        deadline=deadline,
                        deadline_rule=str(rule),
                        filed_by=v._actor_label(actor),
                        reason_ct=reason_ct,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except DbIntegrityError:
                raise ConflictError(
                    "another objection on this record was filed at the same time"
                ) from None
            values: dict[str, Any] = {"disputed": True, "updated_at": now}
            if stmt_ct is not None:
                values["statement_ct"] = stmt_ct
            w.conditional(
                conn,
                update(_R).where(_R.c.id == rec.id, _R.c.state == rec.state).values(**values),
            )
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="objection",
                    machine="objection",
                    action="file",
                    object_id=oid,
                    record_id=rec.id,
                    state="open",
                    organisation=rec.source_code,
                    deadline=deadline,
                    code="filed",
                    from_state=None,
                    category=rec.category,
                ),
                subject=subj.pseudonym,
                ticket=consent,
                request_id=rid,
            )
            if stmt_ct is not None:
                statement_step = w.record_change(
                    conn,
                    actor,
                    rec,
                    change_id=new_id("ch"),
                    kind="statement",
                    action="attach_statement",
                    op="statement",
                    version=rec.version,
                    state=rec_state,
                    code="attached",
                    reason_ct=None,
                    workflow_id=oid,
                    now=now,
                    from_state=rec_state,
                )
                w.commit_step(
                    conn,
                    actor,
                    statement_step,
                    subject=subj.pseudonym,
                    ticket=consent,
                    request_id=rid,
                    fields=["statement"],
                )
        return Objection(
            id=oid,
            record_id=rec.id,
            state="open",
            assigned_to=rec.source_code,
            filed_on=today,
            deadline=deadline,
            deadline_rule=str(rule),
        )

    def decide(
        self,
        actor: Actor,
        objection_id: str,
        *,
        outcome: str,
        reason: str,
        corrected_facts: Mapping[str, Any] | None = None,
        revoke: bool = False,
        reason_code: str | None = None,
        request_id: str | None = None,
    ) -> Objection:
        """Decide an open objection as a handler of the organisation it is assigned to.

        ``upheld`` corrects the record (``corrected_facts``: the complete new facts,
        validated like ingest) or revokes it (``revoke=True``), unless the source
        already did either since the filing. ``rejected`` and ``unresolved`` record
        the reasons; ``unresolved`` keeps the disputed mark. A reason is required in
        every case; it is stored encrypted, the log gets ``reason_code``.
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        if not isinstance(outcome, str) or outcome not in OBJECTION_OUTCOMES:
            raise InputError("outcome must be 'upheld', 'rejected' or 'unresolved'")
        action = OBJECTION_OUTCOMES[outcome]
        text = check_text(reason, "reason", required=True)
        code = check_reason_code(reason_code, outcome)
        if outcome != "upheld" and (corrected_facts is not None or revoke):
            raise InputError("only an upheld objection corrects or revokes the record")
        if corrected_facts is not None and revoke:
            raise InputError("an upheld objection either corrects or revokes the record, not both")
        with w.read() as conn:
            obj = w.load_object(conn, _OB, objection_id)
            rec, subj = w.load_record(conn, obj.record_id)
        kinds: set[str] = set()
        if actor.organisation == obj.assigned_org and w.grants(
            actor, "objection_handling", rec.category
        ):
            kinds.add("handler")
        common = {
            "actor": actor,
            "subject": subj.pseudonym,
            "records": [rec.id],
            "object_id": obj.id,
            "request_id": rid,
        }
        w.check_step(OBJECTION, obj.state, action, kinds, op="objection", **common)
        change: str | None = None
        new_version: dict[str, Any] | None = None
        rec_state = w.record_state(rec)
        if outcome == "upheld":
            changed_since = int(rec.version) > int(obj.record_version) or rec.state == "revoked"
            if corrected_facts is not None:
                w.check_step(RECORD, rec_state, "correct", {"source"}, op="correct", **common)
                change = "correct"
                new_version = w.prepare_version(rec, corrected_facts)
            elif revoke:
                w.check_step(RECORD, rec_state, "revoke", {"source"}, op="revoke", **common)
                change = "revoke"
            elif not changed_since:
                raise InputError(
                    "an upheld objection corrects the record (corrected_facts=...) or revokes it "
                    "(revoke=True)"
                )
        # The record change names the objection unless the handler gave a code of their own.
        change_code = "objection_upheld" if reason_code is None else code
        decision_ct = w.seal(subj, obj.id, "objection.decision", text)
        today = v.today()
        now = v._now()
        with w.write(
            actor,
            "objection",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
            object_id=obj.id,
        ) as conn:
            w.conditional(
                conn,
                update(_OB)
                .where(_OB.c.id == obj.id, _OB.c.state == obj.state)
                .values(
                    state=outcome,
                    open_record=None,
                    decided_by=v._actor_label(actor),
                    decided_on=today,
                    reason_code=code,
                    decision_ct=decision_ct,
                    updated_at=now,
                ),
            )
            change_step: _Step | None = None
            if change is not None:
                chid = new_id("ch")
                if change == "correct":
                    assert new_version is not None  # noqa: S101 - set together with change
                    w.write_version(conn, rec, new_version, change_code, now)
                    version, state, op = int(new_version["version"]), rec_state, "correct"
                else:
                    w.write_state(conn, rec, "revoked", "revoked", now)
                    version, state, op = int(rec.version), "revoked", "revoke"
                change_step = w.record_change(
                    conn,
                    actor,
                    rec,
                    change_id=chid,
                    kind=change,
                    action=change,
                    op=op,
                    version=version,
                    state=state,
                    code=change_code,
                    reason_ct=w.seal(subj, chid, "change.reason", text),
                    workflow_id=obj.id,
                    now=now,
                    purpose="objection_handling",
                    from_state=rec_state,
                )
            w.refresh_disputed(conn, rec.id, now)
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="objection",
                    machine="objection",
                    action=action,
                    object_id=obj.id,
                    record_id=rec.id,
                    state=outcome,
                    organisation=obj.assigned_org,
                    deadline=None,
                    code=code,
                    from_state=obj.state,
                    purpose="objection_handling",
                    category=rec.category,
                ),
                subject=subj.pseudonym,
                ticket=None,
                request_id=rid,
            )
            if change_step is not None:
                w.commit_step(
                    conn, actor, change_step, subject=subj.pseudonym, ticket=None, request_id=rid
                )
        return _objection(obj, state=outcome, decided_on=today, reason_code=code)

    def withdraw(
        self,
        actor: Actor,
        objection_id: str,
        *,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> Objection:
        """The subject withdraws an open objection (the mark goes unless another one stands)."""
        obj, today = _withdraw_on_record(
            self._w,
            actor,
            _OB,
            objection_id,
            consent,
            request_id,
            machine="objection",
            states=OBJECTION,
            refresh_disputed=True,
        )
        return _objection(obj, state="withdrawn", decided_on=today)

    def get(self, actor: Actor, objection_id: str, *, consent: str | None = None) -> Objection:
        """One objection; texts only for the subject and the assigned organisation. Logged."""
        return _get_on_record(
            self._w,
            actor,
            _OB,
            objection_id,
            consent,
            machine="objection",
            purpose="objection_handling",
            refusal="only the subject, the handling organisation or a reviewer reads it",
            texts={
                "reason": ("objection.reason", "reason_ct"),
                "decision_reason": ("objection.decision", "decision_ct"),
            },
            build=_objection,
        )

    def list(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        record_id: str | None = None,
        subject: SubjectRef | None = None,
        consent: str | None = None,
    ) -> builtins.list[Objection]:
        """Objections the actor may see: a subject's own, a handler's organisation's, or all
        for the report roles. Metadata only (no texts). Logged, per subject concerned.
        An agent gives ``consent=`` (the subject's written authorisation)."""
        return _list_objects(
            self._w,
            actor,
            _OB,
            subject,
            "objection_handling",
            filters={"state": state, "record_id": record_id},
            order="filed_on",
            machine="objection",
            build=_objection,
            consent=consent,
        )


def _objection(row: Any, **over: Any) -> Objection:
    base = {
        "id": row.id,
        "record_id": row.record_id,
        "state": row.state,
        "assigned_to": row.assigned_org,
        "filed_on": row.filed_on,
        "deadline": row.deadline,
        "deadline_rule": row.deadline_rule,
        "decided_on": row.decided_on,
        "reason_code": row.reason_code,
    }
    base.update(over)
    return Objection(**base)


def _scope(
    w: Workflows,
    actor: Actor,
    table: Table,
    subject: SubjectRef | None,
    purpose: str,
    consent: str | None = None,
) -> tuple[Any, str]:
    """The rows an actor may list: own (subject), own organisation (handler), all (reviewers).

    An agent lists a subject's objects only with the subject's written consent, as
    it reads one of them (``consent=``, the authorisation's reference).
    """
    v = w._vault
    if actor.role in w.settings.report_roles:
        if subject is None:
            return table.c.id.is_not(None), ""
        pseudo = v.pseudonym(subject)
        return table.c.subject_id.in_(select(_S.c.id).where(_S.c.pseudonym == pseudo)), pseudo
    if actor.subject is not None and actor.role in ("subject", w.settings.agent_role):
        if subject is not None and not subject.same_subject(actor.subject):
            w.refuse(
                actor,
                "workflow_read",
                PermissionDenied("a subject lists only their own objections, repairs and cases"),
                reason="workflow.list:not_self",
            )
        pseudo = v.pseudonym(actor.subject)
        if actor.role != "subject":
            w.require_consent(actor, consent, op="workflow_read", subject=pseudo)
        return table.c.subject_id.in_(select(_S.c.id).where(_S.c.pseudonym == pseudo)), pseudo
    handles = bool(v.policy.grants_for(actor.role, purpose)) or (
        purpose == "case" and actor.role in w.settings.case_roles
    )
    if not (actor.organisation and handles):
        w.refuse(
            actor,
            "workflow_read",
            PermissionDenied("this role may not list workflow objects"),
            reason="workflow.list:not_permitted",
        )
    cond = table.c.assigned_org == actor.organisation
    if subject is None:
        return cond, ""
    pseudo = v.pseudonym(subject)
    return and_(
        cond, table.c.subject_id.in_(select(_S.c.id).where(_S.c.pseudonym == pseudo))
    ), pseudo


# ====================================================================== repairs


class Repairs:
    """Credit repair (信用修复): ending disclosure early after rectification (N1, N3)."""

    def __init__(self, workflows: Workflows) -> None:
        self._w = workflows
        self._v = workflows._vault

    def _eligibility(self, conn: Connection, rec: Any, state: str) -> RepairEligibility:
        """Eligibility of a new application; ``state`` is the record's as of the clock."""
        v = self._v
        cat = v.catalog.get(rec.category)
        today = v.today()
        window = window_of(rec)
        refile = conn.execute(
            select(_RP.c.refile_after)
            .where(_RP.c.record_id == rec.id, _RP.c.state == "rejected")
            .order_by(_RP.c.refile_after.desc())
            .limit(1)
        ).scalar_one_or_none()
        open_app = conn.execute(
            select(_RP.c.id).where(_RP.c.open_record == rec.id)
        ).scalar_one_or_none()
        return repair_eligibility(
            cat,
            not_repairable_kinds=v.catalog.not_repairable_kinds,
            state=state,
            disclosed_today=window.open_on(today),
            repair_from=rec.repair_from,
            today=today,
            # Past its purge date a record is read as deleted: nothing is decrypted.
            penalty_kind=None if state == "purged" else self._penalty_kind(rec),
            refile_after=refile,
            application_open=open_app is not None,
        )

    def _approval_blockers(self, rec: Any, state: str) -> tuple[str, ...]:
        """What stops approving a pending application now (N3 may have come with a correction).

        The application itself does not count, and a window that ended while it waited
        does not bar it (see :func:`~credit_vault.domain.workflows.repair_eligibility`).
        """
        v = self._v
        today = v.today()
        return repair_eligibility(
            v.catalog.get(rec.category),
            not_repairable_kinds=v.catalog.not_repairable_kinds,
            state=state,
            disclosed_today=window_of(rec).open_on(today),
            repair_from=rec.repair_from,
            today=today,
            penalty_kind=self._penalty_kind(rec),
            refile_after=None,
            application_open=False,
            at_decision=True,
        ).reasons

    def _penalty_kind(self, rec: Any) -> str | None:
        """The record's penalty kind (N3 decides on it); decrypted here, never returned."""
        names = [n for n in str(rec.field_names).split(",") if n]
        if "penalty_kind" not in names or rec.wrapped_key is None or rec.fields is None:
            return None
        return str(decrypt_facts(self._v, rec, ["penalty_kind"])["penalty_kind"])

    def eligibility(
        self, actor: Actor, record_id: str, *, consent: str | None = None
    ) -> RepairEligibility:
        """Whether the record may be repaired today, with every reason code if not. Logged."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        consent = _consent(consent)
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
            state = w.record_state(rec)
            result = self._eligibility(conn, rec, state)
        allowed = w.subject_kind(actor, subj, consent, op="workflow_read", records=[rec.id]) or (
            actor.organisation == rec.source_code and w.grants(actor, "credit_repair", rec.category)
        )
        if not allowed:
            w.refuse(
                actor,
                "workflow_read",
                PermissionDenied("only the subject or the listing organisation asks this"),
                reason="repair.eligibility:not_permitted",
                subject=subj.pseudonym,
                records=[rec.id],
            )
        w.log_read(
            actor,
            reason="repair.eligibility:" + ("eligible" if result else "not_eligible"),
            subject=subj.pseudonym,
            records=[rec.id],
        )
        return result

    def apply(
        self,
        actor: Actor,
        record_id: str,
        *,
        evidence: str,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> RepairApplication:
        """Apply for repair with a description of the evidence of rectification.

        Refused with :class:`~credit_vault.errors.InvalidTransition` listing the
        reason codes when the record is not eligible (see :meth:`eligibility`).
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        text = check_text(evidence, "evidence", required=True)
        consent = _consent(consent)
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
            rec_state = w.record_state(rec)
            elig = self._eligibility(conn, rec, rec_state) if rec_state != "purged" else None
        kinds = (
            {"subject"}
            if w.subject_kind(actor, subj, consent, op="repair", records=[rec.id])
            else set()
        )
        w.check_step(
            REPAIR,
            None,
            "apply",
            kinds,
            actor=actor,
            op="repair",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
        )
        if elig is None or not elig:
            codes = elig.reasons if elig is not None else ("not_disclosed",)
            w.refuse(
                actor,
                "repair",
                InvalidTransition(
                    f"repair: step 'apply' is not allowed: the record in state '{rec_state}' "
                    f"is not eligible ({', '.join(codes)})"
                ),
                reason="repair.apply:" + "+".join(codes)[:100],
                subject=subj.pseudonym,
                records=[rec.id],
                request_id=rid,
            )
        s = w.settings
        today, now = v.today(), v._now()
        rule = s.repair_deadline_for(rec.category)
        deadline = s.due(rule, today)
        aid = new_id("rp")
        evidence_ct = w.seal(subj, aid, "repair.evidence", text)
        with w.write(
            actor, "repair", subject=subj.pseudonym, records=[rec.id], request_id=rid
        ) as conn:
            try:
                conn.execute(
                    insert(_RP).values(
                        id=aid,
                        record_id=rec.id,
                        subject_id=subj.id,
                        assigned_org=rec.source_code,
                        state="applied",
                        open_record=rec.id,
                        applied_on=today,
                        deadline=deadline,
                        deadline_rule=str(rule),
                        applied_by=v._actor_label(actor),
                        evidence_ct=evidence_ct,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except DbIntegrityError:
                raise ConflictError(
                    "another repair application for this record was filed at the same time"
                ) from None
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="repair",
                    machine="repair",
                    action="apply",
                    object_id=aid,
                    record_id=rec.id,
                    state="applied",
                    organisation=rec.source_code,
                    deadline=deadline,
                    code="applied",
                    from_state=None,
                    category=rec.category,
                ),
                subject=subj.pseudonym,
                ticket=consent,
                request_id=rid,
            )
        return RepairApplication(
            id=aid,
            record_id=rec.id,
            state="applied",
            assigned_to=rec.source_code,
            applied_on=today,
            deadline=deadline,
            deadline_rule=str(rule),
        )

    def decide(
        self,
        actor: Actor,
        application_id: str,
        *,
        approve: bool,
        reason: str | None = None,
        reason_code: str | None = None,
        request_id: str | None = None,
    ) -> RepairApplication:
        """Approve (disclosure ends at once: the record becomes ``repaired``) or reject (reasons
        required; refiling waits the policy's ``repair_refile_after``)."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        if not isinstance(approve, bool):
            raise InputError("approve must be true or false")
        action = "approve" if approve else "reject"
        text = check_text(reason, "reason", required=not approve)
        code = check_reason_code(reason_code, "approved" if approve else "rejected")
        with w.read() as conn:
            app = w.load_object(conn, _RP, application_id)
            rec, subj = w.load_record(conn, app.record_id)
        kinds: set[str] = set()
        if actor.organisation == app.assigned_org and w.grants(
            actor, "credit_repair", rec.category
        ):
            kinds.add("handler")
        common = {
            "actor": actor,
            "subject": subj.pseudonym,
            "records": [rec.id],
            "object_id": app.id,
            "request_id": rid,
        }
        w.check_step(REPAIR, app.state, action, kinds, op="repair", **common)
        rec_state = w.record_state(rec)
        if approve:
            w.check_step(RECORD, rec_state, "repair", {"handler"}, op="repair", **common)
            # Eligibility was judged when the subject applied; the record may have changed
            # since (a correction to a licence revocation, N3), so it is judged again.
            blockers = self._approval_blockers(rec, rec_state)
            if blockers:
                w.refuse(
                    actor,
                    "repair",
                    InvalidTransition(
                        f"repair: step 'approve' is not allowed: the record in state "
                        f"'{rec_state}' is no longer eligible ({', '.join(blockers)}); "
                        "reject the application with reasons"
                    ),
                    reason="repair.approve:" + "+".join(blockers)[:100],
                    subject=subj.pseudonym,
                    records=[rec.id],
                    object_id=app.id,
                    request_id=rid,
                )
        today, now = v.today(), v._now()
        refile = None if approve else w.settings.repair_refile_after.after(today)
        decision_ct = w.seal(subj, app.id, "repair.decision", text)
        state = "approved" if approve else "rejected"
        with w.write(
            actor,
            "repair",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
            object_id=app.id,
        ) as conn:
            w.conditional(
                conn,
                update(_RP)
                .where(_RP.c.id == app.id, _RP.c.state == app.state)
                .values(
                    state=state,
                    open_record=None,
                    decided_by=v._actor_label(actor),
                    decided_on=today,
                    refile_after=refile,
                    reason_code=code,
                    decision_ct=decision_ct,
                    updated_at=now,
                ),
            )
            record_step: _Step | None = None
            if approve:
                w.write_state(conn, rec, "repaired", "repaired", now)
                record_step = w.record_change(
                    conn,
                    actor,
                    rec,
                    change_id=new_id("ch"),
                    kind="repair",
                    action="repair",
                    op="transition",
                    version=int(rec.version),
                    state="repaired",
                    code=code,
                    reason_ct=None,
                    workflow_id=app.id,
                    now=now,
                    purpose="credit_repair",
                    from_state=rec_state,
                )
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="repair",
                    machine="repair",
                    action=action,
                    object_id=app.id,
                    record_id=rec.id,
                    state=state,
                    organisation=app.assigned_org,
                    deadline=None,
                    code=code,
                    from_state=app.state,
                    purpose="credit_repair",
                    category=rec.category,
                ),
                subject=subj.pseudonym,
                ticket=None,
                request_id=rid,
            )
            if record_step is not None:
                w.commit_step(
                    conn, actor, record_step, subject=subj.pseudonym, ticket=None, request_id=rid
                )
        return _repair(app, state=state, decided_on=today, refile_after=refile, reason_code=code)

    def withdraw(
        self,
        actor: Actor,
        application_id: str,
        *,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> RepairApplication:
        """The subject withdraws an application that awaits its decision."""
        app, today = _withdraw_on_record(
            self._w,
            actor,
            _RP,
            application_id,
            consent,
            request_id,
            machine="repair",
            states=REPAIR,
            refresh_disputed=False,
        )
        return _repair(app, state="withdrawn", decided_on=today)

    def get(
        self, actor: Actor, application_id: str, *, consent: str | None = None
    ) -> RepairApplication:
        """One application; its texts for the subject and the listing organisation. Logged."""
        return _get_on_record(
            self._w,
            actor,
            _RP,
            application_id,
            consent,
            machine="repair",
            purpose="credit_repair",
            refusal="only the subject, the listing organisation or a reviewer reads it",
            texts={
                "evidence": ("repair.evidence", "evidence_ct"),
                "decision_reason": ("repair.decision", "decision_ct"),
            },
            build=_repair,
        )

    def list(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        record_id: str | None = None,
        subject: SubjectRef | None = None,
        consent: str | None = None,
    ) -> builtins.list[RepairApplication]:
        """Applications the actor may see (own, own organisation's, all for reviewers).

        Logged, per subject concerned. An agent gives ``consent=``."""
        return _list_objects(
            self._w,
            actor,
            _RP,
            subject,
            "credit_repair",
            filters={"state": state, "record_id": record_id},
            order="applied_on",
            machine="repair",
            build=_repair,
            consent=consent,
        )


def _repair(row: Any, **over: Any) -> RepairApplication:
    base = {
        "id": row.id,
        "record_id": row.record_id,
        "state": row.state,
        "assigned_to": row.assigned_org,
        "applied_on": row.applied_on,
        "deadline": row.deadline,
        "deadline_rule": row.deadline_rule,
        "decided_on": row.decided_on,
        "refile_after": row.refile_after,
        "reason_code": row.reason_code,
    }
    base.update(over)
    return RepairApplication(**base)


# ====================================================================== record changes


class RecordsAdmin:
    """Corrections and revocations by the record's source (S5), and subjects' statements (Z2)."""

    def __init__(self, workflows: Workflows) -> None:
        self._w = workflows
        self._v = workflows._vault

    def _source_kinds(self, actor: Actor, rec: Any) -> set[str]:
        if actor.role == "source_clerk" and actor.organisation == rec.source_code:
            return {"source"}
        return set()

    def correct(
        self,
        actor: Actor,
        record_id: str,
        *,
        facts: Mapping[str, Any],
        reason: str,
        reason_code: str | None = None,
        request_id: str | None = None,
    ) -> RecordChange:
        """Replace the record's facts with a new version (validated like ingest; reason required).

        The previous version stays encrypted in the version history and is never
        disclosed again; queries read only the current version.
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        text = check_text(reason, "reason", required=True)
        code = check_reason_code(reason_code, "correction")
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
        rec_state = w.record_state(rec)
        w.check_step(
            RECORD,
            rec_state,
            "correct",
            self._source_kinds(actor, rec),
            actor=actor,
            op="correct",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
        )
        new = w.prepare_version(rec, facts)
        chid = new_id("ch")
        reason_ct = w.seal(subj, chid, "change.reason", text)
        now = v._now()
        with w.write(
            actor, "correct", subject=subj.pseudonym, records=[rec.id], request_id=rid
        ) as conn:
            w.write_version(conn, rec, new, code, now)
            step = w.record_change(
                conn,
                actor,
                rec,
                change_id=chid,
                kind="correct",
                action="correct",
                op="correct",
                version=int(new["version"]),
                state=rec_state,
                code=code,
                reason_ct=reason_ct,
                workflow_id=None,
                now=now,
                from_state=rec_state,
            )
            w.commit_step(
                conn,
                actor,
                step,
                subject=subj.pseudonym,
                ticket=None,
                request_id=rid,
                fields=str(new["field_names"]).split(","),
            )
        return _change_result(step, "correct", int(new["version"]), now, v._actor_label(actor))

    def revoke(
        self,
        actor: Actor,
        record_id: str,
        *,
        reason: str,
        reason_code: str | None = None,
        request_id: str | None = None,
    ) -> RecordChange:
        """Revoke a record whose decision was withdrawn: disclosure ends at once (S5, N3)."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        text = check_text(reason, "reason", required=True)
        code = check_reason_code(reason_code, "decision_withdrawn")
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
        rec_state = w.record_state(rec)
        w.check_step(
            RECORD,
            rec_state,
            "revoke",
            self._source_kinds(actor, rec),
            actor=actor,
            op="revoke",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
        )
        chid = new_id("ch")
        reason_ct = w.seal(subj, chid, "change.reason", text)
        now = v._now()
        with w.write(
            actor, "revoke", subject=subj.pseudonym, records=[rec.id], request_id=rid
        ) as conn:
            w.write_state(conn, rec, "revoked", "revoked", now)
            step = w.record_change(
                conn,
                actor,
                rec,
                change_id=chid,
                kind="revoke",
                action="revoke",
                op="revoke",
                version=int(rec.version),
                state="revoked",
                code=code,
                reason_ct=reason_ct,
                workflow_id=None,
                now=now,
                from_state=rec_state,
            )
            w.commit_step(
                conn,
                actor,
                step,
                subject=subj.pseudonym,
                ticket=None,
                request_id=rid,
            )
        return _change_result(step, "revoke", int(rec.version), now, v._actor_label(actor))

    def statement(
        self,
        actor: Actor,
        record_id: str,
        text: str | None,
        *,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> RecordChange:
        """Attach (``None``: remove) the subject's statement, shown wherever the record is."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        body = check_text(text, "statement", required=False, limit=2000)
        consent = _consent(consent)
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
        ok = w.subject_kind(actor, subj, consent, op="statement", records=[rec.id])
        rec_state = w.record_state(rec)
        w.check_step(
            RECORD,
            rec_state,
            "attach_statement",
            {"subject"} if ok else set(),
            actor=actor,
            op="statement",
            subject=subj.pseudonym,
            records=[rec.id],
            request_id=rid,
        )
        ct = (
            None
            if body is None
            else w.cipher(subj).encrypt(subj.id, f"statement:{rec.id}", body.encode("utf-8"))
        )
        code = "attached" if body is not None else "removed"
        chid = new_id("ch")
        now = v._now()
        with w.write(
            actor, "statement", subject=subj.pseudonym, records=[rec.id], request_id=rid
        ) as conn:
            w.conditional(
                conn,
                update(_R)
                .where(_R.c.id == rec.id, _R.c.state == rec.state)
                .values(statement_ct=ct, updated_at=now),
            )
            step = w.record_change(
                conn,
                actor,
                rec,
                change_id=chid,
                kind="statement",
                action="attach_statement",
                op="statement",
                version=int(rec.version),
                state=rec_state,
                code=code,
                reason_ct=None,
                workflow_id=None,
                now=now,
                from_state=rec_state,
            )
            w.commit_step(
                conn,
                actor,
                step,
                subject=subj.pseudonym,
                ticket=consent,
                request_id=rid,
                fields=["statement"],
            )
        return _change_result(step, "statement", int(rec.version), now, v._actor_label(actor))

    def history(
        self, actor: Actor, record_id: str, *, consent: str | None = None
    ) -> builtins.list[RecordChange]:
        """The record's corrections, revocation, repair and statements, oldest first. Logged.

        The subject and the source see the reasons; reviewers (report roles) see
        codes only.
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        consent = _consent(consent)
        with w.read() as conn:
            rec, subj = w.load_record(conn, record_id)
            rows = conn.execute(
                # Changes share the frozen clock's instant in tests and hosts' clocks differ:
                # the access-log sequence of each change's event is the real order.
                select(_CH)
                .outerjoin(_EV, and_(_EV.c.object_id == _CH.c.id, _EV.c.kind == "record"))
                .where(_CH.c.record_id == rec.id)
                .order_by(_EV.c.seq, _CH.c.at, _CH.c.id)
            ).all()
        texts = w.subject_kind(actor, subj, consent, op="workflow_read", records=[rec.id]) or (
            actor.organisation == rec.source_code
            and (
                actor.role == "source_clerk" or w.grants(actor, "objection_handling", rec.category)
            )
        )
        if not texts and actor.role not in w.settings.report_roles:
            w.refuse(
                actor,
                "workflow_read",
                PermissionDenied("only the subject, the source or a reviewer reads the history"),
                reason="record.history:not_permitted",
                subject=subj.pseudonym,
                records=[rec.id],
            )
        subj, texts = w.log_text_read(
            actor,
            subj,
            texts=bool(texts),
            reason="record.history",
            records=[rec.id],
            fields=["reason"],
        )
        return [
            RecordChange(
                id=r.id,
                record_id=r.record_id,
                kind=r.kind,
                version=int(r.version),
                state=r.state,
                reason_code=r.reason_code,
                at=as_utc(r.at),
                by=r.actor_id,
                workflow_id=r.workflow_id,
                reason=w.unseal(subj, r.id, "change.reason", r.reason_ct) if texts else None,
            )
            for r in rows
        ]


def _change_result(step: _Step, kind: str, version: int, now: datetime, by: str) -> RecordChange:
    """What a correction, revocation or statement returns, from the step it committed."""
    return RecordChange(
        id=step.object_id,
        record_id=cast("str", step.record_id),
        kind=kind,
        version=version,
        state=step.state,
        reason_code=step.code,
        at=now,
        by=by,
    )


# ====================================================================== cases


class Cases:
    """Reconsideration (行政复议) and complaint (投诉) cases: tracked with deadlines, decided
    elsewhere, outcome and reasons recorded here; and the overdue report of every workflow."""

    def __init__(self, workflows: Workflows) -> None:
        self._w = workflows
        self._v = workflows._vault

    def _handler(self, actor: Actor, row: Any) -> bool:
        return actor.role in self._w.settings.case_roles and actor.organisation == row.assigned_org

    def open(
        self,
        actor: Actor,
        *,
        type: str,  # noqa: A002 - the domain's word for the kind of case
        reason: str,
        record_id: str | None = None,
        subject: SubjectRef | None = None,
        assigned_to: str | None = None,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> Case:
        """Open a case about a record (assigned to its source by default) or about a subject.

        Opened by the subject (or their agent with consent) or by a registrar (a
        case role). The deadline is the case type's, 30 days by default (Z6).
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        s = w.settings
        if type not in s.case_types:
            raise InputError(
                f"type must be one of the policy's case types: {', '.join(s.case_types)}"
            )
        text = check_text(reason, "reason", required=True)
        consent = _consent(consent)
        if (record_id is None) == (subject is None):
            raise InputError("a case is about a record (record_id=) or a subject (subject=)")
        if subject is not None and not isinstance(subject, SubjectRef):
            raise InputError("subject must be a SubjectRef")
        rec: Any = None
        subj: Any = None
        with w.read() as conn:
            if record_id is not None:
                rec, subj = w.load_record(conn, record_id)
            else:
                assert subject is not None  # noqa: S101 - checked above
                found = conn.execute(
                    select(_S.c.id).where(
                        _S.c.lookup == v._subject_lookup(subject), _S.c.kind == subject.kind
                    )
                ).scalar_one_or_none()
                if found is not None:
                    subj = w.load_subject(conn, found)
        org = (
            assigned_to
            if assigned_to is not None
            else (rec.source_code if rec is not None else None)
        )
        if not _organisation_code(org):
            raise InputError(
                "assigned_to must name the organisation (1-64 printable characters, "
                "no ID or card number)"
            )
        if subj is not None:
            is_subj = w.subject_kind(actor, subj, consent, op="case", records=[record_id or ""])
        else:
            assert subject is not None  # noqa: S101 - a case names a record or a subject
            is_subj = (
                actor.subject is not None
                and actor.subject.same_subject(subject)
                and (
                    actor.role == "subject" or (actor.role == s.agent_role and consent is not None)
                )
            )
        kinds = {"subject"} if is_subj else set()
        if actor.role in s.case_roles:
            kinds.add("registrar")
        pseudo = subj.pseudonym if subj is not None else v.pseudonym(cast("SubjectRef", subject))
        w.check_step(
            CASE,
            None,
            "open",
            kinds,
            actor=actor,
            op="case",
            subject=pseudo,
            records=[record_id or ""],
            request_id=rid,
        )
        today, now = v.today(), v._now()
        rule = s.case_deadline_for(type)
        deadline = s.due(rule, today)
        cid = new_id("cs")
        with w.write(
            actor,
            "case",
            subject=pseudo,
            records=[record_id or ""],
            request_id=rid,
            live_records=False,
        ) as conn:
            if subj is None:
                assert subject is not None  # noqa: S101 - a case names a record or a subject
                sid = v._ensure_subjects(conn, [subject], now)[0]
                subj = w.load_subject(conn, sid)
            conn.execute(
                insert(_CS).values(
                    id=cid,
                    type=type,
                    record_id=record_id,
                    subject_id=subj.id,
                    assigned_org=org,
                    state="open",
                    opened_on=today,
                    deadline=deadline,
                    deadline_rule=str(rule),
                    opened_by=v._actor_label(actor),
                    reason_ct=w.seal(subj, cid, "case.reason", text),
                    created_at=now,
                    updated_at=now,
                )
            )
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="case",
                    machine="case",
                    action="open",
                    object_id=cid,
                    record_id=record_id,
                    state="open",
                    organisation=org,
                    deadline=deadline,
                    code=type,
                    from_state=None,
                    category=rec.category if rec is not None else None,
                ),
                subject=pseudo,
                ticket=consent,
                request_id=rid,
            )
        return Case(
            id=cid,
            type=type,
            state="open",
            assigned_to=org,
            record_id=record_id,
            opened_on=today,
            deadline=deadline,
            deadline_rule=str(rule),
        )

    def _load(self, case_id: str) -> tuple[Any, Any]:
        w = self._w
        with w.read() as conn:
            row = w.load_object(conn, _CS, case_id)
            subj = w.load_subject(conn, row.subject_id)
        return row, subj

    def _step(
        self,
        actor: Actor,
        row: Any,
        subj: Any,
        action: str,
        kinds: set[str],
        values: dict[str, Any],
        *,
        code: str,
        organisation: str,
        ticket: str | None,
        request_id: str,
    ) -> str:
        w, v = self._w, self._v
        new_state = w.check_step(
            CASE,
            row.state,
            action,
            kinds,
            actor=actor,
            op="case",
            subject=subj.pseudonym,
            records=[row.record_id or ""],
            object_id=row.id,
            request_id=request_id,
        )
        state = cast("str", new_state)
        now = v._now()
        with w.write(
            actor,
            "case",
            subject=subj.pseudonym,
            records=[row.record_id or ""],
            request_id=request_id,
            object_id=row.id,
            live_records=False,
        ) as conn:
            w.conditional(
                conn,
                update(_CS)
                .where(
                    _CS.c.id == row.id,
                    _CS.c.state == row.state,
                    _CS.c.assigned_org == row.assigned_org,
                )
                .values(state=state, updated_at=now, **values),
            )
            w.commit_step(
                conn,
                actor,
                _Step(
                    op="case",
                    machine="case",
                    action=action,
                    object_id=row.id,
                    record_id=row.record_id,
                    state=state,
                    organisation=organisation,
                    deadline=row.deadline if state == "open" else None,
                    code=code,
                    from_state=row.state,
                ),
                subject=subj.pseudonym,
                ticket=ticket,
                request_id=request_id,
            )
        return state

    def assign(
        self,
        actor: Actor,
        case_id: str,
        *,
        to: str,
        reason_code: str | None = None,
        request_id: str | None = None,
    ) -> Case:
        """Hand an open case to another organisation (its handler or the admin role)."""
        v = self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        if not _organisation_code(to):
            raise InputError(
                "to must name the organisation (1-64 printable characters, no ID or card number)"
            )
        code = check_reason_code(reason_code, "reassigned")
        row, subj = self._load(case_id)
        kinds = {"handler"} if self._handler(actor, row) else set()
        if actor.role == "admin":
            kinds.add("admin")
        state = self._step(
            actor,
            row,
            subj,
            "assign",
            kinds,
            {"assigned_org": to},
            code=code,
            organisation=to,
            ticket=None,
            request_id=rid,
        )
        return _case(row, state=state, assigned_to=to)

    def close(
        self,
        actor: Actor,
        case_id: str,
        *,
        outcome: str,
        reason: str,
        request_id: str | None = None,
    ) -> Case:
        """Record the outcome decided outside the vault and its reasons (assigned organisation)."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        if outcome not in CASE_OUTCOMES:
            raise InputError(f"outcome must be one of {', '.join(CASE_OUTCOMES)}")
        text = check_text(reason, "reason", required=True)
        row, subj = self._load(case_id)
        kinds = {"handler"} if self._handler(actor, row) else set()
        today = v.today()
        state = self._step(
            actor,
            row,
            subj,
            "close",
            kinds,
            {
                "outcome": outcome,
                "closed_by": v._actor_label(actor),
                "closed_on": today,
                "outcome_ct": w.seal(subj, row.id, "case.outcome", text),
            },
            code=outcome,
            organisation=row.assigned_org,
            ticket=None,
            request_id=rid,
        )
        return _case(row, state=state, outcome=outcome, closed_on=today)

    def withdraw(
        self,
        actor: Actor,
        case_id: str,
        *,
        consent: str | None = None,
        request_id: str | None = None,
    ) -> Case:
        """Withdraw an open case (the subject, or the handler recording a withdrawal)."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        rid = request_id_or_new(request_id)
        consent = _consent(consent)
        row, subj = self._load(case_id)
        kinds: set[str] = set()
        if w.subject_kind(actor, subj, consent, op="case", records=[row.record_id or ""]):
            kinds.add("subject")
        if self._handler(actor, row):
            kinds.add("handler")
        today = v.today()
        state = self._step(
            actor,
            row,
            subj,
            "withdraw",
            kinds,
            {"closed_by": v._actor_label(actor), "closed_on": today},
            code="withdrawn",
            organisation=row.assigned_org,
            ticket=consent,
            request_id=rid,
        )
        return _case(row, state=state, closed_on=today)

    def get(self, actor: Actor, case_id: str, *, consent: str | None = None) -> Case:
        """One case; its texts for the subject and the assigned organisation. Logged."""
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        consent = _consent(consent)
        row, subj = self._load(case_id)
        return _read_object(
            w,
            actor,
            row,
            subj,
            consent,
            machine="case",
            record_id=row.record_id,
            handles=lambda: self._handler(actor, row),
            refusal="only the subject, the assigned organisation or a reviewer reads it",
            texts={
                "reason": ("case.reason", "reason_ct"),
                "outcome_reason": ("case.outcome", "outcome_ct"),
            },
            build=_case,
        )

    def list(
        self,
        actor: Actor,
        *,
        state: str | None = None,
        type: str | None = None,  # noqa: A002 - the domain's word for the kind of case
        subject: SubjectRef | None = None,
        consent: str | None = None,
    ) -> builtins.list[Case]:
        """Cases the actor may see (own, own organisation's, or all for reviewers).

        Logged, per subject concerned. An agent gives ``consent=``."""
        return _list_objects(
            self._w,
            actor,
            _CS,
            subject,
            "case",
            filters={"state": state, "type": type},
            order="opened_on",
            machine="case",
            build=_case,
            consent=consent,
        )

    def overdue(self, actor: Actor, *, on: date | None = None) -> OverdueReport:
        """Open objections, repair applications and cases past their deadline on ``on``.

        A deadline is the last day to act, so an item is overdue from the day
        after it. Report roles see every organisation; a handler sees their own.
        """
        w, v = self._w, self._v
        actor = v._check_actor(actor)
        day = on if on is not None else v.today()
        if not isinstance(day, date) or isinstance(day, datetime):
            raise InputError("on must be a date")
        s = w.settings
        org: str | None = None
        if actor.role not in s.report_roles:
            handles = actor.role in s.case_roles or any(
                v.policy.grants_for(actor.role, p) for p in ("objection_handling", "credit_repair")
            )
            if not handles or not actor.organisation:
                w.refuse(
                    actor,
                    "workflow_read",
                    PermissionDenied("the overdue report is for reviewers and handlers"),
                    reason="workflow.overdue:not_permitted",
                )
            org = actor.organisation
        items: list[OverdueItem] = []
        found: list[Any] = []
        with w.read() as conn:
            for kind, table, state, type_col in (
                ("objection", _OB, "open", None),
                ("repair", _RP, "applied", None),
                ("case", _CS, "open", _CS.c.type),
            ):
                cond = and_(table.c.state == state, table.c.deadline < day)
                if org is not None:
                    cond = and_(cond, table.c.assigned_org == org)
                cols: list[Any] = [table.c.id, table.c.state, table.c.assigned_org]
                cols += [table.c.deadline, table.c.record_id]
                cols.append(_S.c.pseudonym.label("subject_pseudonym"))
                if type_col is not None:
                    cols.append(type_col)
                find = select(*cols).join(_S, _S.c.id == table.c.subject_id)
                if kind != "case":
                    # An objection or repair on a record past its purge date lapses
                    # (at the next sweep): nothing is left to decide, swept or not.
                    find = find.join(_R, _R.c.id == table.c.record_id)
                    cond = and_(cond, or_(_R.c.purge_on.is_(None), _R.c.purge_on > day))
                rows = conn.execute(find.where(cond)).all()
                found.extend(rows)
                items.extend(
                    OverdueItem(
                        kind=kind,
                        id=r.id,
                        state=r.state,
                        organisation=r.assigned_org,
                        deadline=r.deadline,
                        days_overdue=(day - r.deadline).days,
                        record_id=r.record_id,
                        type=r.type if type_col is not None else None,
                    )
                    for r in rows
                )
            # One entry per subject concerned, so each one's access history shows it.
            w.log_reads(conn, actor, found, reason=f"workflow.overdue:{len(items)}")
        items.sort(key=lambda i: (i.organisation, i.deadline, i.kind, i.id))
        return OverdueReport(on=day, items=tuple(items))


def _case(row: Any, **over: Any) -> Case:
    base = {
        "id": row.id,
        "type": row.type,
        "state": row.state,
        "assigned_to": row.assigned_org,
        "record_id": row.record_id,
        "opened_on": row.opened_on,
        "deadline": row.deadline,
        "deadline_rule": row.deadline_rule,
        "closed_on": row.closed_on,
        "outcome": row.outcome,
    }
    base.update(over)
    return Case(**base)


# ====================================================================== events


class Events:
    """The outbox integrators read to notify subjects: ids, types, states, dates only."""

    def __init__(self, workflows: Workflows) -> None:
        self._w = workflows

    def poll(self, *, after: int | None = None, limit: int = 100) -> list[Event]:
        """Events with ``seq > after`` (all when None), oldest first, at most ``limit``.

        Resume with the last event's ``seq``. Events appear in commit order, so a
        reader that always passes the last ``seq`` it saw never misses one.

        The outbox is for the embedding application's own process (to notify
        handlers and subjects), not for end users: it takes no actor and is not
        logged. Events carry ids, types, states, organisations and subject
        pseudonyms, never a personal value; each transition they report has its
        own access-log entry, whose ``seq`` the event carries.
        """
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            raise InputError("after must be an event's seq (an integer) or None")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InputError("limit must be between 1 and 10000")
        stmt = select(_EV).order_by(_EV.c.seq).limit(limit)
        if after is not None:
            stmt = stmt.where(_EV.c.seq > after)
        with self._w.read() as conn:
            rows = conn.execute(stmt).all()
        return [
            Event(
                seq=int(r.seq),
                at=as_utc(r.at),
                type=r.type,
                kind=r.kind,
                object_id=r.object_id,
                record_id=r.record_id,
                subject=r.subject,
                state=r.state,
                organisation=r.organisation,
                deadline=r.deadline,
            )
            for r in rows
        ]
