"""Access-log entries: what each one records and its canonical bytes.

An entry is a flat JSON object of strings, integers and lists of strings, encoded
in RFC 8785 canonical form (see docs/audit.md). It names who acted, when, why,
on whom (a pseudonym, never an ID number or name), which records and which field
*names* were disclosed, and the outcome. It never holds a field's value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from credit_vault.audit._canonical import canonical_json
from credit_vault.errors import InputError

__all__ = [
    "ENTRY_FORMAT",
    "OPERATIONS",
    "OUTCOMES",
    "AccessEntry",
    "format_ts",
    "request_id_or_new",
]

ENTRY_FORMAT = 1

# Operations and their OCSF activity (1 Read, 2 Update, 5 Write, 7 Delete, 99 Other).
OPERATIONS: Mapping[str, int] = {
    "query": 1,
    "self_query": 1,
    "export": 1,
    "status": 1,
    "ingest": 5,
    "register_source": 5,
    "correct": 2,
    "revoke": 2,
    "transition": 2,
    "objection": 2,
    "repair": 2,
    "case": 2,
    "statement": 2,
    "workflow_read": 1,
    "expire": 2,
    "purge": 7,
    "erase": 7,
    "checkpoint": 99,
    "heartbeat": 99,
    "maintenance": 99,
    "sweep": 99,
    "review": 1,
}
OUTCOMES = frozenset({"ok", "denied", "error"})


def format_ts(ts: datetime) -> str:
    """UTC time with microseconds, e.g. ``2025-03-01T08:00:00.000000Z`` (sorts as text)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access-log entry before it gets its sequence number and time."""

    op: str
    outcome: str
    actor_id: str
    actor_role: str
    actor_org: str = ""
    purpose: str = ""
    legal_basis: str = ""
    ticket: str = ""
    subject: str = ""
    records: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    reason: str = ""
    request_id: str = ""
    extra: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.op not in OPERATIONS:
            raise ValueError("unknown access-log operation")
        if self.outcome not in OUTCOMES:
            raise ValueError("outcome must be ok, denied or error")

    def to_dict(self, seq: int, ts: datetime) -> dict[str, object]:
        """The entry as the JSON object that gets canonicalised."""
        doc: dict[str, object] = {
            "v": ENTRY_FORMAT,
            "seq": seq,
            "ts": format_ts(ts),
            "op": self.op,
            "outcome": self.outcome,
            "actor": self.actor_id,
            "role": self.actor_role,
            "org": self.actor_org,
            "purpose": self.purpose,
            "basis": self.legal_basis,
            "ticket": self.ticket,
            "subject": self.subject,
            "records": list(self.records),
            "categories": sorted(set(self.categories)),
            "fields": sorted(set(self.fields)),
            "reason": self.reason,
            "request": self.request_id,
        }
        for k, v in self.extra:
            doc[f"x_{k}"] = v
        return doc

    def canonical(self, seq: int, ts: datetime) -> bytes:
        """RFC 8785 canonical bytes of the entry."""
        return canonical_json(self.to_dict(seq, ts))


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def request_id_or_new(request_id: str | None) -> str:
    """The caller's request id, checked, or a new random one when it is None or empty.

    It is kept in the log, so it must be a plain token: 1-64 of
    ``A-Z a-z 0-9 . _ : -``, as trace and request ids are; anything else raises
    :class:`InputError` before the call does anything. (An ID number inside one is
    masked in the log entry, as in other free text.)
    """
    if request_id is None or request_id == "":
        return uuid.uuid4().hex
    if not isinstance(request_id, str) or _REQUEST_ID.fullmatch(request_id) is None:
        raise InputError(
            "request_id must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'"
        )
    return request_id


def clean(value: str | None, limit: int = 128) -> str:
    """A free-text identifier fit for the log: printable, capped."""
    if value is None:
        return ""
    return "".join(ch for ch in str(value) if ch.isprintable())[:limit]


def many(values: Iterable[str]) -> tuple[str, ...]:
    """A tuple of strings (helper for building entries)."""
    return tuple(values)
