"""Random timelines: ingests at random dates, clock moves, sweeps interleaved or not.

Properties, checked against an oracle written here from the catalogue's numbers
(not from ``compute_window``):

1. No record is ever returned to a disclosure purpose outside its window, and
   every record inside its window is returned to a purpose granted its category.
2. Every record past retention is unreadable after a sweep: no purpose returns
   it, its data key and ciphertexts are gone, reading its facts raises RecordPurged.
3. A sweep never changes what a read returns for records still inside their window
   (and never changes which records a read returns at all).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, select

from credit_vault import Actor, SubjectRef, Vault
from credit_vault._lifecycle import live_record
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InvalidPeriodOverride, RecordPurged
from credit_vault.storage.tables import Record
from credit_vault.testing import FrozenClock
from tests.helpers import (
    ENFORCER,
    OFFICER,
    citizen_id,
    clerk_for,
    record_for,
    register_all_sources,
    source_code,
)

_R = cast("Table", Record.__table__)
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Actor(id="adm-1", role="admin")
# objection_handling reads only the handler's own source's records: one handler per
# category (each category has its own test source).
HANDLERS = {
    cat: Actor(id=f"h-{cat}", role="objection_handler", organisation=source_code(cat))
    for cat in (
        "penalty.traffic",
        "labour.wage_arrears",
        "court.defaulter",
        "tax.major_violation",
        "penalty.minor",
        "honor.commendation",
    )
}


@dataclass(frozen=True)
class Spec:
    """The catalogue's numbers for one category, restated for the oracle (years, months)."""

    disclosure: tuple[int, int] | None  # None: never disclosed publicly
    maximum: tuple[int, int] | None
    retention: tuple[int, int]
    retention_from_decision: bool
    negative: bool
    serious: bool


SPECS: dict[str, Spec] = {
    "penalty.traffic": Spec((1, 0), (1, 0), (5, 0), False, True, False),
    "labour.wage_arrears": Spec((1, 0), (3, 0), (5, 0), False, True, False),
    "court.defaulter": Spec((2, 0), (5, 0), (5, 0), False, True, True),
    "tax.major_violation": Spec((3, 0), (3, 0), (5, 0), False, True, True),
    "penalty.minor": Spec(None, None, (5, 0), False, True, False),
    "honor.commendation": Spec((3, 0), None, (5, 0), True, False, False),
}


