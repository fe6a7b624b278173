"""``vault.audit``: verify, checkpoint, export and review the access log.

Cadence. Inside every write transaction, just before its entry is appended, the
vault (1) signs a checkpoint of the *committed* head when ``checkpoint_every``
entries or ``checkpoint_interval`` seconds have passed since the last one, and
publishes it; (2) appends a heartbeat entry when the last entry is older than
``heartbeat_interval``, so that every gap longer than that in the log is
explained by a heartbeat and a silent gap stands out. Both checks normally cost
no query: they run on numbers this process already knows and read the head only
when something may be due.

Exports and reviews are themselves logged (op ``export`` / ``review``) before
anything is read; refusals are logged too.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from credit_vault.audit._canonical import parse_canonical
from credit_vault.audit._entry import AccessEntry, format_ts, request_id_or_new
from credit_vault.audit._export import (
    ENTRIES_FILE,
    EXPORT_FORMATS,
    BundleWriter,
    FeedWriter,
    check_destination,
    subject_extract,
)
from credit_vault.audit._merkle import CompactRange, leaf_hash
from credit_vault.audit._note import (
    Checkpoint,
    open_note,
    parse_checkpoint,
    sign_note,
    verifier_key_line,
)
from credit_vault.audit._publish import CheckpointPublisher
from credit_vault.audit._ranges import ProofPlan
from credit_vault.audit._review import AccessReview, ReviewReport
from credit_vault.audit._verify import BUNDLE_FORMAT, BUNDLE_VERSION
from credit_vault.domain.models import Actor, SubjectRef
from credit_vault.errors import ConfigurationError, InputError, IntegrityError
from credit_vault.storage import audit_repo
from credit_vault.storage.tables import AuditCheckpoint

if TYPE_CHECKING:
    from credit_vault.vault import Vault

__all__ = ["CheckpointPublisher", "ExportResult", "VaultAudit", "VerifyReport"]

_C = cast("Table", AuditCheckpoint.__table__)
_LOG = logging.getLogger("credit_vault.audit")
_TX_KEY = "credit_vault.audit.appended_in"
_BATCH = 5000
_HASH_BATCH = 50000
_ZERO = b"\x00" * 32

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_CHECKPOINT_INTERVAL = 3600.0
DEFAULT_HEARTBEAT_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :meth:`VaultAudit.verify` found.

    ``ok`` is true only when every stored entry is canonical, numbered densely
    from 0, hashes to its stored leaf hash, and the Merkle root over all of them
    equals the head's root and every stored signed checkpoint's root.
    """

    ok: bool
    entries: int
    root: bytes
    head_size: int
    checkpoints_checked: int
    first_bad_seq: int | None = None
    problems: tuple[str, ...] = field(default=())

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :meth:`VaultAudit.export` wrote.

    ``start``/``end`` are the sequence numbers exported (``[start, end)``);
    ``tree_size``/``root``/``checkpoint`` the signed checkpoint made for the
    export (it covers the export's own log entry, ``export_seq``).
    """

    path: Path
    format: str
    entries: int
    start: int
    end: int
    tree_size: int
    root: bytes
    checkpoint: bytes
    export_seq: int


def _seconds(value: float | timedelta | None, what: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    else:
        raise ConfigurationError(f"{what} must be seconds or a timedelta")
    if delta <= timedelta(0):
        raise ConfigurationError(f"{what} must be positive")
    return delta


class VaultAudit:
    """The access log of one vault."""

    def __init__(
        self,
        vault: Vault,
        checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_interval: float | timedelta | None = DEFAULT_CHECKPOINT_INTERVAL,
        publisher: CheckpointPublisher | None = None,
        *,
        heartbeat_interval: float | timedelta | None = DEFAULT_HEARTBEAT_INTERVAL,
    ) -> None:
        try:
            if checkpoint_every is not None and (
                isinstance(checkpoint_every, bool)
                or not isinstance(checkpoint_every, int)
                or checkpoint_every < 1
            ):
                raise ConfigurationError("checkpoint_every must be a positive number of entries")
            if publisher is not None and not isinstance(publisher, CheckpointPublisher):
                raise ConfigurationError(
                    "checkpoint_publisher must have a publish(size, root, note) method"
                )
            interval = _seconds(checkpoint_interval, "checkpoint_interval")
            heartbeat = _seconds(heartbeat_interval, "heartbeat_interval")
        except ConfigurationError:
            vault.close()  # Vault.open fails: release the connections it opened
            raise
        self._vault = vault
        self._every = checkpoint_every
        self._interval = interval
        self._heartbeat = heartbeat
        self._publisher = publisher
        self._lock = threading.Lock()
        # What this process knows of the log; None until first read from the database.
        self._size: int | None = None
        self._last_entry_at: datetime | None = None
        self._ckpt_size: int | None = None
        self._ckpt_at: datetime | None = None
        self.publish_failures = 0
        """Checkpoints whose publishing failed during a write (logged, not raised)."""

    @property
    def publisher(self) -> CheckpointPublisher | None:
        """The checkpoint publisher, if any."""
        return self._publisher

    @property
    def heartbeat_interval(self) -> timedelta | None:
        """Longest silence before a heartbeat entry is appended (None: no heartbeats)."""
        return self._heartbeat

    # ------------------------------------------------------------------ append hooks

    def _before_append(self, conn: Connection) -> None:
        """Called inside every transaction just before an entry is appended."""
        tx = conn.get_transaction()
        if tx is not None and conn.info.get(_TX_KEY) is tx:
            return  # this transaction already appended: its head is not committed state
        self._cadence(conn, self._vault._now())

    def _after_append(self, conn: Connection, seq: int) -> None:
        """Called inside every transaction just after an entry is appended."""
        conn.info[_TX_KEY] = conn.get_transaction()
        with self._lock:
            if self._size is None or seq + 1 > self._size:
                self._size = seq + 1

    def _maybe_due(self, now: datetime) -> bool:
        with self._lock:
            size, ckpt_size, ckpt_at = self._size, self._ckpt_size, self._ckpt_at
            last = self._last_entry_at
        if size is None or ckpt_size is None or ckpt_at is None:
            return True
        if self._heartbeat is not None and (last is None or now - last >= self._heartbeat):
            return True
        if size > ckpt_size:
            if self._every is not None and size - ckpt_size >= self._every:
                return True
            if self._interval is not None and now - ckpt_at >= self._interval:
                return True
        return False

    def _cadence(self, conn: Connection, now: datetime, *, force: bool = False) -> int | None:
        """Checkpoint the committed head and append a heartbeat when due; return its seq."""
        if not force and not self._maybe_due(now):
            return None
        head = audit_repo.read_head(conn, for_update=True)
        latest = audit_repo.latest_checkpoint(conn)
        if latest is not None:
            ckpt_size = latest.size
            ckpt_at = latest.created_at or now
        else:
            ckpt_size = 0
            ckpt_at = audit_repo.first_ts(conn) or now
        if head.size > ckpt_size and (
            (self._every is not None and head.size - ckpt_size >= self._every)
            or (self._interval is not None and now - ckpt_at >= self._interval)
        ):
            note = self._sign(head.size, head.root)
            audit_repo.store_checkpoint(conn, head.size, head.root, note, now)
            ckpt_size, ckpt_at = head.size, now
            # The head was read under its lock before this transaction appended
            # anything, so it is committed state and safe to publish now.
            self._publish(head.size, head.root, note, strict=False)
        seq: int | None = None
        last = head.updated_at
        if (
            self._heartbeat is not None
            and head.size > 0
            and last is not None
            and now - last >= self._heartbeat
        ):
            entry = AccessEntry(
                op="heartbeat",
                outcome="ok",
                actor_id="vault",
                actor_role="system",
                reason="idle",
                extra=(("idle_since", format_ts(last)),),
            )
            seq = audit_repo.append(conn, entry, lambda: now)
            last = now
        with self._lock:
            self._size = head.size + (1 if seq is not None else 0)
            self._ckpt_size, self._ckpt_at = ckpt_size, ckpt_at
            self._last_entry_at = last if last is not None else now
        return seq

    def heartbeat(self) -> int | None:
        """Run the cadence now: checkpoint if due, heartbeat if the log was silent too long.

        For a scheduler in the embedding application (the vault also does this on
        every write). Returns the heartbeat's sequence number, or None.
        """
        with self._vault._tx() as conn:
            return self._cadence(conn, self._vault._now(), force=True)

    # ------------------------------------------------------------------ checkpoints

    def _sign(self, size: int, root: bytes) -> bytes:
        signer = self._vault._keys.audit_signer
        body = Checkpoint(origin=self._vault.origin, size=size, root=root).body()
        return sign_note(body, self._vault.origin, signer.sign, signer.public_key)

    def _publish(self, size: int, root: bytes, note: bytes, *, strict: bool) -> None:
        if self._publisher is None:
            return
        try:
            self._publisher.publish(size, root, note)
        except Exception as exc:
            if strict:
                raise
            self.publish_failures += 1
            # The type only: a message could carry a path or a server's reply.
            _LOG.warning("checkpoint publishing failed (%s)", type(exc).__name__)

    def verifier_key(self) -> str:
        """The verifier key line (``name+keyid+base64key``, the signed-note form)."""
        signer = self._vault._keys.audit_signer
        return verifier_key_line(self._vault.origin, signer.public_key)

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the current head now, store and publish it; return the note."""
        with self._vault._tx() as conn:
            head = audit_repo.read_head(conn, for_update=True)
            note = self._sign(head.size, head.root)
            now = self._vault._now()
            audit_repo.store_checkpoint(conn, head.size, head.root, note, now)
        with self._lock:
            if self._ckpt_size is None or head.size >= self._ckpt_size:
                self._ckpt_size, self._ckpt_at = head.size, now
        self._publish(head.size, head.root, note, strict=True)
        return note

    def checkpoints(self) -> list[audit_repo.StoredCheckpoint]:
        """Every stored signed checkpoint, in size order."""
        with self._vault._tx() as conn:
            return audit_repo.list_checkpoints(conn)

    def head(self) -> audit_repo.Head:
        """The log's current size and root."""
        with self._vault._tx() as conn:
            return audit_repo.read_head(conn)

    def entries(self, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        """Decoded entries in ``[start, end)`` (for tests and small reviews)."""
        with self._vault._tx() as conn:
            return [
                parse_canonical(e.entry)
                for e in audit_repo.iter_entries(conn, start=start, end=end)
            ]

    # ------------------------------------------------------------------ verify

    def verify(self) -> VerifyReport:
        """Recompute the log from its stored entries and compare with the head and checkpoints.

        Checked: every entry is canonical, numbered densely from 0, never earlier
        than the one before, hashes to its stored leaf hash, and agrees with its
        unhashed lookup columns (seq, time, actor, operation, subject pseudonym:
        the subject extract selects by the last); the recomputed tree matches the
        head's size, root and frontier; every stored checkpoint's note verifies
        under the vault's key, its signed size and root equal the recomputed tree
        at that size, and its unsigned ``size``/``root`` columns equal the note's.
        """
        signer = self._vault._keys.audit_signer
        origin = self._vault.origin
        problems: list[str] = []
        first_bad: int | None = None

        def bad(seq: int, what: str) -> None:
            nonlocal first_bad
            if first_bad is None or seq < first_bad:
                first_bad = seq
            if len(problems) < 20:
                problems.append(f"seq {seq}: {what}")

        with self._vault._tx() as conn:
            head = audit_repo.read_head(conn)
            stored = [
                (int(r.size), bytes(r.root), bytes(r.note))
                for r in conn.execute(select(_C.c.size, _C.c.root, _C.c.note)).all()
            ]
            # Only what the signed note says counts; the size and root columns are
            # a copy that must agree with it.
            signed: list[tuple[int, int, bytes]] = []  # (column size, signed size, signed root)
            for csize, croot, note in sorted(stored):
                try:
                    cp = parse_checkpoint(open_note(note, (origin, signer.public_key)))
                except (IntegrityError, ValueError):
                    bad(csize, "checkpoint signature does not verify")
                    continue
                if cp.origin != origin:
                    bad(csize, f"checkpoint at size {csize} names another log")
                    continue
                if cp.size != csize or cp.root != croot:
                    bad(
                        min(cp.size, csize),
                        f"checkpoint at size {csize}: the size/root columns differ from "
                        "the signed note",
                    )
                signed.append((csize, cp.size, cp.root))
            wanted = {size for _c, size, _r in signed}
            cr = CompactRange()
            expected = 0
            last_ts = ""
            roots_at: dict[int, bytes] = {}
            if 0 in wanted:
                roots_at[0] = cr.root()
            for e in audit_repo.iter_rows(conn):
                if e.seq != expected:
                    bad(expected, "missing entry (sequence gap)")
                    expected = e.seq
                try:
                    doc = parse_canonical(e.entry)
                except ValueError:
                    bad(e.seq, "entry is not in canonical form")
                    doc = {}
                if doc:
                    if doc.get("seq") != e.seq:
                        bad(e.seq, "entry's own sequence number differs from its position")
                    self._check_columns(e, doc, bad)
                ts = doc.get("ts")
                if isinstance(ts, str):
                    if ts < last_ts:
                        bad(e.seq, "time goes backwards")
                    last_ts = ts
                lh = leaf_hash(e.entry)
                if lh != e.leaf_hash:
                    bad(e.seq, "entry bytes do not match the stored leaf hash")
                cr.append(lh)
                expected += 1
                if cr.size in wanted:
                    roots_at[cr.size] = cr.root()
        size = cr.size
        root = cr.root()
        if size != head.size:
            bad(min(size, head.size), f"log holds {size} entries but its head says {head.size}")
        else:
            if root != head.root:
                bad(max(size - 1, 0), "Merkle root differs from the head's root")
            if cr.to_bytes() != head.frontier:
                # The next append extends the stored frontier, not the entries: a
                # wrong frontier would be signed into the next checkpoint's root.
                bad(max(size - 1, 0), "the head's frontier differs from the recomputed tree")
        checked = 0
        for csize, ssize, sroot in signed:
            checked += 1
            have = roots_at.get(ssize)
            if have is None:
                bad(min(ssize, size), f"checkpoint at size {csize} is beyond the log's end")
            elif have != sroot:
                bad(
                    max(ssize - 1, 0),
                    f"checkpoint at size {csize} does not match the recomputed root",
                )
        return VerifyReport(
            ok=not problems,
            entries=size,
            root=root,
            head_size=head.size,
            checkpoints_checked=checked,
            first_bad_seq=first_bad,
            problems=tuple(problems),
        )

    @staticmethod
    def _check_columns(
        row: audit_repo.StoredRow, doc: dict[str, Any], bad: Callable[[int, str], None]
    ) -> None:
        """The unhashed lookup columns of a row must say what its hashed entry says."""
        differ: list[str] = []
        ts = doc.get("ts")
        if row.ts is None or not isinstance(ts, str) or format_ts(row.ts) != ts:
            differ.append("ts")
        actor = doc.get("actor")
        if not isinstance(actor, str) or row.actor_id != actor[:128]:
            differ.append("actor_id")
        if row.op != doc.get("op"):
            differ.append("op")
        subject = doc.get("subject")
        if not isinstance(subject, str) or row.subject_pseudonym != (subject or None):
            differ.append("subject_pseudonym")
        if differ:
            bad(row.seq, f"column(s) {', '.join(differ)} differ from the hashed entry")

    # ------------------------------------------------------------------ export

    def _bound(self, value: datetime | date | None, *, end: bool) -> datetime | None:
        """A time bound in UTC; a date means its local midnight (``until``: the next one)."""
        if value is None:
            return None
        if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
            raise InputError("since/until must be timezone-aware datetimes or dates")
        try:
            if isinstance(value, datetime):
                return value.astimezone(UTC)
            if isinstance(value, date):
                day = value + timedelta(days=1) if end else value
                return datetime.combine(day, time(0), tzinfo=self._vault.timezone).astimezone(UTC)
        except (OverflowError, ValueError):
            # date.max + 1 day, or a bound that leaves the datetime range in UTC.
            raise InputError("since/until is outside the range of dates the log can hold") from None
        raise InputError("since/until must be datetimes or dates")

    def _authorize(
        self,
        actor: Actor,
        op: str,
        *,
        subject: SubjectRef | None,
        pseudonym: str,
        extra: tuple[tuple[str, str], ...],
        request_id: str,
    ) -> str:
        """Decide an export or review; log a refusal and raise it. Returns the purpose used."""
        vault = self._vault
        is_self = (
            subject is not None
            and actor.subject is not None
            and actor.subject.same_subject(subject)
        )
        purpose = "self_query" if is_self and actor.role == "subject" else "audit"
        decision = vault.policy.authorize(
            role=actor.role, purpose=purpose, ticket=None, is_self=is_self, has_consent=False
        )
        if not decision.allowed:
            entry = vault._entry(
                actor,
                op,
                "denied",
                purpose=purpose if vault.policy.has_purpose(purpose) else "(unknown)",
                subject=pseudonym,
                reason=decision.reason,
                request_id=request_id,
            )
            vault._log_only(replace(entry, extra=extra))
            decision.raise_error()
        return purpose

    def _load_previous(self, previous: bytes | str | os.PathLike[str] | None) -> int | None:
        if previous is None:
            return None
        if isinstance(previous, bytes):
            note = previous
        elif isinstance(previous, str | os.PathLike):
            try:
                note = Path(previous).read_bytes()
            except OSError as exc:
                raise InputError(
                    f"the previous checkpoint cannot be read: {exc.strerror}"
                ) from None
        else:
            raise InputError("previous must be a checkpoint's bytes or the path of its file")
        signer = self._vault._keys.audit_signer
        try:
            body = open_note(note, (self._vault.origin, signer.public_key))
        except IntegrityError:
            raise IntegrityError("the previous checkpoint was not signed by this vault") from None
        return parse_checkpoint(body).size

    def export(
        self,
        actor: Actor,
        dest: str | os.PathLike[str],
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        format: str = "bundle",  # noqa: A002 - the documented keyword
        subject: SubjectRef | None = None,
        previous: bytes | str | os.PathLike[str] | None = None,
        request_id: str | None = None,
    ) -> ExportResult:
        """Export the log (entries with times in ``[since, until)``) to ``dest``.

        ``format``: ``bundle`` (a directory, or a ``.zip`` when ``dest`` ends in
        .zip; verify it with :func:`credit_vault.audit.verify_bundle`),
        ``subject`` (one subject's entries with inclusion proofs, a JSON file;
        ``subject=`` required; the actor may be an auditor or the subject
        themself), or the SIEM feeds ``csv``, ``ocsf``, ``cef`` (files). The
        actor needs the ``audit`` purpose (``self_query`` for a subject's own
        extract). The export is logged first, then a checkpoint covering that
        entry is signed and put in the export. ``previous`` (a signed checkpoint
        the auditor holds) adds a proof linking it to the bundle. A date
        ``until`` includes that whole day.
        """
        vault = self._vault
        actor = vault._check_actor(actor)
        if format not in EXPORT_FORMATS:
            raise InputError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        if format == "subject":
            if not isinstance(subject, SubjectRef):
                raise InputError("a subject export needs subject=SubjectRef")
        elif subject is not None:
            raise InputError("subject= is only for format='subject'")
        if not isinstance(dest, str | os.PathLike):
            raise InputError("dest must be a path")
        check_destination(dest, format)
        rid = request_id_or_new(request_id)
        since_at, until_at = self._bound(since, end=False), self._bound(until, end=True)
        pseudo = vault.pseudonym(subject) if subject is not None else ""
        extra: tuple[tuple[str, str], ...] = (("format", format),)
        if since_at is not None:
            extra += (("since", format_ts(since_at)),)
        if until_at is not None:
            extra += (("until", format_ts(until_at)),)
        purpose = self._authorize(
            actor, "export", subject=subject, pseudonym=pseudo, extra=extra, request_id=rid
        )
        prev_size = self._load_previous(previous)

        entry = vault._entry(actor, "export", "ok", purpose=purpose, subject=pseudo, request_id=rid)
        now = vault._now()
        with vault._tx() as conn:
            export_seq = vault._append(conn, replace(entry, extra=extra))
            head = audit_repo.read_head(conn, for_update=True)
            note = self._sign(head.size, head.root)
            audit_repo.store_checkpoint(conn, head.size, head.root, note, now)
        self._publish(head.size, head.root, note, strict=True)
        size = head.size
        with vault._tx() as conn:
            start = (
                0 if since_at is None else audit_repo.first_seq_at_or_after(conn, since_at, size)
            )
            end = (
                size if until_at is None else audit_repo.first_seq_at_or_after(conn, until_at, size)
            )
            end = max(start, end)
            stored = audit_repo.list_checkpoints(conn, max_size=size)
        if format == "bundle":
            manifest_extra = {
                "created": format_ts(now),
                # As the log entry shows them (identifiers masked, unknown roles not
                # repeated): the manifest travels with the bundle.
                "exported_by": {
                    "actor": entry.actor_id,
                    "role": entry.actor_role,
                    "export_seq": export_seq,
                },
                "since": None if since_at is None else format_ts(since_at),
                "until": None if until_at is None else format_ts(until_at),
            }
            path, count = self._export_bundle(
                Path(dest), start, end, size, head.root, stored, prev_size, manifest_extra
            )
        elif format == "subject":
            path, count = self._export_subject(
                Path(dest), pseudo, start, end, size, head.root, note, now
            )
        else:
            path, count = self._export_feed(Path(dest), format, start, end)
        return ExportResult(
            path=path,
            format=format,
            entries=count,
            start=start,
            end=end,
            tree_size=size,
            root=head.root,
            checkpoint=note,
            export_seq=export_seq,
        )

    def _entry_batches(self, start: int, end: int) -> Iterator[list[audit_repo.StoredEntry]]:
        # Short transactions per batch: entries below the head never change, and
        # SQLite writers are not held up for the length of a large export.
        pos = start
        while pos < end:
            with self._vault._tx() as conn:
                batch = audit_repo.entries_between(conn, pos, end, _BATCH)
            if not batch:
                return
            yield batch
            pos = batch[-1].seq + 1

    def _hash_batches(self, start: int, end: int) -> Iterator[list[tuple[int, bytes]]]:
        pos = start
        while pos < end:
            with self._vault._tx() as conn:
                batch = audit_repo.leaf_hashes_between(conn, pos, end, _HASH_BATCH)
            if not batch:
                return
            yield batch
            pos = batch[-1][0] + 1

    @staticmethod
    def _feed(plan: ProofPlan, seq: int, lh: bytes) -> None:
        # A missing row (a damaged log) keeps its place with a placeholder, so the
        # proofs stay well-formed and the verifier reports the gap.
        while plan.fed < seq:
            plan.feed(_ZERO)
        if plan.fed == seq and seq < plan.size:
            plan.feed(lh)

    def _feed_hashes(self, plan: ProofPlan, start: int, end: int) -> None:
        for batch in self._hash_batches(start, end):
            for seq, lh in batch:
                self._feed(plan, seq, lh)

    def _export_bundle(
        self,
        dest: Path,
        start: int,
        end: int,
        size: int,
        root: bytes,
        stored: list[audit_repo.StoredCheckpoint],
        prev_size: int | None,
        manifest_extra: dict[str, Any],
    ) -> tuple[Path, int]:
        sizes = sorted({c.size for c in stored})
        plan = ProofPlan(size)
        links: list[tuple[int, int]] = list(itertools.pairwise(sizes))
        if end not in sizes:
            links.append((end, min(s for s in sizes if s > end)))
        if (
            prev_size is not None
            and prev_size <= size
            and prev_size not in sizes
            and not start <= prev_size <= end
        ):
            links.append((prev_size, min(s for s in sizes if s > prev_size)))
        for old, new in links:
            plan.want_consistency(old, new)
        plan.want_frontier(start)
        # The entries just outside [start, end) and the export's own entry (the
        # newest checkpoint's last leaf), with inclusion proofs: they let the
        # verifier bind the range to the time range the signed export entry asked
        # for, so a bundle cut short at either end fails (docs/audit.md, bounds).
        bound_seqs = sorted(
            s for s in {start - 1, end, size - 1} if 0 <= s < size and not start <= s < end
        )
        for s in bound_seqs:
            plan.want_inclusion(s)
        bound_entries: list[audit_repo.StoredEntry] = []
        if bound_seqs:
            with self._vault._tx() as conn:
                for s in bound_seqs:
                    bound_entries += audit_repo.entries_between(conn, s, s + 1, 1)
        with BundleWriter(dest) as writer:
            self._feed_hashes(plan, 0, start)
            for batch in self._entry_batches(start, end):
                writer.write_entries([e.entry for e in batch])
                for e in batch:
                    self._feed(plan, e.seq, e.leaf_hash)
            self._feed_hashes(plan, max(end, plan.fed), size)
            while plan.fed < size:
                plan.feed(_ZERO)
            cps = [{"size": c.size, "file": writer.add_checkpoint(c.size, c.note)} for c in stored]
            manifest = {
                "format": BUNDLE_FORMAT,
                "version": BUNDLE_VERSION,
                "origin": self._vault.origin,
                "range": {
                    "start": start,
                    "end": end,
                    "since": manifest_extra.pop("since"),
                    "until": manifest_extra.pop("until"),
                },
                "start_frontier": [h.hex() for h in plan.frontier(start)],
                "entries": {"file": ENTRIES_FILE, "count": end - start},
                "checkpoints": cps,
                "consistency": [
                    {
                        "old_size": old,
                        "new_size": new,
                        "proof": [h.hex() for h in plan.consistency(old, new)],
                    }
                    for old, new in links
                ],
                "bounds": [
                    {
                        "seq": e.seq,
                        "entry": e.entry.decode("utf-8"),
                        "proof": [h.hex() for h in plan.inclusion(e.seq)],
                    }
                    for e in bound_entries
                ],
                "tree": {"size": size, "root": root.hex()},
                **manifest_extra,
            }
            count = writer.count
            path = writer.finish(manifest)
        return path, count

    def _export_subject(
        self,
        dest: Path,
        pseudo: str,
        start: int,
        end: int,
        size: int,
        root: bytes,
        note: bytes,
        now: datetime,
    ) -> tuple[Path, int]:
        with self._vault._tx() as conn:
            rows = audit_repo.subject_entries(conn, pseudo, start, end)
        plan = ProofPlan(size)
        for r in rows:
            plan.want_inclusion(r.seq)
        self._feed_hashes(plan, 0, size)
        while plan.fed < size:
            plan.feed(_ZERO)
        doc = subject_extract(
            origin=self._vault.origin,
            subject=pseudo,
            note=note,
            tree_size=size,
            root=root,
            created=format_ts(now),
            items=[(r.seq, r.entry, leaf_hash(r.entry), plan.inclusion(r.seq)) for r in rows],
        )
        data = (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest, len(rows)

    def _export_feed(self, dest: Path, fmt: str, start: int, end: int) -> tuple[Path, int]:
        from credit_vault import __version__

        writer = FeedWriter(dest, fmt, origin=self._vault.origin, version=__version__)
        try:
            for batch in self._entry_batches(start, end):
                for e in batch:
                    writer.write(json.loads(e.entry), leaf_hash(e.entry).hex())
        except BaseException:
            writer.abort()
            raise
        return writer.finish(), writer.count

    # ------------------------------------------------------------------ review

    def review(
        self,
        actor: Actor,
        since: datetime | date,
        until: datetime | date,
        *,
        request_id: str | None = None,
    ) -> ReviewReport:
        """The access review of entries with times in ``[since, until)``.

        A date ``until`` includes that whole day.

        Needs the ``audit`` purpose; the review is logged (op ``review``) before
        anything is read. Thresholds come from the policy's ``[review]`` table.
        """
        vault = self._vault
        actor = vault._check_actor(actor)
        since_at, until_at = self._bound(since, end=False), self._bound(until, end=True)
        if since_at is None or until_at is None:
            raise InputError("a review needs since and until")
        if until_at <= since_at:
            raise InputError("until must be after since")
        rid = request_id_or_new(request_id)
        extra = (("since", format_ts(since_at)), ("until", format_ts(until_at)))
        purpose = self._authorize(
            actor, "review", subject=None, pseudonym="", extra=extra, request_id=rid
        )
        entry = vault._entry(actor, "review", "ok", purpose=purpose, request_id=rid)
        with vault._tx() as conn:
            vault._append(conn, replace(entry, extra=extra))
            size = audit_repo.read_head(conn).size
        with vault._tx() as conn:
            start = audit_repo.first_seq_at_or_after(conn, since_at, size)
            end = audit_repo.first_seq_at_or_after(conn, until_at, size)
        policy = vault.policy

        def ticket_expected(role: str, purpose: str) -> bool:
            grants = policy.grants_for(role, purpose)
            return not grants or all(g.ticket for g in grants)

        review = AccessReview(
            policy.review,
            vault.timezone,
            ticket_expected,
            heartbeat_interval=self._heartbeat,
            own_source_purposes=[p.name for p in policy.purposes if p.own_source],
        )
        for batch in self._entry_batches(start, max(start, end)):
            for e in batch:
                review.add(json.loads(e.entry))
        ids = review.record_ids()
        with vault._tx() as conn:
            sources = audit_repo.record_sources(conn, ids)
        return review.finish(sources, since=format_ts(since_at), until=format_ts(until_at))
