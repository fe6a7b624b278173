"""``vault.audit``: verify the access log, read its head, sign checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from credit_vault.audit._canonical import parse_canonical
from credit_vault.audit._merkle import CompactRange, leaf_hash
from credit_vault.audit._note import Checkpoint, open_note, sign_note, verifier_key_line
from credit_vault.errors import IntegrityError
from credit_vault.storage import audit_repo
from credit_vault.storage.tables import AuditCheckpoint

if TYPE_CHECKING:
    from credit_vault.vault import Vault

__all__ = ["VaultAudit", "VerifyReport"]

_C = cast("Table", AuditCheckpoint.__table__)


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


class VaultAudit:
    """The access log of one vault."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault

    def _before_append(self, conn: Connection) -> None:
        """Called inside every transaction just before an entry is appended (heartbeats)."""

    def _after_append(self, conn: Connection, seq: int) -> None:
        """Called inside every transaction just after an entry is appended (checkpoints)."""

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

    def verifier_key(self) -> str:
        """The verifier key line (``name+keyid+base64key``, the signed-note form)."""
        signer = self._vault._keys.audit_signer
        return verifier_key_line(self._vault.origin, signer.public_key)

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the current head now; return the signed-note text."""
        signer = self._vault._keys.audit_signer
        with self._vault._tx() as conn:
            head = audit_repo.read_head(conn, for_update=True)
            body = Checkpoint(origin=self._vault.origin, size=head.size, root=head.root).body()
            note = sign_note(body, self._vault.origin, signer.sign, signer.public_key)
            audit_repo.store_checkpoint(conn, head.size, head.root, note, self._vault._now())
        return note

    def verify(self) -> VerifyReport:
        """Recompute the log from its stored entries and compare with the head and checkpoints."""
        signer = self._vault._keys.audit_signer
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
            checkpoints = {
                int(r.size): (bytes(r.root), bytes(r.note))
                for r in conn.execute(select(_C.c.size, _C.c.root, _C.c.note)).all()
            }
            cr = CompactRange()
            expected = 0
            last_ts = ""
            checked = 0
            roots_at: dict[int, bytes] = {}
            if 0 in checkpoints:
                roots_at[0] = cr.root()
            for e in audit_repo.iter_entries(conn):
                if e.seq != expected:
                    bad(expected, "missing entry (sequence gap)")
                    expected = e.seq
                try:
                    doc = parse_canonical(e.entry)
                except ValueError:
                    bad(e.seq, "entry is not in canonical form")
                    doc = {}
                if doc and doc.get("seq") != e.seq:
                    bad(e.seq, "entry's own sequence number differs from its position")
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
                if cr.size in checkpoints:
                    roots_at[cr.size] = cr.root()
        size = cr.size
        root = cr.root()
        if size != head.size:
            bad(min(size, head.size), f"log holds {size} entries but its head says {head.size}")
        elif root != head.root:
            bad(max(size - 1, 0), "Merkle root differs from the head's root")
        for csize, (croot, note) in sorted(checkpoints.items()):
            try:
                open_note(note, (self._vault.origin, signer.public_key))
            except (IntegrityError, ValueError):
                bad(csize, "checkpoint signature does not verify")
                continue
            checked += 1
            have = roots_at.get(csize)
            if have is None:
                bad(min(csize, size), f"checkpoint at size {csize} is beyond the log's end")
            elif have != croot:
                bad(csize - 1, f"checkpoint at size {csize} does not match the recomputed root")
        return VerifyReport(
            ok=not problems,
            entries=size,
            root=root,
            head_size=head.size,
            checkpoints_checked=checked,
            first_bad_seq=first_bad,
            problems=tuple(problems),
        )
