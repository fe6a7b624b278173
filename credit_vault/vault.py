"""The :class:`Vault`: the one way in.

It wires storage, keys, the catalogue, the policy and the clock, and keeps the
invariants of DESIGN.md: facts and identities are encrypted before they reach
storage; every read is decided by the policy before anything is decrypted and is
logged in the same transaction that reads; a denial is logged too; disclosure
windows are judged at read time from the injected clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, LargeBinary, Table, any_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from credit_vault import _fields
from credit_vault._audit_service import CheckpointPublisher, VaultAudit
from credit_vault._gcpause import gc_paused
from credit_vault._ids import is_id, new_ids
from credit_vault._lifecycle import (
    ErasureReport,
    Lifecycle,
    ProgressCallback,
    RecordStatus,
    SweepReport,
    decrypt_fields,
    window_of,
)
from credit_vault._rotation import RewrapProgress, RewrapReport, Rotation
from credit_vault.audit._entry import AccessEntry, clean, request_id_or_new
from credit_vault.clock import Clock, SystemClock, utc_now
from credit_vault.crypto import (
    BlindIndex,
    Envelope,
    FieldCipher,
    KeyProvider,
    KeySet,
    seal_new_records,
)
from credit_vault.domain.catalog import Catalog, Category, Tier
from credit_vault.domain.models import Actor, DisclosedRecord, Disclosure, RecordIn, SubjectRef
from credit_vault.domain.policy import AccessDecision, Policy, ticket_well_formed
from credit_vault.domain.windows import compute_window, is_visible, local_date
from credit_vault.errors import (
    AuditWriteFailed,
    ConfigurationError,
    ConflictError,
    CreditVaultError,
    InputError,
    IntegrityError,
    InvalidRecord,
    PermissionDenied,
    StorageError,
    UnknownCategory,
    UnknownPurpose,
)
from credit_vault.identifiers import CitizenId, mask_identifiers
from credit_vault.storage import audit_repo
from credit_vault.storage.bulk import driver_values, insert_rows
from credit_vault.storage.engine import Durability, Store, open_store
from credit_vault.storage.tables import (
    SUBJECT_KEY_VERSION,
    Meta,
    Record,
    Source,
    SourceCategory,
    Subject,
)
from credit_vault.telemetry import Telemetry

__all__ = ["Vault"]

_R = cast("Table", Record.__table__)
_S = cast("Table", Subject.__table__)
_SRC = cast("Table", Source.__table__)
_SC = cast("Table", SourceCategory.__table__)
_META = cast("Table", Meta.__table__)

SYSTEM_ACTOR = Actor(id="system", role="admin")

# The columns of a record row that follow from its category, source, legal basis
# and dates (built once per distinct combination in a batch).
_FIXED_COLUMNS = (
    "category",
    "source_code",
    "version",
    "state",
    "legal_basis",
    "decided_on",
    "occurred_on",
    "conduct_ended_on",
    "disclosure_mode",
    "disclosure_starts_on",
    "disclosure_ends_on",
    "repair_from",
    "purge_on",
    "disputed",
)

# The columns ingest writes, in the order of its row lists.
_INGEST_COLUMNS = (
    "id",
    "subject_id",
    *_FIXED_COLUMNS,
    "kek_id",
    "wrapped_key",
    "fields",
    "field_names",
    "created_at",
    "updated_at",
)

# The columns a new subject's row sets, in the order of its row lists.
_SUBJECT_COLUMNS = (
    "id",
    "kind",
    "lookup",
    "pseudonym",
    "kek_id",
    "wrapped_key",
    "identity_ct",
    "name_ct",
    "name_lookup",
    "created_at",
)

# Statements of the read path, built once (building costs more than running them).
_SUBJECT_BY_LOOKUP = select(_S.c.id, _S.c.kek_id, _S.c.wrapped_key, _S.c.name_ct).where(
    _S.c.lookup == bindparam("lookup"), _S.c.kind == bindparam("kind")
)
_RECORDS_OF_SUBJECT = (
    select(_R)
    .where(_R.c.subject_id == bindparam("sid"), _R.c.state != "purged")
    .order_by(_R.c.decided_on, _R.c.id)
)
_SUBJECT_BY_LOOKUP_SHARED = _SUBJECT_BY_LOOKUP.with_for_update(read=True, key_share=True)

#: Values bound in one IN list on SQLite (it takes at most 32,766 parameters a statement).
_IN_CHUNK = 500

# PostgreSQL: a batch's subjects are found and inserted with one array parameter
# per column, whatever the batch's size. Long IN and multi-row VALUES lists cost
# more to build and parse than to run (and a statement takes at most 65,535
# parameters); these statements are the same text every time.
_SUBJECT_FIND_COLUMNS = (
    _S.c.id,
    _S.c.lookup,
    _S.c.kind,
    _S.c.name_lookup,
    _S.c.kek_id,
    _S.c.wrapped_key,
)
# An erasure locks its subject FOR UPDATE; FOR KEY SHARE waits for it (see
# Vault._ensure_subjects). KEY SHARE, not SHARE, so that two ingests updating one
# subject's name do not deadlock.
_PG_SUBJECTS_BY_LOOKUPS = (
    select(*_SUBJECT_FIND_COLUMNS)
    .where(_S.c.lookup == any_(bindparam("lookups", type_=postgresql.ARRAY(LargeBinary))))
    .with_for_update(read=True, key_share=True)
)


def _pg_array_cast(column: str) -> str:
    pg_dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql_type = _S.c[column].type.compile(dialect=pg_dialect)
    return f"CAST(:{column} AS {sql_type}[])"


# The rows this insert writes come back; a conflict (another process inserted the
# subject first) writes and returns nothing for that subject.
_PG_INSERT_SUBJECTS = text(
    f"INSERT INTO {_S.name} ({', '.join(_SUBJECT_COLUMNS)}) "  # noqa: S608 - names from the schema
    f"SELECT * FROM unnest({', '.join(_pg_array_cast(c) for c in _SUBJECT_COLUMNS)}) "
    "ON CONFLICT (kind, lookup) DO NOTHING RETURNING id, kind, lookup"
)

#: Roles the vault itself names, logged even when a policy leaves them out (as are
#: the roles the policy's [workflows] table empowers).
_BUILTIN_ROLES = frozenset({"admin", "source_clerk", "subject"})

# Blind-index purposes: one derived key each, so an index for lookups cannot be
# joined with the pseudonyms an auditor sees in the exported log.
_BI_LOOKUP = "subject-lookup"
_BI_PSEUDONYM = "audit-pseudonym"
_BI_NAME = "subject-name"


class Vault:
    """An open credit vault. Create with :meth:`Vault.open`; use as a context manager."""

    catalog: Catalog
    policy: Policy
    clock: Clock
    timezone: ZoneInfo
    audit: VaultAudit
    _closed: bool
    _known_roles: frozenset[str]
    _store: Store
    _keys: KeySet
    _envelope: Envelope
    _lookup: BlindIndex
    _pseudo: BlindIndex
    _name_index: BlindIndex
    _origin: str
    _telemetry: Telemetry

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use Vault.open(url, keys=...)")

    # ------------------------------------------------------------------ open/close

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        keys: KeyProvider,
        catalog: Catalog | None = None,
        policy: Policy | None = None,
        clock: Clock | None = None,
        engine: Engine | None = None,
        durability: Durability = "strict",
        timezone: str = "Asia/Shanghai",
        origin: str | None = None,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        checkpoint_every: int | None = 1000,
        checkpoint_interval: float | None = 3600.0,
        checkpoint_publisher: CheckpointPublisher | None = None,
    ) -> Vault:
        """Open (creating or upgrading the schema if needed) a vault on SQLite or PostgreSQL.

        ``url`` is ``sqlite:///path/vault.db`` or ``postgresql+psycopg://...``; an
        embedding application may pass its own ``engine`` instead. ``keys`` is a
        :class:`~credit_vault.crypto.KeyProvider`. The default catalogue and policy
        are the Hubei-city profile of docs/rules.md; ``clock`` defaults to the system
        clock; dates are judged in ``timezone``. ``origin`` names the log in signed checkpoints.
        ``tracer_provider`` / ``meter_provider`` are OpenTelemetry providers
        (the global ones by default); spans never carry personal data.
        A signed checkpoint of the access log is made every ``checkpoint_every``
        entries or ``checkpoint_interval`` seconds (None disables either) and
        handed to ``checkpoint_publisher`` (e.g.
        :class:`~credit_vault.audit.DirectoryPublisher`) to be copied out of the database.
        """
        if not hasattr(keys, "key_set"):
            raise ConfigurationError("keys must be a KeyProvider (e.g. FileKeyProvider)")
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError("timezone must be an IANA time zone name") from None
        key_set = keys.key_set()
        store = open_store(url, engine=engine, durability=durability)
        self = object.__new__(cls)
        self._closed = False
        self._telemetry = Telemetry(tracer_provider, meter_provider)
        self._store = store
        self._keys = key_set
        self._envelope = Envelope(key_set)
        self._lookup = BlindIndex(key_set, _BI_LOOKUP)
        self._pseudo = BlindIndex(key_set, _BI_PSEUDONYM)
        self._name_index = BlindIndex(key_set, _BI_NAME)
        self.catalog = catalog or Catalog.default()
        self.policy = policy or Policy.default()
        flows = self.policy.workflows
        self._known_roles = (
            frozenset(self.policy.roles)
            | _BUILTIN_ROLES
            | {*flows.case_roles, *flows.report_roles, flows.agent_role}
        )
        self.clock = clock or SystemClock()
        self.timezone = tz
        try:
            self._origin = self._bind_meta(key_set, origin)
        except CreditVaultError:
            store.dispose()
            raise
        self.audit = VaultAudit(self, checkpoint_every, checkpoint_interval, checkpoint_publisher)
        self._lifecycle = Lifecycle(self)
        self._rotation = Rotation(self)
        self._open_workflows()
        return self

    def _bind_meta(self, key_set: KeySet, origin: str | None) -> str:
        """Remember the key set's fingerprint; refuse a database made under another key set."""
        with self._tx() as conn:
            rows = dict(conn.execute(select(_META.c.key, _META.c.value)).all())
            fp = rows.get("key_set_fingerprint")
            if fp is None:
                name = origin or f"credit-vault/{key_set.fingerprint}"
                conn.execute(
                    insert(_META),
                    [
                        {"key": "key_set_fingerprint", "value": key_set.fingerprint},
                        {"key": "origin", "value": name},
                        {"key": "format", "value": "1"},
                    ],
                )
                return name
            if fp != key_set.fingerprint:
                raise ConfigurationError(
                    "this database belongs to another key set (the first one that opened it); "
                    "open it with its own keys"
                )
            return str(rows.get("origin", f"credit-vault/{fp}"))

    @property
    def origin(self) -> str:
        """The log's origin line in signed checkpoints."""
        return self._origin

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._store.dialect

    def close(self) -> None:
        """Release the database connections (idempotent)."""
        if not self._closed:
            self._closed = True
            self._store.dispose()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Vault({self._store.dialect}, {state}, origin={self._origin!r})"

    def __reduce__(self) -> Any:
        raise TypeError("a Vault cannot be pickled; open one per process")

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One transaction (BEGIN IMMEDIATE on SQLite); database errors become StorageError."""
        if self._closed:
            raise ConfigurationError("the vault is closed")
        try:
            with self._store.serialised(), self._store.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(
                f"the database refused the operation ({type(exc).__name__}); nothing was committed"
            ) from None

    def _now(self) -> datetime:
        return utc_now(self.clock)

    def today(self) -> date:
        """Today's date in the vault's time zone, from the vault's clock."""
        return local_date(self._now(), self.timezone)

    def pseudonym(self, subject: SubjectRef) -> str:
        """The subject's pseudonym in the access log (keyed hash; never the ID number)."""
        return self._pseudo.compute(subject._key).hex()

    def _subject_lookup(self, subject: SubjectRef) -> bytes:
        return self._lookup.compute(subject._key)

    def _log_only(self, entry: AccessEntry) -> int:
        """Write one entry in its own transaction (denials, failures)."""
        try:
            with self._tx() as conn:
                return self._append(conn, entry)
        except StorageError:
            raise AuditWriteFailed() from None

    def _append(self, conn: Connection, entry: AccessEntry) -> int:
        """Append ``entry`` as the last step of the caller's transaction; return its seq."""
        try:
            self.audit._before_append(conn)
            seq = audit_repo.append(conn, entry, self._now)
            self.audit._after_append(conn, seq)
        except SQLAlchemyError:
            raise AuditWriteFailed() from None
        return seq

    def _append_many(self, conn: Connection, entries: Sequence[AccessEntry]) -> list[int]:
        """Append several entries as the last step of the caller's transaction."""
        if not entries:
            return []  # nothing to log: not even the cadence runs
        try:
            self.audit._before_append(conn)
            seqs = audit_repo.append_many(conn, entries, self._now)
            self.audit._after_append(conn, seqs[-1])
        except SQLAlchemyError:
            raise AuditWriteFailed() from None
        return seqs

    def _entry(
        self,
        actor: Actor,
        op: str,
        outcome: str,
        *,
        purpose: str = "",
        ticket: str | None = None,
        legal_basis: str = "",
        subject: str = "",
        records: Sequence[str] = (),
        categories: Iterable[str] = (),
        fields: Iterable[str] = (),
        reason: str = "",
        request_id: str = "",
    ) -> AccessEntry:
        # The caller's free text is kept in clear in the log for good (an erasure
        # does not reach it): ID numbers, card numbers and credit codes in actor
        # ids, tickets and legal bases (and ID numbers in request ids) are masked;
        # a malformed ticket or record id and a role or purpose the policy does not
        # define are not repeated. Organisations are institutions' codes and stay as given
        # (reviews and exports group by them).
        if ticket is not None and not ticket_well_formed(ticket):
            ticket = "(malformed)"
        role = actor.role if actor.role in self._known_roles else "(unknown)"
        return AccessEntry(
            op=op,
            outcome=outcome,
            actor_id=self._actor_label(actor),
            actor_role=role,
            actor_org=self._org_label(actor) or "",
            purpose=purpose if not purpose or self.policy.has_purpose(purpose) else "(unknown)",
            legal_basis=mask_identifiers(clean(legal_basis, 200)),
            ticket=mask_identifiers(clean(ticket, 64)),
            subject=subject,
            records=tuple(r if is_id(r) else "(invalid)" for r in records),
            categories=tuple(categories),
            fields=tuple(fields),
            reason=reason,
            # Strictly: trace ids are random hex, and their digit runs must stay.
            request_id=mask_identifiers(clean(request_id, 64), strict=True),
        )

    def _require_admin(self, actor: Actor, op: str, refusal: str, **entry: Any) -> None:
        """Refuse unless ``actor`` has the admin role: the refusal is logged, then raised.

        ``entry`` adds fields to the log entry (request id, subject, legal basis).
        """
        if actor.role != "admin":
            self._log_only(self._entry(actor, op, "denied", reason="role_not_admin", **entry))
            raise PermissionDenied(refusal)

    def _subject_cipher(self, srow: Any) -> FieldCipher:
        """The field cipher of a subject row (identity, name, statements)."""
        if srow.wrapped_key is None:
            raise IntegrityError
        dk = self._envelope.unwrap(srow.id, SUBJECT_KEY_VERSION, bytes(srow.wrapped_key))
        return FieldCipher(dk)

    @staticmethod
    def _check_actor(actor: object) -> Actor:
        if not isinstance(actor, Actor):
            raise PermissionDenied("an Actor is required for every call")
        return actor

    @staticmethod
    def _actor_label(actor: Actor) -> str:
        """The actor's id as the log and the workflow tables keep it: printable,
        capped, with ID numbers and the like masked (an application may use a
        citizen's ID number as the id of their portal account)."""
        return mask_identifiers(clean(actor.id))

    @staticmethod
    def _org_label(actor: Actor) -> str | None:
        """The actor's organisation as the log and the workflow tables keep it: ID and
        card numbers masked, credit codes kept (organisations are institutions, and
        reviews group by them)."""
        if actor.organisation is None:
            return None
        return mask_identifiers(clean(actor.organisation), credit_codes=False)

    def _role_label(self, actor: object) -> str:
        """The actor's role for telemetry: only a role the policy defines, else "(unknown)".

        The role is the caller's string; whatever an application put there (an ID
        number, say) must not reach an exporter.
        """
        role = getattr(actor, "role", None)
        return role if isinstance(role, str) and role in self._known_roles else "(unknown)"

    @staticmethod
    def _codes(value: object, what: str) -> list[str]:
        """A list of category codes given as a sequence of strings (a bare string is refused).

        A bare string would otherwise be read character by character.
        """
        if isinstance(value, str | bytes) or not isinstance(value, Iterable):
            raise InputError(f"{what} must be a list of category codes, not a single value")
        out = list(value)
        if not all(isinstance(c, str) for c in out):
            raise InputError(f"{what} must be a list of category codes (strings)")
        return out

    # ------------------------------------------------------------------ sources

    def register_source(
        self,
        code: str,
        *,
        name: str,
        categories: Sequence[str],
        actor: Actor | None = None,
    ) -> None:
        """Register (or update) a source and the categories it may push. Admin only; logged."""
        actor = self._check_actor(actor or SYSTEM_ACTOR)
        self._require_admin(actor, "register_source", "only the admin role registers sources")
        if not isinstance(code, str) or not code or len(code) > 64 or not code.isprintable():
            raise InvalidRecord("source code must be 1-64 printable characters")
        if not isinstance(name, str) or not name or len(name) > 200:
            raise InvalidRecord("source name must be 1-200 characters")
        cats = list(dict.fromkeys(self._codes(categories, "categories")))
        for c in cats:
            self.catalog.get(c)
        now = self._now()
        with self._tx() as conn:
            exists = conn.execute(select(_SRC.c.code).where(_SRC.c.code == code)).first()
            if exists is None:
                conn.execute(insert(_SRC).values(code=code, name=name, created_at=now))
            else:
                conn.execute(update(_SRC).where(_SRC.c.code == code).values(name=name))
            have = set(
                conn.execute(select(_SC.c.category).where(_SC.c.source_code == code)).scalars()
            )
            new = [c for c in cats if c not in have]
            if new:
                conn.execute(insert(_SC), [{"source_code": code, "category": c} for c in new])
            self._append(
                conn,
                self._entry(
                    actor,
                    "register_source",
                    "ok",
                    categories=cats,
                    reason=f"source:{clean(code, 64)}",
                ),
            )

    def sources(self) -> dict[str, tuple[str, ...]]:
        """Registered sources and the categories each may push."""
        with self._tx() as conn:
            out: dict[str, list[str]] = {
                r.code: [] for r in conn.execute(select(_SRC.c.code)).all()
            }
            for r in conn.execute(select(_SC.c.source_code, _SC.c.category)).all():
                out.setdefault(r.source_code, []).append(r.category)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    # ------------------------------------------------------------------ ingest

    def ingest(self, actor: Actor, record: RecordIn, *, request_id: str | None = None) -> str:
        """Validate, encrypt and store one record; return its id. Logged."""
        return self.ingest_many(actor, [record], request_id=request_id)[0]

    def ingest_many(
        self, actor: Actor, records: Iterable[RecordIn], *, request_id: str | None = None
    ) -> list[str]:
        """Validate, encrypt and store records in one transaction: all or nothing. One log entry.

        ``records`` is a list (or any iterable, e.g. a generator) of :class:`RecordIn`.
        """
        given: object = records
        if isinstance(given, str | bytes | Mapping | RecordIn) or not isinstance(given, Iterable):
            raise InvalidRecord("records must be a list of RecordIn")
        if not isinstance(records, Sequence):
            records = list(records)  # a generator or other one-pass iterable
        # The batch's rows form no reference cycles; see credit_vault/_gcpause.py.
        with (
            self._telemetry.span(
                "credit_vault.ingest",
                operation="ingest",
                role=self._role_label(actor),
                batch_size=len(records),
                dialect=self.dialect,
            ),
            gc_paused(),
        ):
            ids = self._ingest_many(actor, records, request_id)
        self._telemetry.count_records("ingest", len(ids))
        return ids

    def _ingest_many(
        self, actor: Actor, records: Sequence[RecordIn], request_id: str | None
    ) -> list[str]:
        actor = self._check_actor(actor)
        rid = request_id_or_new(request_id)
        recs = list(records)
        if not recs:
            raise InvalidRecord("ingest_many needs at least one record")
        for i, r in enumerate(recs):
            if not isinstance(r, RecordIn):
                raise InvalidRecord(f"record {i}: must be a RecordIn")
        # Known codes only: an unknown "category" may be a mis-mapped personal value,
        # and it is neither logged nor echoed.
        cats = {r.category for r in recs if r.category in self.catalog}
        # The actor's right to push comes first, so a refused actor is logged even
        # when its batch is also malformed.
        denial = self._ingest_denial(actor, cats)
        if denial is not None:
            reason, message = denial
            self._log_only(
                self._entry(
                    actor,
                    "ingest",
                    "denied",
                    categories=sorted(cats),
                    reason=reason,
                    request_id=rid,
                )
            )
            raise PermissionDenied(message)
        for i, r in enumerate(recs):
            if r.category not in self.catalog:
                raise UnknownCategory(f"record {i}: category is not in the catalogue")

        today = self.today()
        now = self._now()
        fixed_parts: dict[tuple[Any, ...], tuple[Category, tuple[Any, ...]]] = {}
        validated: list[tuple[RecordIn, tuple[Any, ...], dict[str, Any]]] = []
        for i, r in enumerate(recs):
            try:
                validated.append(self._validate(r, today, actor.organisation, fixed_parts))
            except CreditVaultError as exc:
                raise type(exc)(f"record {i}: {exc.message}") from None

        ids = new_ids("r", len(validated))
        encode = _fields.encode_value
        sealed = seal_new_records(
            self._envelope,
            1,
            [
                (rec_id, [(n, encode(v)) for n, v in facts.items()])
                for rec_id, (_, _, facts) in zip(ids, validated, strict=True)
            ],
        )
        # The KEK the batch was sealed under (a rotation may have happened since).
        kek_id = Envelope.kek_id_of(sealed[0][0])
        stamp = driver_values(self.dialect, _R, ("created_at",), (now,))[0]
        pack = _fields.pack
        names_text: dict[tuple[str, ...], str] = {}
        rows: list[list[Any]] = []
        subject_of: list[SubjectRef] = []
        for rec_id, (wrapped, cts), (r, fixed, facts) in zip(ids, sealed, validated, strict=True):
            names = tuple(facts)
            text = names_text.get(names)
            if text is None:
                text = names_text[names] = ",".join(names)
            # In the order of _INGEST_COLUMNS; subject_id (index 1) is filled in below.
            rows.append(
                [
                    rec_id,
                    None,
                    *fixed,
                    kek_id,
                    wrapped,
                    pack(zip(names, cts, strict=True)),
                    text,
                    stamp,
                    stamp,
                ]
            )
            subject_of.append(r.subject)
        field_names = {n for names in names_text for n in names}

        with self._tx() as conn:
            sids = self._ensure_subjects(conn, subject_of, now)
            for row, sid in zip(rows, sids, strict=True):
                row[1] = sid
            insert_rows(conn, _R, _INGEST_COLUMNS, rows, converted=True)
            one_subject = len(set(sids)) == 1
            self._append(
                conn,
                self._entry(
                    actor,
                    "ingest",
                    "ok",
                    legal_basis=";".join(sorted({r.legal_basis for r in recs})),
                    subject=self.pseudonym(subject_of[0]) if one_subject else "",
                    records=ids,
                    categories=sorted(cats),
                    fields=sorted(field_names),
                    request_id=rid,
                ),
            )
        return ids

    def _ingest_denial(self, actor: Actor, cats: set[str]) -> tuple[str, str] | None:
        if actor.role != "source_clerk":
            return "role_not_source_clerk", "only a source clerk may push records"
        if not actor.organisation:
            return "no_organisation", "the actor must belong to a registered source"
        with self._tx() as conn:
            src = conn.execute(select(_SRC.c.code).where(_SRC.c.code == actor.organisation)).first()
            if src is None:
                return (
                    "source_not_registered",
                    "the actor's organisation is not a registered source",
                )
            allowed = set(
                conn.execute(
                    select(_SC.c.category).where(_SC.c.source_code == actor.organisation)
                ).scalars()
            )
        missing = sorted(c for c in cats if c not in allowed)
        if missing:
            shown = ", ".join(clean(c, 64) for c in missing[:5])
            return "category_not_registered", f"the source is not registered for category {shown}"
        return None

    def _validate(
        self,
        r: RecordIn,
        today: date,
        source: str | None,
        fixed_parts: dict[tuple[Any, ...], tuple[Category, tuple[Any, ...]]],
    ) -> tuple[RecordIn, tuple[Any, ...], dict[str, Any]]:
        """Check one record against its category: (record, its row's fixed columns, its facts).

        Everything but the facts and the subject's age depends only on the category,
        the subject's kind, the legal basis and the record's dates, which repeat
        within a department's batch (one decision date for many records); those
        checks run, and the columns they decide (``_FIXED_COLUMNS``, converted for
        the driver) are built, once per distinct combination in ``fixed_parts``.
        """
        key = (
            r.category,
            r.subject.kind,
            r.legal_basis,
            r.decided_on,
            r.occurred_on,
            r.conduct_ended_on,
            r.disclosure_until,
        )
        hit = fixed_parts.get(key)
        if hit is None:
            hit = fixed_parts[key] = self._fixed_part(r, today, source)
        cat, fixed = hit
        facts = cat.validate_facts(r.facts)
        if cat.min_age is not None:
            person = r.subject.parsed
            if isinstance(person, CitizenId):
                # Conduct before birth is simply under age (age_on refuses such dates).
                born = person.birth_date
                if r.occurred_on < born or person.age_on(r.occurred_on) < cat.min_age:
                    raise InvalidRecord(
                        f"category '{cat.code}' only takes subjects aged {cat.min_age} or more "
                        "at the time of the conduct"
                    )
        return r, fixed, facts

    def _fixed_part(
        self, r: RecordIn, today: date, source: str | None
    ) -> tuple[Category, tuple[Any, ...]]:
        cat = self.catalog.get(r.category)
        if r.subject.kind not in cat.subjects:
            raise InvalidRecord(f"category '{cat.code}' does not take {r.subject.kind} subjects")
        if r.legal_basis not in cat.legal_bases:
            raise InvalidRecord(
                f"legal basis is not one category '{cat.code}' accepts (no collection without "
                "legal authorisation)"
            )
        if r.decided_on > today:
            raise InvalidRecord("decided_on must not be in the future")
        if r.conduct_ended_on is not None and r.conduct_ended_on > today:
            # Retention runs from the end of the conduct (Z2): a date to come would
            # push the purge date, and the retention that blocks erasure, at will.
            raise InvalidRecord("conduct_ended_on must not be in the future")
        win = compute_window(
            cat,
            decided_on=r.decided_on,
            occurred_on=r.occurred_on,
            conduct_ended_on=r.conduct_ended_on,
            disclosure_until=r.disclosure_until,
        )
        values = (
            cat.code,
            source,
            1,
            "active",
            r.legal_basis,
            r.decided_on,
            r.occurred_on,
            r.conduct_ended_on,
            win.mode,
            win.starts_on,
            win.ends_on,
            win.repair_from,
            win.purge_on,
            False,
        )
        return cat, driver_values(self.dialect, _R, _FIXED_COLUMNS, values)

    def _ensure_subjects(
        self, conn: Connection, subjects: Sequence[SubjectRef], now: datetime
    ) -> list[str]:
        """Find or create each subject; their ids, in order. Runs inside the ingest transaction."""
        # Keyed by "kind:identifier" (SubjectRef._key): plain str hashing and equality.
        distinct: dict[str, SubjectRef] = {}
        for s in subjects:
            # The last name given in a batch wins.
            if s.name is not None or s._key not in distinct:
                distinct[s._key] = s
        # In lookup order: two batches naming the same subjects in other orders then
        # lock them (name updates, inserts) in one order and cannot deadlock.
        lookups = dict(sorted((self._subject_lookup(s), s) for s in distinct.values()))
        keys = list(lookups)
        if conn.dialect.name == "postgresql":
            # An erasure locks its subject FOR UPDATE. Without a lock here a
            # concurrent erasure could commit between this read and the insert,
            # leaving a live record on an erased subject. FOR KEY SHARE waits for
            # it and re-reads the row (its lookup is then random: no match, and a
            # fresh subject is created); an erasure that comes second waits for
            # this ingest and sees its records.
            hits = conn.execute(_PG_SUBJECTS_BY_LOOKUPS, {"lookups": keys}).all()
        else:
            hits = []
            for i in range(0, len(keys), _IN_CHUNK):
                chunk = keys[i : i + _IN_CHUNK]
                find = select(*_SUBJECT_FIND_COLUMNS).where(_S.c.lookup.in_(chunk))
                hits.extend(conn.execute(find).all())
        found: dict[bytes, Any] = {bytes(hit.lookup): hit for hit in hits}
        out: dict[str, str] = {}
        new_subjects: list[tuple[bytes, SubjectRef]] = []
        for lk, s in lookups.items():
            row: Any = found.get(lk)
            if row is not None and row.kind == s.kind:
                out[s._key] = row.id
                if s.name is not None:
                    nl = self._name_index.compute(s.name)
                    if row.name_lookup is None or bytes(row.name_lookup) != nl:
                        if row.wrapped_key is None:
                            raise InvalidRecord("the subject was erased and cannot receive records")
                        ct = self._subject_cipher(row).encrypt(
                            row.id, "name", s.name.encode("utf-8")
                        )
                        conn.execute(
                            update(_S).where(_S.c.id == row.id).values(name_ct=ct, name_lookup=nl)
                        )
            else:
                new_subjects.append((lk, s))
        if new_subjects:
            ids = new_ids("s", len(new_subjects))
            sealed = seal_new_records(
                self._envelope,
                SUBJECT_KEY_VERSION,
                [
                    (
                        sid,
                        [
                            ("identifier", s.identifier.encode("ascii")),
                            *([] if s.name is None else [("name", s.name.encode("utf-8"))]),
                        ],
                    )
                    for sid, (_, s) in zip(ids, new_subjects, strict=True)
                ],
            )
            kek_id = Envelope.kek_id_of(sealed[0][0])  # the KEK they were sealed under
            name_index = self._name_index.compute
            rows = []
            for sid, (wrapped, cts), (lk, s) in zip(ids, sealed, new_subjects, strict=True):
                # In the order of _SUBJECT_COLUMNS.
                rows.append(
                    [
                        sid,
                        s.kind,
                        lk,
                        self.pseudonym(s),
                        kek_id,
                        wrapped,
                        cts[0],
                        cts[1] if s.name is not None else None,
                        name_index(s.name) if s.name is not None else None,
                        now,
                    ]
                )
                out[s._key] = sid
            if conn.dialect.name == "postgresql":
                keys_of_rows = [s._key for _, s in new_subjects]
                out.update(self._insert_subjects_pg(conn, keys_of_rows, rows))
            else:
                insert_rows(conn, _S, _SUBJECT_COLUMNS, rows)
        return [out[s._key] for s in subjects]

    @staticmethod
    def _insert_subjects_pg(
        conn: Connection, keys: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> dict[str, str]:
        """Insert new subjects on PostgreSQL; the id each key ends up with.

        Another process may create the same subject concurrently (READ COMMITTED):
        the insert then does nothing and the row that won is used, read FOR KEY
        SHARE like the rows found before (an erasure that commits meanwhile is
        waited for). A winner erased in between matches no more (its lookup is
        random): that subject is inserted again, fresh.
        """
        out: dict[str, str] = {}
        pending = list(zip(keys, rows, strict=True))
        for _ in range(3):
            # The rows this insert wrote come back; they are this transaction's own,
            # so no lock is needed on them. Only the others (another process won)
            # are read and locked below.
            columns = {
                name: [row[i] for _, row in pending] for i, name in enumerate(_SUBJECT_COLUMNS)
            }
            won: dict[tuple[str, bytes], str] = {
                (r.kind, bytes(r.lookup)): r.id for r in conn.execute(_PG_INSERT_SUBJECTS, columns)
            }
            # kind is row[1], lookup row[2]
            lookups = [row[2] for _, row in pending if (row[1], row[2]) not in won]
            if lookups:
                for r in conn.execute(_PG_SUBJECTS_BY_LOOKUPS, {"lookups": lookups}):
                    won[(r.kind, bytes(r.lookup))] = r.id
            missing = []
            for key, row in pending:
                sid = won.get((row[1], row[2]))
                if sid is None:
                    missing.append((key, row))
                else:
                    out[key] = sid
            if not missing:
                return out
            pending = missing
        raise ConflictError(
            "a subject was created and erased concurrently, again and again; nothing was stored"
        )

    # ------------------------------------------------------------------ query

    def query(
        self,
        actor: Actor,
        *,
        purpose: str,
        subject: SubjectRef,
        ticket: str | None = None,
        categories: Sequence[str] | None = None,
        request_id: str | None = None,
    ) -> Disclosure:
        """Read a subject's records for a declared purpose.

        The policy decides first (deny by default; a denial is logged and raised);
        records outside their disclosure window are left out for disclosure
        purposes; only the fields the grant permits are decrypted; the log entry
        commits in the same transaction as the read, and nothing is returned unless
        it committed.
        """
        if not isinstance(purpose, str):
            raise UnknownPurpose("purpose must be a purpose name (a string)")
        if ticket is not None and not isinstance(ticket, str):
            raise InputError("ticket must be a string or None")
        if categories is not None:
            categories = self._codes(categories, "categories")
        with self._telemetry.span(
            "credit_vault.query",
            operation="query",
            role=self._role_label(actor),
            purpose=purpose if self.policy.has_purpose(purpose) else "(unknown)",
            dialect=self.dialect,
        ) as span:
            d = self._query(actor, purpose, subject, ticket, categories, request_id)
            span.set_attribute("credit_vault.records", len(d.records))
        self._telemetry.count_records("query", len(d.records))
        return d

    def _query(
        self,
        actor: Actor,
        purpose: str,
        subject: SubjectRef,
        ticket: str | None,
        categories: Sequence[str] | None,
        request_id: str | None,
    ) -> Disclosure:
        actor = self._check_actor(actor)
        if not isinstance(subject, SubjectRef):
            raise InvalidRecord("subject must be a SubjectRef")
        rid = request_id_or_new(request_id)
        pseudo = self.pseudonym(subject)
        is_self = actor.subject is not None and actor.subject.same_subject(subject)
        decision = self.policy.authorize(
            role=actor.role,
            purpose=purpose,
            ticket=ticket,
            is_self=is_self,
            has_consent=False,  # consent records arrive with the consent feature
        )
        requested: list[Category] = []
        if decision.allowed and categories is not None:
            requested = [self.catalog.get(c) for c in categories]
            decision = self.policy.check_categories(decision, requested)
        if decision.allowed and decision.purpose is not None and decision.purpose.kind != "records":
            decision = AccessDecision.deny(
                decision.purpose,
                "purpose_not_for_records",
                f"purpose '{purpose}' does not return records",
                PermissionDenied,
            )
        if (
            decision.allowed
            and decision.purpose is not None
            and decision.purpose.own_source
            and not actor.organisation
        ):
            decision = AccessDecision.deny(
                decision.purpose,
                "no_organisation",
                f"purpose '{purpose}' reads only the reader's own organisation's records; "
                "the actor has no organisation",
                PermissionDenied,
            )
        if not decision.allowed:
            self._log_only(
                self._entry(
                    actor,
                    "query",
                    "denied",
                    purpose=purpose if self.policy.has_purpose(purpose) else "(unknown)",
                    ticket=ticket,
                    subject=pseudo,
                    reason=decision.reason,
                    request_id=rid,
                )
            )
            decision.raise_error()
        assert decision.purpose is not None  # noqa: S101 - allowed decisions carry their purpose
        scope = decision.purpose.scope
        consent_purpose = decision.purpose.sees_consent_only
        ended_records = decision.purpose.ended_records
        own_source = actor.organisation if decision.purpose.own_source else None
        only = {c.code for c in requested} if categories is not None else None

        now = self._now()
        today = local_date(now, self.timezone)
        try:
            with self._tx() as conn:
                srow = conn.execute(
                    # On PostgreSQL the subject row is read FOR KEY SHARE: an erasure
                    # committing between this read and the records' would otherwise
                    # let the query decrypt the name of a subject already erased.
                    _SUBJECT_BY_LOOKUP_SHARED
                    if self.dialect == "postgresql"
                    else _SUBJECT_BY_LOOKUP,
                    {"lookup": self._subject_lookup(subject), "kind": subject.kind},
                ).first()
                out: list[DisclosedRecord] = []
                disclosed_fields: set[str] = set()
                subject_name: str | None = None
                rows: Sequence[Any] = []
                subject_cipher: FieldCipher | None = None
                # Per category: the highest tier granted and the fields up to it.
                granted: dict[str, tuple[Tier | None, frozenset[str]]] = {}
                if srow is not None:
                    rows = conn.execute(_RECORDS_OF_SUBJECT, {"sid": srow.id}).all()
                name_granted = is_self and decision.purpose.self_only
                for row in rows:
                    if only is not None and row.category not in only:
                        continue
                    if own_source is not None and row.source_code != own_source:
                        continue
                    if row.category not in self.catalog:
                        continue
                    cat = self.catalog.get(row.category)
                    hit = granted.get(cat.code)
                    if hit is None:
                        tier = decision.max_tier(cat)
                        fields = frozenset(cat.fields_up_to(tier) if tier is not None else ())
                        hit = granted[cat.code] = (tier, fields)
                    tier, visible = hit
                    if not visible:
                        continue
                    window = window_of(row)
                    if not is_visible(
                        scope=scope,
                        consent_purpose=consent_purpose,
                        state=row.state,
                        window=window,
                        today=today,
                        ended_records=ended_records,
                    ):
                        continue
                    if row.disputed and decision.purpose.restrict_disputed:
                        continue  # GDPR Art 18: restricted while accuracy is contested
                    stored = [n for n in row.field_names.split(",") if n]
                    show = [n for n in stored if n in visible]
                    facts = decrypt_fields(self, row, show)
                    disclosed_fields.update(show)
                    statement: str | None = None
                    if row.statement_ct is not None and srow is not None:
                        # Z2: the subject's statement travels with the record.
                        if subject_cipher is None:
                            subject_cipher = self._subject_cipher(srow)
                        statement = subject_cipher.decrypt(
                            srow.id, f"statement:{row.id}", bytes(row.statement_ct)
                        ).decode("utf-8")
                        disclosed_fields.add("statement")
                    # The subject's name is a confidential field of the subject: shown
                    # when a disclosed record's category is granted that tier.
                    name_granted = name_granted or tier == "confidential"
                    out.append(
                        # Built from our own stored, typed values: no validation pass.
                        DisclosedRecord.model_construct(
                            record_id=row.id,
                            category=cat.code,
                            category_name=cat.name,
                            polarity=cat.polarity,
                            source=row.source_code,
                            version=row.version,
                            state=row.state,
                            decided_on=row.decided_on,
                            occurred_on=row.occurred_on,
                            disclosure_starts_on=row.disclosure_starts_on,
                            disclosure_ends_on=row.disclosure_ends_on,
                            disclosable=window.open_on(today)
                            and row.state not in ("repaired", "revoked"),
                            facts=facts,
                            withheld_fields=tuple(n for n in stored if n not in facts),
                            disputed=bool(row.disputed),
                            statement=statement,
                        )
                    )
                if srow is not None and srow.name_ct is not None and name_granted:
                    if subject_cipher is None:
                        subject_cipher = self._subject_cipher(srow)
                    subject_name = subject_cipher.decrypt(
                        srow.id, "name", bytes(srow.name_ct)
                    ).decode("utf-8")
                    disclosed_fields.add("subject.name")
                seq = self._append(
                    conn,
                    self._entry(
                        actor,
                        "self_query" if purpose == "self_query" else "query",
                        "ok",
                        purpose=purpose,
                        ticket=ticket,
                        subject=pseudo,
                        records=[r.record_id for r in out],
                        categories=[r.category for r in out],
                        fields=disclosed_fields,
                        request_id=rid,
                    ),
                )
        except IntegrityError:
            self._log_only(
                self._entry(
                    actor,
                    "query",
                    "error",
                    purpose=purpose,
                    ticket=ticket,
                    subject=pseudo,
                    reason="integrity_error",
                    request_id=rid,
                )
            )
            raise
        return Disclosure.model_construct(
            purpose=purpose,
            subject_pseudonym=pseudo,
            records=tuple(out),
            access_seq=seq,
            request_id=rid,
            as_of=now,
            subject_name=subject_name,
        )

    # region lifecycle (credit_vault/_lifecycle.py; issue 5)

    _lifecycle: Lifecycle

    def record_status(
        self,
        actor: Actor,
        record_id: str,
        *,
        ticket: str | None = None,
        request_id: str | None = None,
    ) -> RecordStatus:
        """A record's lifecycle state, window dates and purge date, without decrypting facts.

        ``.state`` is one of ``active``, ``expired``, ``repaired``, ``revoked``,
        ``purged``, judged from the clock as reads judge it. Allowed for the admin
        role, the record's source (its clerks), the subject themself, and roles the
        policy grants the record's category for a records or metadata purpose, as a
        query under that grant would: with the ``ticket`` the grant asks for
        (:class:`~credit_vault.errors.TicketRequired` without it), only about a record
        the purpose could query today (a repaired or revoked record, say, is not a
        licensing review's to learn about), and only about its own organisation's
        records under an ``own_source`` purpose. Every call (and every refusal) is
        logged as ``status``. An unknown id raises
        :class:`~credit_vault.errors.RecordNotFound`; a purged record answers with
        ``state == "purged"`` (its tombstone), not an error.
        """
        return self._lifecycle.record_status(actor, record_id, ticket=ticket, request_id=request_id)

    def sweep(
        self,
        actor: Actor,
        *,
        batch_size: int = 500,
        progress: ProgressCallback | None = None,
        request_id: str | None = None,
    ) -> SweepReport:
        """Purge records past retention and mark ended windows. Admin only; logged.

        Purging crypto-shreds a record: its data keys (current and superseded
        versions) and ciphertexts are deleted and a tombstone without personal data
        stays. Works in batches of ``batch_size``, each its own transaction with one
        log entry naming its records; idempotent, resumable, and safe to run from
        several processes at once. ``progress`` is called with a
        :class:`~credit_vault.SweepProgress` after each batch. Reads never depend
        on it: windows and purge dates are judged on every read.
        """
        return self._lifecycle.sweep(
            actor, batch_size=batch_size, progress=progress, request_id=request_id
        )

    def erase_subject(
        self,
        actor: Actor,
        subject: SubjectRef,
        *,
        legal_basis: str,
        request_id: str | None = None,
    ) -> ErasureReport:
        """Crypto-shred all of a subject's records and identity, where the law allows it.

        Admin only; ``legal_basis`` names the law that allows it (e.g. PIPL Art 47).
        Refused with :class:`~credit_vault.errors.PermissionDenied`, naming the
        categories, while any record's retention is still mandatory (negative
        records before their purge date, by default). Records become tombstones;
        the subject row keeps no identifier, name, key or lookup index, so a later
        record for the same person starts a new subject. Logged as ``erase``.
        """
        return self._lifecycle.erase_subject(
            actor, subject, legal_basis=legal_basis, request_id=request_id
        )

    # endregion lifecycle

    # region key maintenance (credit_vault/_rotation.py)

    _rotation: Rotation

    def rewrap_keys(
        self,
        actor: Actor,
        *,
        batch_size: int = 500,
        progress: Callable[[RewrapProgress], None] | None = None,
        request_id: str | None = None,
    ) -> RewrapReport:
        """Re-wrap every stored data key still under an older KEK under the current one.

        The second step of a KEK rotation, after ``provider.rotate()`` (or
        ``credit-vault keys rotate``); the key file is re-read first, so a rotation
        made by another process is picked up. Each key is authenticated as it is
        unwrapped (a tampered one raises :class:`~credit_vault.errors.IntegrityError`
        naming its record or subject id, and its batch is left as it was); field
        ciphertexts are not touched. Admin only; batches of ``batch_size``, each
        its own transaction and log entry; safe to run from several processes and
        to interrupt. The report's ``remaining`` must be empty before an old KEK
        may be removed from the key file.
        """
        return self._rotation.rewrap(
            actor, batch_size=batch_size, progress=progress, request_id=request_id
        )

    def kek_usage(self, actor: Actor, *, request_id: str | None = None) -> dict[str, int]:
        """How many stored data keys each KEK wraps (records, superseded versions, subjects).

        Admin only; logged. A KEK absent from the result wraps nothing in this
        vault. Check it before removing a KEK from the key file: removing a KEK
        that still wraps keys makes their data unreadable.
        """
        return self._rotation.kek_usage(actor, request_id=request_id)

    # endregion key maintenance

    # region workflows (credit_vault/_workflows.py; issue 6)

    import typing as _typing

    if _typing.TYPE_CHECKING:
        from credit_vault._workflows import (
            Cases,
            Events,
            Objections,
            RecordsAdmin,
            Repairs,
            Workflows,
        )

    _workflows: Workflows

    def _open_workflows(self) -> None:
        """Build the workflow services (called once by :meth:`open`)."""
        from credit_vault._workflows import Workflows

        self._workflows = Workflows(self)

    @property
    def objections(self) -> Objections:
        """Objections (异议): file, decide (upheld / rejected / unresolved), withdraw, read."""
        return self._workflows.objections

    @property
    def repairs(self) -> Repairs:
        """Credit repair (信用修复): eligibility, apply, decide, withdraw, read."""
        return self._workflows.repairs

    @property
    def records(self) -> RecordsAdmin:
        """Corrections and revocations by the source; the subject's statements; history."""
        return self._workflows.records

    @property
    def cases(self) -> Cases:
        """Reconsideration and complaint cases, and the overdue report of every workflow."""
        return self._workflows.cases

    @property
    def events(self) -> Events:
        """The workflow events outbox (ids, types and states; never personal values)."""
        return self._workflows.events

    # endregion workflows
