"""KEK rotation, the vault's half: re-wrap every stored data key under the current KEK.

``provider.rotate()`` (or ``credit-vault keys rotate``) adds a KEK and makes it
current; new data keys are wrapped under it from then on, and older KEKs stay in
the key set to unwrap what they wrapped. :meth:`Vault.rewrap_keys` then walks the
three tables that hold wrapped data keys (records, superseded record versions,
subjects), unwraps each key still under an older KEK (authenticating it) and
stores it wrapped under the current one. Only when :meth:`Vault.kek_usage` shows
no key left under an old KEK may that KEK be removed from the key file (by hand;
the library never deletes a KEK). Field ciphertexts are not touched: the data
keys themselves do not change.

Batches are transactions of their own, each with one access-log entry
(``maintenance``, reason ``rewrap``); the walk is keyset-paginated, so it always
ends, and on PostgreSQL rows another process holds are skipped (``SKIP LOCKED``),
so several processes may run it at once; a later run picks up what was skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.engine import Connection

from credit_vault._lifecycle import check_batch
from credit_vault.audit._entry import request_id_or_new
from credit_vault.crypto import Envelope
from credit_vault.domain.models import Actor
from credit_vault.errors import IntegrityError, KeyNotFound
from credit_vault.storage.tables import SUBJECT_KEY_VERSION, Record, RecordVersion, Subject

if TYPE_CHECKING:
    from credit_vault.vault import Vault

__all__ = ["RewrapProgress", "RewrapReport", "Rotation"]

_R = cast("Table", Record.__table__)
_RV = cast("Table", RecordVersion.__table__)
_S = cast("Table", Subject.__table__)


@dataclass(frozen=True, slots=True)
class RewrapProgress:
    """Progress of :meth:`Vault.rewrap_keys`, passed to its callback after each batch.

    ``total`` is the number of keys found under older KEKs in ``table`` when its
    walk started (other processes may take some of them).
    """

    table: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class RewrapReport:
    """What one :meth:`Vault.rewrap_keys` run did.

    ``rewrapped`` counts keys this process re-wrapped, per table; ``remaining``
    counts keys still under each older KEK when the run ended (empty when every
    stored key is under ``kek_id``; rows another process held are counted here
    until a later run takes them).
    """

    kek_id: str
    rewrapped: dict[str, int]
    batches: int
    entries: tuple[int, ...]
    remaining: dict[str, int]
    access_seq: int

    @property
    def total(self) -> int:
        """Keys re-wrapped by this run, over all tables."""
        return sum(self.rewrapped.values())


@dataclass(frozen=True, slots=True)
class _Keyed:
    """One table holding wrapped data keys, and what each key is bound to."""

    table: Table
    pk: tuple[str, ...]
    owner: str  # the column holding the record or subject id the key is bound to
    version: str | None  # the column holding the key version; None: SUBJECT_KEY_VERSION
    # Record ids go into the log entry (they are not personal data); subject ids do not.
    log_owners: bool

    @property
    def name(self) -> str:
        return self.table.name


_TABLES = (
    _Keyed(_R, ("id",), "id", "version", log_owners=True),
    _Keyed(_RV, ("record_id", "version"), "record_id", "version", log_owners=True),
    _Keyed(_S, ("id",), "id", None, log_owners=False),
)


def _stored_keys(table: Table) -> ColumnElement[bool]:
    return table.c.wrapped_key.is_not(None)


def _not_current(table: Table, current: str) -> ColumnElement[bool]:
    return or_(table.c.kek_id.is_(None), table.c.kek_id != current)


def _after(spec: _Keyed, last: Sequence[Any] | None) -> ColumnElement[bool] | None:
    """Keyset pagination: rows whose primary key sorts after ``last``."""
    if last is None:
        return None
    cols = [spec.table.c[n] for n in spec.pk]
    if len(cols) == 1:
        return cast("ColumnElement[bool]", cols[0] > last[0])
    # (a, b) > (x, y), spelled out for every engine.
    return or_(cols[0] > last[0], and_(cols[0] == last[0], cols[1] > last[1]))


class Rotation:
    """The vault's KEK-rotation maintenance (see :meth:`Vault.rewrap_keys`)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def _admin(self, actor: Actor, reason: str, rid: str) -> Actor:
        v = self._vault
        actor = v._check_actor(actor)
        v._require_admin(
            actor,
            "maintenance",
            f"only the admin role runs key maintenance ({reason})",
            request_id=rid,
        )
        return actor

    def _usage(self, conn: Connection) -> dict[str, int]:
        out: dict[str, int] = {}
        for spec in _TABLES:
            t = spec.table
            stmt = select(t.c.kek_id, func.count()).where(_stored_keys(t)).group_by(t.c.kek_id)
            for kek_id, n in conn.execute(stmt).all():
                key = kek_id or "(unknown)"
                out[key] = out.get(key, 0) + int(n)
        return dict(sorted(out.items()))

    def kek_usage(self, actor: Actor, *, request_id: str | None = None) -> dict[str, int]:
        """Stored wrapped data keys per KEK id (see :meth:`Vault.kek_usage`)."""
        v = self._vault
        rid = request_id_or_new(request_id)
        actor = self._admin(actor, "kek_usage", rid)
        with v._tx() as conn:
            usage = self._usage(conn)
            entry = v._entry(actor, "maintenance", "ok", reason="kek_usage", request_id=rid)
            v._append(conn, _with_extra(entry, {f"kek:{k}": str(n) for k, n in usage.items()}))
        return usage

    def rewrap(
        self,
        actor: Actor,
        *,
        batch_size: int = 500,
        progress: Callable[[RewrapProgress], None] | None = None,
        request_id: str | None = None,
    ) -> RewrapReport:
        """Re-wrap every stored data key under the current KEK (see :meth:`Vault.rewrap_keys`)."""
        v = self._vault
        check_batch(batch_size, progress, "RewrapProgress")
        rid = request_id_or_new(request_id)
        actor = self._admin(actor, "rewrap", rid)
        v._keys._refresh()  # another process may have rotated the key file
        current = v._keys.current_kek_id
        entries: list[int] = []
        done: dict[str, int] = {}
        batches = 0
        for spec in _TABLES:
            n, b = self._walk(spec, actor, current, batch_size, progress, rid, entries)
            done[spec.name] = n
            batches += b
        # Another process may have rotated again during the run: what remains is
        # judged against the KEK current now, which the report then names.
        current = v._keys.current_kek_id
        with v._tx() as conn:
            usage = self._usage(conn)
            remaining = {k: n for k, n in usage.items() if k != current}
            summary = _with_extra(
                v._entry(actor, "maintenance", "ok", reason="rewrap", request_id=rid),
                {
                    "kek": current,
                    "rewrapped": str(sum(done.values())),
                    "remaining": str(sum(remaining.values())),
                },
            )
            seq = v._append(conn, summary)
        if v.dialect == "sqlite" and any(done.values()):
            # The WAL still holds the pages as they were, old wrapped keys included,
            # until SQLite reuses them: copy it into the file and truncate it, as the
            # sweep does after a purge.
            v._store.checkpoint_wal()
        return RewrapReport(
            kek_id=current,
            rewrapped=done,
            batches=batches,
            entries=tuple(entries),
            remaining=remaining,
            access_seq=seq,
        )

    def _walk(
        self,
        spec: _Keyed,
        actor: Actor,
        current: str,
        batch_size: int,
        progress: Callable[[RewrapProgress], None] | None,
        rid: str,
        entries: list[int],
    ) -> tuple[int, int]:
        v = self._vault
        t = spec.table
        due = and_(_stored_keys(t), _not_current(t, current))
        total = 0
        if progress is not None:
            with v._tx() as conn:
                total = conn.execute(select(func.count()).select_from(t).where(due)).scalar_one()
        pk_cols = [t.c[n] for n in spec.pk]
        cols = [*pk_cols, t.c.kek_id, t.c.wrapped_key]
        if spec.version is not None and spec.version not in spec.pk:
            cols.append(t.c[spec.version])
        # Conditional on the blob read: a row a correction, purge or erasure changed
        # in the meantime is left as that writer left it (counted in ``remaining``
        # if still under an older KEK; a later run takes it).
        set_new = (
            update(t)
            .where(
                *(c == bindparam(f"b_{c.name}") for c in pk_cols),
                t.c.wrapped_key == bindparam("b_old"),
            )
            .values(wrapped_key=bindparam("b_new"), kek_id=bindparam("b_kek"))
        )
        done = batches = 0
        last: Sequence[Any] | None = None
        while True:
            stmt = select(*cols).where(due).order_by(*pk_cols).limit(batch_size)
            after = _after(spec, last)
            if after is not None:
                stmt = stmt.where(after)
            if v.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            try:
                with v._tx() as conn:
                    rows = conn.execute(stmt).all()
                    if not rows:
                        break
                    params = [self._rewrapped(spec, r) for r in rows]
                    changed = int(conn.execute(set_new, params).rowcount)
                    entries.append(
                        v._append(
                            conn,
                            _with_extra(
                                v._entry(
                                    actor,
                                    "maintenance",
                                    "ok",
                                    reason="rewrap",
                                    records=sorted(
                                        {str(getattr(r, spec.owner)) for r in rows}
                                        if spec.log_owners
                                        else ()
                                    ),
                                    request_id=rid,
                                ),
                                {"table": t.name, "rewrapped": str(changed), "kek": current},
                            ),
                        )
                    )
            except (IntegrityError, KeyNotFound) as exc:
                v._log_only(
                    _with_extra(
                        v._entry(
                            actor,
                            "maintenance",
                            "error",
                            reason="integrity_error"
                            if isinstance(exc, IntegrityError)
                            else "kek_not_found",
                            request_id=rid,
                        ),
                        {"table": t.name},
                    )
                )
                raise type(exc)(
                    f"{exc.message} (table {t.name}; this batch was left as it was)"
                ) from None
            last = tuple(getattr(rows[-1], n) for n in spec.pk)
            done += changed
            batches += 1
            if progress is not None:
                progress(RewrapProgress(t.name, done, max(total, done)))
        return done, batches

    def _rewrapped(self, spec: _Keyed, row: Any) -> dict[str, Any]:
        """Update parameters for one row: its key re-wrapped under the current KEK."""
        owner = str(getattr(row, spec.owner))
        version = SUBJECT_KEY_VERSION if spec.version is None else int(getattr(row, spec.version))
        try:
            new = self._vault._envelope.rewrap(owner, version, bytes(row.wrapped_key))
        except IntegrityError:
            raise IntegrityError(f"the wrapped data key of {owner} failed authentication") from None
        params = {f"b_{n}": getattr(row, n) for n in spec.pk}
        params["b_old"] = row.wrapped_key
        params["b_new"] = new
        # The column names the KEK inside the blob (a rotation during the run may
        # have made a newer one current).
        params["b_kek"] = Envelope.kek_id_of(new)
        return params


def _with_extra(entry: Any, extra: dict[str, str]) -> Any:
    return dataclasses.replace(entry, extra=tuple(extra.items()))
