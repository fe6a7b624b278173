"""Access review (查询登记与审查): flags in the access log that a person should look at.

Pure logic over decoded log entries; the vault feeds it (and looks up which
source supplied each record, from the records table, without decrypting
anything). Findings name actors, roles, organisations, days and sequence numbers
-- never a subject or a field value.

Flags:

* ``subjects_per_day`` -- an actor read more distinct subjects in one local day
  than the policy's ``max_subjects_per_day``;
* ``off_hours`` -- reads outside the working hours and days of the policy;
* ``denial_burst`` -- ``denial_burst`` or more denied attempts by one actor
  within ``denial_window_minutes``;
* ``ticket_missing`` -- a read (op ``query``) for a purpose without a ticket where
  every grant of the policy for that role and purpose needs one (or none exists);
* ``same_org_read`` -- an actor read records that their own organisation supplied;
* ``silent_gap`` -- two consecutive entries further apart than the vault's
  heartbeat interval without a heartbeat entry between them (the vault appends
  one before any entry that follows such a silence, so a silent gap hints at
  removed entries).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

__all__ = [
    "FINDING_KINDS",
    "AccessReview",
    "Finding",
    "ReviewReport",
    "ReviewThresholdsLike",
    "review_entries",
]

FINDING_KINDS = (
    "subjects_per_day",
    "off_hours",
    "denial_burst",
    "ticket_missing",
    "same_org_read",
    "silent_gap",
)
"""Every kind of finding, in the order reports list them."""

# Reads of subjects' records. Only these go through the policy's ticket rule;
# workflow steps carry their case object instead of a ticket.
_READ_OPS = frozenset({"query"})
# Every read of one subject's data, for the per-actor flags (subjects a day, off
# hours): queries, workflow reads of one object (objection reasons, record histories;
# not the lists and overdue reports of a handler's queue), record statuses and a
# subject's extract. Same-organisation reads stay with queries: handlers and source
# clerks work on their own organisation's records by duty.
_SUBJECT_READ_OPS = frozenset({"query", "workflow_read", "status", "export"})
_QUEUE_READS = (".list", "workflow.overdue")
_MAX_SEQS = 20


class ReviewThresholdsLike(Protocol):
    """The thresholds the review needs (``credit_vault.domain.policy.ReviewThresholds``)."""

    @property
    def max_subjects_per_day(self) -> int:
        """Distinct subjects one actor may read per local day before it is flagged."""

    @property
    def working_start(self) -> time:
        """Start of working hours (local time)."""

    @property
    def working_end(self) -> time:
        """End of working hours (local time)."""

    @property
    def working_days(self) -> tuple[int, ...]:
        """ISO weekdays (1 = Monday) that are working days."""

    @property
    def denial_burst(self) -> int:
        """Denials within the window that make a burst."""

    @property
    def denial_window_minutes(self) -> int:
        """Length of the denial window."""


@dataclass(slots=True)
class Finding:
    """One thing a reviewer should look at."""

    kind: str
    actor: str
    role: str
    org: str
    detail: str
    first_ts: str
    last_ts: str
    count: int = 0
    day: str = ""
    seqs: list[int] = field(default_factory=list)

    def note(self, seq: int, ts: str) -> None:
        """Count one more entry."""
        self.count += 1
        self.last_ts = max(self.last_ts, ts)
        if len(self.seqs) < _MAX_SEQS:
            self.seqs.append(seq)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "kind": self.kind,
            "actor": self.actor,
            "role": self.role,
            "org": self.org,
            "day": self.day,
            "count": self.count,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "detail": self.detail,
            "seqs": list(self.seqs),
        }


@dataclass(frozen=True, slots=True)
class ReviewReport:
    """The review of log entries with times in ``[since, until)``."""

    since: str
    until: str
    first_seq: int | None
    last_seq: int | None
    entries: int
    reads: int
    denials: int
    findings: tuple[Finding, ...]
    thresholds: Mapping[str, Any]

    COLUMNS = ("flag", "actor", "role", "org", "day", "count", "detail", "sequence numbers")

    def counts(self) -> dict[str, int]:
        """Findings per kind."""
        out = dict.fromkeys(FINDING_KINDS, 0)
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def rows(self) -> list[tuple[str, ...]]:
        """One table row per finding (see :attr:`COLUMNS`)."""
        rows: list[tuple[str, ...]] = []
        for f in self.findings:
            seqs = ", ".join(str(s) for s in f.seqs[:6]) + (" ..." if len(f.seqs) > 6 else "")
            rows.append(
                (f.kind, f.actor, f.role, f.org or "-", f.day or "-", str(f.count), f.detail, seqs)
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "since": self.since,
            "until": self.until,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "entries": self.entries,
            "reads": self.reads,
            "denials": self.denials,
            "counts": self.counts(),
            "thresholds": dict(self.thresholds),
            "findings": [f.to_dict() for f in self.findings],
        }


def _ts(doc: Mapping[str, Any]) -> tuple[str, datetime] | None:
    text = doc.get("ts")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return text, when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _s(doc: Mapping[str, Any], key: str) -> str:
    value = doc.get(key, "")
    return value if isinstance(value, str) else ""


class AccessReview:
    """Feed entries in sequence order with :meth:`add`, then call :meth:`finish`.

    ``ticket_expected(role, purpose)`` says whether the policy expects a ticket
    for that use; ``heartbeat_interval`` is the vault's (None: no gap check);
    ``own_source_purposes`` are the purposes that read only the reader's own
    organisation's records by rule (their reads are never ``same_org_read``).
    """

    def __init__(
        self,
        thresholds: ReviewThresholdsLike,
        tz: tzinfo,
        ticket_expected: Callable[[str, str], bool],
        *,
        heartbeat_interval: timedelta | None = None,
        own_source_purposes: Iterable[str] = (),
    ) -> None:
        self._t = thresholds
        self._own_source = frozenset(own_source_purposes)
        self._tz = tz
        self._ticket_expected = ticket_expected
        self._window = timedelta(minutes=thresholds.denial_window_minutes)
        self.entries = 0
        self.reads = 0
        self.denials = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self._subjects: dict[tuple[str, str], set[str]] = {}
        self._subject_meta: dict[tuple[str, str], Finding] = {}
        self._off: dict[tuple[str, str], Finding] = {}
        self._bursts: list[Finding] = []
        self._denied: dict[str, deque[tuple[datetime, int, str]]] = {}
        self._active_burst: dict[str, Finding] = {}
        self._tickets: dict[tuple[str, str, str], Finding] = {}
        self._org_reads: list[tuple[int, str, str, str, str, tuple[str, ...]]] = []
        self._heartbeat = heartbeat_interval
        self._previous: tuple[int, str, datetime] | None = None
        self._gaps: list[Finding] = []

    def _working(self, local: datetime) -> bool:
        t = self._t
        if local.isoweekday() not in t.working_days:
            return False
        now = local.time()
        return t.working_start <= now < t.working_end

    def add(self, doc: Mapping[str, Any]) -> None:
        """One decoded entry."""
        seq = doc.get("seq")
        stamp = _ts(doc)
        if type(seq) is not int or stamp is None:
            return
        ts_text, when = stamp
        self.entries += 1
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = seq
        op, outcome = _s(doc, "op"), _s(doc, "outcome")
        actor, role, org = _s(doc, "actor"), _s(doc, "role"), _s(doc, "org")
        local = when.astimezone(self._tz)
        day = local.date().isoformat()
        prev = self._previous
        self._previous = (seq, ts_text, when)
        if (
            self._heartbeat is not None
            and prev is not None
            and op != "heartbeat"
            and when - prev[2] > self._heartbeat
        ):
            gap = Finding(
                "silent_gap",
                actor,
                role,
                org,
                f"{when - prev[2]} without an entry and no heartbeat before this one",
                prev[1],
                ts_text,
                day=day,
            )
            gap.count = 1
            gap.seqs = [prev[0], seq]
            self._gaps.append(gap)
        if outcome == "denied":
            self.denials += 1
            self._denial(actor, role, org, when, seq, ts_text)
        purpose, ticket = _s(doc, "purpose"), _s(doc, "ticket")
        if (
            outcome == "ok"
            and op in _READ_OPS
            and purpose
            and purpose != "(unknown)"
            and not ticket
            and self._ticket_expected(role, purpose)
        ):
            key = (actor, role, purpose)
            f = self._tickets.get(key)
            if f is None:
                f = self._tickets[key] = Finding(
                    "ticket_missing",
                    actor,
                    role,
                    org,
                    f"purpose '{purpose}' used without the ticket the policy expects",
                    ts_text,
                    ts_text,
                )
            f.note(seq, ts_text)
        subject = _s(doc, "subject")
        if op not in _SUBJECT_READ_OPS or outcome != "ok" or not subject:
            return
        if op == "workflow_read" and any(q in _s(doc, "reason") for q in _QUEUE_READS):
            return
        self.reads += 1
        key2 = (actor, day)
        seen = self._subjects.setdefault(key2, set())
        seen.add(subject)
        meta = self._subject_meta.get(key2)
        if meta is None:
            meta = self._subject_meta[key2] = Finding(
                "subjects_per_day", actor, role, org, "", ts_text, ts_text, day=day
            )
        if len(seen) > self._t.max_subjects_per_day and len(meta.seqs) < _MAX_SEQS:
            meta.seqs.append(seq)
        meta.last_ts = ts_text
        if not self._working(local):
            f = self._off.get(key2)
            if f is None:
                t = self._t
                f = self._off[key2] = Finding(
                    "off_hours",
                    actor,
                    role,
                    org,
                    f"reads outside working hours {t.working_start:%H:%M}-{t.working_end:%H:%M} "
                    f"on days {','.join(str(d) for d in t.working_days)}",
                    ts_text,
                    ts_text,
                    day=day,
                )
            f.note(seq, ts_text)
        records = doc.get("records")
        if (
            op in _READ_OPS
            and org
            and isinstance(records, list)
            and records
            and doc.get("purpose") not in self._own_source
        ):
            recs = tuple(r for r in records if isinstance(r, str))
            self._org_reads.append((seq, ts_text, actor, role, org, recs))

    def _denial(self, actor: str, role: str, org: str, when: datetime, seq: int, ts: str) -> None:
        window = self._denied.setdefault(actor, deque())
        while window and when - window[0][0] > self._window:
            window.popleft()
        window.append((when, seq, ts))
        if len(window) < self._t.denial_burst:
            self._active_burst.pop(actor, None)
            return
        f = self._active_burst.get(actor)
        if f is None:
            f = Finding(
                "denial_burst",
                actor,
                role,
                org,
                f"{self._t.denial_burst} or more denials within "
                f"{self._t.denial_window_minutes} minutes",
                window[0][2],
                window[0][2],
                day=window[0][0].astimezone(self._tz).date().isoformat(),
            )
            self._active_burst[actor] = f
            self._bursts.append(f)
            for _w, s, t in window:
                f.note(s, t)
        else:
            f.note(seq, ts)

    def record_ids(self) -> set[str]:
        """Record ids read by actors with an organisation (to look up their sources)."""
        return {r for *_rest, recs in self._org_reads for r in recs}

    def finish(self, record_sources: Mapping[str, str], *, since: str, until: str) -> ReviewReport:
        """The report; ``record_sources`` maps record id to the source that supplied it."""
        findings: list[Finding] = []
        limit = self._t.max_subjects_per_day
        for key, seen in self._subjects.items():
            if len(seen) > limit:
                f = self._subject_meta[key]
                f.count = len(seen)
                f.detail = f"{len(seen)} distinct subjects read in one day (threshold {limit})"
                findings.append(f)
        findings.extend(self._off.values())
        findings.extend(self._bursts)
        findings.extend(self._tickets.values())
        same: dict[tuple[str, str], Finding] = {}
        for seq, ts, actor, role, org, recs in self._org_reads:
            if any(record_sources.get(r) == org for r in recs):
                hit = same.get((actor, org))
                if hit is None:
                    hit = same[(actor, org)] = Finding(
                        "same_org_read",
                        actor,
                        role,
                        org,
                        "read records that the actor's own organisation supplied",
                        ts,
                        ts,
                    )
                hit.note(seq, ts)
        findings.extend(same.values())
        findings.extend(self._gaps)
        order = {k: i for i, k in enumerate(FINDING_KINDS)}
        findings.sort(key=lambda f: (order.get(f.kind, 99), f.first_ts, f.actor))
        t = self._t
        thresholds = {
            "max_subjects_per_day": t.max_subjects_per_day,
            "working_hours": f"{t.working_start:%H:%M}-{t.working_end:%H:%M}",
            "working_days": list(t.working_days),
            "denial_burst": t.denial_burst,
            "denial_window_minutes": t.denial_window_minutes,
        }
        return ReviewReport(
            since=since,
            until=until,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            entries=self.entries,
            reads=self.reads,
            denials=self.denials,
            findings=tuple(findings),
            thresholds=thresholds,
        )


def review_entries(
    entries: Iterable[Mapping[str, Any]],
    thresholds: ReviewThresholdsLike,
    tz: tzinfo,
    ticket_expected: Callable[[str, str], bool],
    record_sources: Mapping[str, str],
    *,
    since: str = "",
    until: str = "",
    heartbeat_interval: timedelta | None = None,
    own_source_purposes: Iterable[str] = (),
) -> ReviewReport:
    """Review ``entries`` in one call (small inputs and tests)."""
    review = AccessReview(
        thresholds,
        tz,
        ticket_expected,
        heartbeat_interval=heartbeat_interval,
        own_source_purposes=own_source_purposes,
    )
    for doc in entries:
        review.add(doc)
    return review.finish(record_sources, since=since, until=until)