def plus(d: date, ym: tuple[int, int]) -> date:
    """Calendar addition of years and months, clamped to the month's last day."""
    months = d.year * 12 + d.month - 1 + ym[0] * 12 + ym[1]
    y, m = divmod(months, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


@dataclass
class Expect:
    category: str
    start: date | None
    end: date | None  # exclusive
    purge: date


def oracle(
    category: str, decided: date, occurred: date, ended: date | None, until: date | None
) -> Expect | None:
    """The window the law gives this record, or None when the override is outside the limits."""
    spec = SPECS[category]
    base = decided if spec.retention_from_decision else (ended or occurred)
    purge = plus(base, spec.retention)
    if spec.disclosure is None:
        return None if until is not None else Expect(category, None, None, purge)
    end = plus(decided, spec.disclosure)
    if until is not None:
        if until < end or until > plus(decided, spec.maximum or spec.disclosure):
            return None
        end = until
    return Expect(category, decided, min(end, purge), purge)


# (kind, category, days before today decided, days conduct before decision, conduct length, override days)
ingest_step = st.tuples(
    st.just("ingest"),
    st.sampled_from(sorted(SPECS)),
    st.one_of(st.integers(0, 500), st.integers(0, 2400)),
    st.integers(0, 400),
    st.one_of(st.none(), st.integers(0, 300)),
    st.one_of(st.none(), st.integers(-30, 1500)),
)
advance_step = st.tuples(st.just("advance"), st.integers(0, 800), st.integers(0, 23))
sweep_step = st.tuples(st.just("sweep"))
# Jump to the next window end or purge date of one of the records: to local
# midnight there (the boundary itself) or one second before it.
boundary_step = st.tuples(st.just("boundary"), st.integers(0, 50), st.booleans(), st.booleans())
timeline = st.lists(
    st.one_of(ingest_step, boundary_step, ingest_step, boundary_step, advance_step, sweep_step),
    min_size=2,
    max_size=16,
)

_subjects = itertools.count()


@pytest.fixture
def prop_vault(tmp_path: Path) -> Iterator[tuple[Vault, FrozenClock]]:
    clock = FrozenClock(datetime(2022, 1, 1, tzinfo=UTC))
    keys = FileKeyProvider.create(tmp_path / "vault.keys")
    v = Vault.open(f"sqlite:///{tmp_path / 'vault.db'}", keys=keys, clock=clock)
    register_all_sources(v)
    try:
        yield v, clock
    finally:
        v.close()


def _reads(v: Vault, s: SubjectRef) -> dict[str, dict[str, Any]]:
    """reader -> {record id: DisclosedRecord}: three purposes, and each source's handler."""
    me = Actor(id="me", role="subject", subject=s)
    out = {}
    for name, actor, purpose, ticket in (
        ("licensing_review", OFFICER, "licensing_review", "LIC-1"),
        ("joint_punishment", ENFORCER, "joint_punishment", "JP-1"),
        *(
            (f"objection_handling@{cat}", handler, "objection_handling", "OBJ-1")
            for cat, handler in HANDLERS.items()
        ),
        ("self_query", me, "self_query", None),
    ):
        d = v.query(actor, purpose=purpose, subject=s, ticket=ticket)
        out[name] = {r.record_id: r for r in d.records}
    return out


def _check_reads(reads: dict[str, dict[str, Any]], expect: dict[str, Expect], today: date) -> None:
    for purpose, got in reads.items():
        for rid, e in expect.items():
            spec = SPECS[e.category]
            in_window = e.start is not None and e.end is not None and e.start <= today < e.end
            retained = today < e.purge
            if purpose == "licensing_review":
                should = in_window and spec.negative
            elif purpose == "joint_punishment":
                should = in_window and spec.serious
            elif purpose.startswith("objection_handling@"):
                # The handler at the record's own source, and no other.
                should = retained and purpose == f"objection_handling@{e.category}"
            else:
                should = retained
            assert (rid in got) is should, (purpose, e, today)
        assert set(got) <= set(expect)


@settings(max_examples=60)
@given(steps=timeline, start_day=st.integers(0, 2000), start_hour=st.integers(0, 23))
def test_random_timelines(
    prop_vault: tuple[Vault, FrozenClock],
    steps: list[tuple[Any, ...]],
    start_day: int,
    start_hour: int,
) -> None:
    v, clock = prop_vault
    clock.set(datetime(2019, 1, 1, start_hour, tzinfo=UTC) + timedelta(days=start_day))
    n = next(_subjects)
    s = SubjectRef.person(citizen_id(n % 1000, birth=f"19{60 + n // 1000:02d}0101"))
    expect: dict[str, Expect] = {}
    for step in steps:
        today = v.today()
        if step[0] == "ingest":
            _, category, back, before, length, extra = step
            decided = today - timedelta(days=back)
            occurred = decided - timedelta(days=before)
            # The conduct's end is a fact already known: never after today.
            ended = None if length is None else min(occurred + timedelta(days=length), today)
            spec = SPECS[category]
            until = None
            if extra is not None:
                until = plus(decided, spec.disclosure or (1, 0)) + timedelta(days=extra)
            e = oracle(category, decided, occurred, ended, until)
            rec = record_for(
                v,
                category,
                s,
                decided_on=decided,
                occurred_on=occurred,
                conduct_ended_on=ended,
                disclosure_until=until,
            )
            if e is None:
                with pytest.raises(InvalidPeriodOverride):
                    v.ingest(clerk_for(category), rec)
                continue
            expect[v.ingest(clerk_for(category), rec)] = e
        elif step[0] == "advance":
            clock.advance(timedelta(days=step[1], hours=step[2]))
        elif step[0] == "boundary":
            _, k, purge, just_before = step
            marks = {e.purge if purge else e.end for e in expect.values()}
            ahead = sorted(d for d in marks if d is not None and d > today)
            if ahead:
                target = ahead[k % len(ahead)]
                midnight = datetime(target.year, target.month, target.day, tzinfo=SHANGHAI)
                clock.set(midnight - timedelta(seconds=1 if just_before else 0))
        else:
            before_reads = _reads(v, s)
            v.sweep(ADMIN, batch_size=3)
            after_reads = _reads(v, s)
            for purpose, before in before_reads.items():
                after = after_reads[purpose]
                assert set(after) == set(before), purpose
                for rid, rec_before in before.items():
                    e = expect[rid]
                    if e.start is not None and e.end is not None and e.start <= today < e.end:
                        assert after[rid] == rec_before, (purpose, rid)
            with v._tx() as conn:
                rows = {
                    r.id: r
                    for r in conn.execute(
                        select(_R.c.id, _R.c.state, _R.c.wrapped_key, _R.c.fields).where(
                            _R.c.id.in_(list(expect))
                        )
                    )
                }
            for rid, e in expect.items():
                if e.purge <= today:
                    r = rows[rid]
                    assert (r.state, r.wrapped_key, r.fields) == ("purged", None, None), e
                    with v._tx() as conn, pytest.raises(RecordPurged):
                        live_record(conn, rid)
                else:
                    assert rows[rid].state != "purged", e
        _check_reads(_reads(v, s), expect, v.today())


@settings(max_examples=40)
@given(
    category=st.sampled_from(sorted(SPECS)),
    back=st.integers(0, 900),
    before=st.integers(0, 400),
    length=st.one_of(st.none(), st.integers(0, 300)),
    hour=st.integers(0, 23),
    sweep_first=st.booleans(),
)
def test_window_and_purge_boundaries(
    prop_vault: tuple[Vault, FrozenClock],
    category: str,
    back: int,
    before: int,
    length: int | None,
    hour: int,
    sweep_first: bool,
) -> None:
    """At one second before and at local midnight of each boundary, reads follow the oracle."""
    v, clock = prop_vault
    clock.set(datetime(2024, 6, 1, hour, tzinfo=UTC))
    n = next(_subjects)
    s = SubjectRef.person(citizen_id(n % 1000, birth=f"19{60 + n // 1000:02d}0102"))
    decided = v.today() - timedelta(days=back)
    occurred = decided - timedelta(days=before)
    ended = None if length is None else min(occurred + timedelta(days=length), v.today())
    e = oracle(category, decided, occurred, ended, None)
    assert e is not None
    rid = v.ingest(
        clerk_for(category),
        record_for(
            v, category, s, decided_on=decided, occurred_on=occurred, conduct_ended_on=ended
        ),
    )
    expect = {rid: e}
    for boundary in sorted({d for d in (e.end, e.purge) if d is not None and d > v.today()}):
        midnight = datetime(boundary.year, boundary.month, boundary.day, tzinfo=SHANGHAI)
        for instant in (midnight - timedelta(seconds=1), midnight):
            clock.set(instant)
            if sweep_first:
                v.sweep(ADMIN)
            _check_reads(_reads(v, s), expect, v.today())
            status = v.record_status(ADMIN, rid)
            assert status.disclosable is (
                e.start is not None and e.end is not None and e.start <= v.today() < e.end
            )
