"""The access review's flags on hand-made entries (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from credit_vault.audit import FINDING_KINDS, AccessEntry, parse_canonical, review_entries
from credit_vault.domain.policy import ReviewThresholds

SH = ZoneInfo("Asia/Shanghai")
# Monday 2025-06-02, 10:00 in Shanghai.
MONDAY_10 = datetime(2025, 6, 2, 2, 0, tzinfo=UTC)
THRESHOLDS = ReviewThresholds(
    max_subjects_per_day=3,
    working_start=time(8, 0),
    working_end=time(18, 0),
    working_days=(1, 2, 3, 4, 5),
    denial_burst=3,
    denial_window_minutes=10,
)


class Log:
    """Builds decoded entries with increasing sequence numbers."""

    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []

    def add(self, when: datetime, **kw: Any) -> int:
        fields: dict[str, Any] = {
            "op": "query",
            "outcome": "ok",
            "actor_id": "off-1",
            "actor_role": "licensing_officer",
            "actor_org": "market-bureau",
            "purpose": "licensing_review",
            "ticket": "T-1",
            "subject": "aa" * 32,
            "records": ("r_1",),
        }
        fields.update(kw)
        seq = len(self.docs)
        self.docs.append(parse_canonical(AccessEntry(**fields).canonical(seq, when)))
        return seq


def ticket_rule(role: str, purpose: str) -> bool:
    return purpose == "licensing_review"


def run(log: Log, sources: dict[str, str] | None = None, **kw: Any) -> Any:
    return review_entries(log.docs, THRESHOLDS, SH, ticket_rule, sources or {}, **kw)


def kinds(report: Any) -> dict[str, int]:
    return {k: v for k, v in report.counts().items() if v}


def test_quiet_day_has_no_findings() -> None:
    log = Log()
    for i in range(3):
        log.add(MONDAY_10 + timedelta(minutes=i), subject=f"{i:064x}")
    r = run(log)
    assert r.findings == ()
    assert (r.entries, r.reads, r.denials) == (3, 3, 0)
    assert set(r.counts()) == set(FINDING_KINDS)


def test_too_many_distinct_subjects_in_a_local_day() -> None:
    log = Log()
    for i in range(5):
        log.add(MONDAY_10 + timedelta(minutes=i), subject=f"{i:064x}")
    log.add(MONDAY_10 + timedelta(minutes=9), subject=f"{0:064x}")  # repeat: not distinct
    log.add(MONDAY_10, actor_id="off-2", subject="bb" * 32)
    r = run(log)
    [f] = r.findings
    assert f.kind == "subjects_per_day"
    assert (f.actor, f.count, f.day) == ("off-1", 5, "2025-06-02")
    assert f.seqs == [3, 4, 5]  # the reads past the threshold
    # The same reads spread over two local days stay under the threshold.
    log2 = Log()
    for i in range(5):
        log2.add(MONDAY_10 + timedelta(hours=7 * i), subject=f"{i:064x}")
    assert "subjects_per_day" not in kinds(run(log2))


def test_reads_outside_working_hours_and_days() -> None:
    log = Log()
    log.add(MONDAY_10)  # working time
    log.add(datetime(2025, 6, 2, 11, 30, tzinfo=UTC))  # 19:30 local
    log.add(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))  # Sunday 10:00 (out of order is fine)
    log.add(datetime(2025, 6, 2, 0, 0, tzinfo=UTC))  # 08:00 local: the first working minute
    log.add(datetime(2025, 6, 2, 10, 0, tzinfo=UTC))  # 18:00 local: already after hours
    log.add(datetime(2025, 6, 2, 11, 0, tzinfo=UTC), op="ingest")  # not a read
    r = run(log)
    off = [f for f in r.findings if f.kind == "off_hours"]
    assert sorted(s for f in off for s in f.seqs) == [1, 2, 4]


@pytest.mark.parametrize("op", ["workflow_read", "status", "export"])
def test_every_read_of_a_subject_counts_not_only_queries(op: str) -> None:
    # A handler decrypting objection reasons (workflow_read), anyone asking record
    # statuses, an auditor exporting subject extracts: reads of one subject each.
    log = Log()
    sunday_3am = datetime(2025, 6, 7, 19, 0, tzinfo=UTC)  # Sunday 03:00 in Shanghai
    for i in range(5):
        log.add(sunday_3am + timedelta(minutes=i), op=op, subject=f"{i:064x}", ticket=None)
    r = run(log)
    assert r.reads == 5
    assert {"subjects_per_day", "off_hours"} <= set(kinds(r))
    assert "ticket_missing" not in kinds(r)  # the ticket rule stays with queries


def test_denial_bursts() -> None:
    log = Log()
    t = MONDAY_10
    for minutes in (0, 2, 4, 5):  # four denials within ten minutes
        log.add(t + timedelta(minutes=minutes), outcome="denied", reason="ticket_required")
    for minutes in (30, 45, 60):  # spread out: no burst
        log.add(t + timedelta(minutes=minutes), outcome="denied")
    log.add(t, outcome="denied", actor_id="other")
    r = run(log)
    bursts = [f for f in r.findings if f.kind == "denial_burst"]
    assert len(bursts) == 1
    assert (bursts[0].actor, bursts[0].count, bursts[0].seqs) == ("off-1", 4, [0, 1, 2, 3])
    assert r.denials == 8


def test_reads_without_the_ticket_the_policy_expects() -> None:
    log = Log()
    log.add(MONDAY_10, ticket="")
    log.add(MONDAY_10, ticket="", purpose="authorized_query")  # no ticket expected
    log.add(MONDAY_10, ticket="", outcome="denied")  # a denial is no use
    log.add(MONDAY_10, ticket="", op="objection")  # workflow steps carry their case
    r = run(log)
    [f] = [f for f in r.findings if f.kind == "ticket_missing"]
    assert f.seqs == [0]


def test_reads_of_records_the_actors_own_organisation_supplied() -> None:
    log = Log()
    log.add(MONDAY_10, records=("r_own", "r_other"))
    log.add(MONDAY_10, records=("r_other",))
    log.add(MONDAY_10, records=("r_own",), actor_org="")
    r = run(log, {"r_own": "market-bureau", "r_other": "tax-bureau"})
    [f] = [f for f in r.findings if f.kind == "same_org_read"]
    assert (f.actor, f.org, f.seqs) == ("off-1", "market-bureau", [0])


def test_a_handlers_queue_and_own_organisations_work_are_not_flagged() -> None:
    # Listing the queue, the overdue report and a clerk checking its own source's
    # record are duty, not reads of subjects' data: no subjects_per_day, no same_org_read.
    log = Log()
    sunday_3am = datetime(2025, 6, 7, 19, 0, tzinfo=UTC)
    for i in range(10):
        log.add(
            MONDAY_10 + timedelta(minutes=i),
            op="workflow_read",
            reason="objection.list",
            subject=f"{i:064x}",
            records=("r_own",),
        )
        log.add(
            sunday_3am,
            op="workflow_read",
            reason="workflow.overdue:10",
            subject=f"{i:064x}",
            records=("r_own",),
        )
    log.add(MONDAY_10, op="status", records=("r_own",), ticket=None)
    r = run(log, {"r_own": "market-bureau"})
    assert kinds(r) == {}
    assert r.reads == 1  # the status read


def test_silent_gaps_unless_a_heartbeat_explains_them() -> None:
    log = Log()
    log.add(MONDAY_10)
    log.add(MONDAY_10 + timedelta(minutes=50))
    log.add(MONDAY_10 + timedelta(hours=3), op="heartbeat", actor_id="vault", actor_role="system")
    log.add(MONDAY_10 + timedelta(hours=3))
    log.add(MONDAY_10 + timedelta(hours=5))  # two silent hours, no heartbeat
    r = run(log, heartbeat_interval=timedelta(hours=1))
    [gap] = [f for f in r.findings if f.kind == "silent_gap"]
    assert gap.seqs == [3, 4]
    assert "silent_gap" not in kinds(run(log))  # no interval given: no check


def test_report_rows_and_json_name_no_subject() -> None:
    log = Log()
    for i in range(6):
        log.add(datetime(2025, 6, 1, 2, i, tzinfo=UTC), subject=f"{i:064x}", ticket="")
    r = run(log, since="a", until="b")
    data = r.to_dict()
    assert data["since"] == "a"
    assert data["thresholds"]["working_hours"] == "08:00-18:00"
    text = repr(data) + repr(r.rows())
    for i in range(6):
        assert f"{i:064x}" not in text
    assert all(len(row) == len(r.COLUMNS) for row in r.rows())


@pytest.mark.parametrize("bad", [{"seq": "x", "ts": "2025"}, {"seq": 1}, {"seq": 1, "ts": "bad"}])
def test_malformed_entries_are_skipped(bad: dict[str, Any]) -> None:
    r = review_entries([bad], THRESHOLDS, SH, ticket_rule, {})
    assert r.entries == 0
