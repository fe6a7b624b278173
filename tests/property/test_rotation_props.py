"""Hypothesis: ingests, corrections, erasures, KEK rotations and re-wraps in any order.

Invariants after every step: ``kek_usage`` counts exactly the stored wrapped keys
(records, superseded versions, subjects not erased); after a re-wrap nothing is
left under an older KEK; every subject's own view reads back the facts it was
given. At the end, when the last step was a re-wrap, a key file holding only the
current KEK still reads everything, and the access log verifies.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.testing import FrozenClock
from tests.helpers import (
    citizen_id,
    clerk_for,
    full_facts,
    key_file_without,
    record_for,
    register_all_sources,
)

ADMIN = Actor(id="admin-1", role="admin")
CAT = "honor.commendation"  # positive: not mandatory to retain, so subjects may be erased
PEOPLE = [citizen_id(i, birth="19700101") for i in range(4)]


class RotationMachine(RuleBasedStateMachine):
    """One vault on a real SQLite file, its key file rotated and re-wrapped at random."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory(prefix="cv-rot-")
        self.path = Path(self._dir.name)
        self.keys = FileKeyProvider.create(self.path / "k")
        self.clock = FrozenClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
        self.vault = Vault.open(f"sqlite:///{self.path / 'v.db'}", keys=self.keys, clock=self.clock)
        register_all_sources(self.vault)
        self.records: dict[str, tuple[int, dict[str, object]]] = {}  # id -> (person, facts)
        self.versions = 0
        self.subjects: set[int] = set()
        self.erased: set[int] = set()
        self.last_was_rewrap = False
        self.counter = 0

    def _facts(self) -> dict[str, object]:
        self.counter += 1
        return full_facts(self.vault.catalog.get(CAT), f"F{self.counter}-")

    def _stored(self, facts: dict[str, object]) -> dict[str, object]:
        """Facts as a read returns them (decimals and dates coerced)."""
        return self.vault.catalog.get(CAT).validate_facts(facts)

    @rule(who=st.integers(0, len(PEOPLE) - 1), n=st.integers(1, 3))
    def ingest(self, who: int, n: int) -> None:
        subject = SubjectRef.person(PEOPLE[who])
        batch = []
        for _ in range(n):
            rec = record_for(
                self.vault, CAT, subject, decided_on=date(2025, 3, 1), occurred_on=date(2025, 2, 1)
            )
            batch.append(rec.model_copy(update={"facts": self._facts()}))
        ids = self.vault.ingest_many(clerk_for(CAT), batch)
        if who in self.erased:
            # An erased subject's identity is gone: the person starts a new subject.
            self.erased.discard(who)
        self.subjects.add(who)
        for rid, rec in zip(ids, batch, strict=True):
            self.records[rid] = (who, self._stored(dict(rec.facts)))
        self.last_was_rewrap = False

    @precondition(lambda self: bool(self.records))
    @rule(pick=st.integers(0, 10**6))
    def correct(self, pick: int) -> None:
        rid = sorted(self.records)[pick % len(self.records)]
        facts = self._facts()
        self.vault.records.correct(clerk_for(CAT), rid, facts=facts, reason="re-issued")
        self.records[rid] = (self.records[rid][0], self._stored(facts))
        self.versions += 1
        self.last_was_rewrap = False

    @precondition(lambda self: bool(self.subjects))
    @rule(pick=st.integers(0, 10**6))
    def erase(self, pick: int) -> None:
        who = sorted(self.subjects)[pick % len(self.subjects)]
        self.vault.erase_subject(
            ADMIN, SubjectRef.person(PEOPLE[who]), legal_basis="个人信息保护法 第47条"
        )
        gone = [rid for rid, (p, _) in self.records.items() if p == who]
        for rid in gone:
            del self.records[rid]
        self.versions = self._stored_versions()
        self.subjects.discard(who)
        self.erased.add(who)
        self.last_was_rewrap = False

    @rule()
    def rotate(self) -> None:
        self.keys.rotate()
        self.last_was_rewrap = False

    @rule(batch=st.integers(1, 4))
    def rewrap(self, batch: int) -> None:
        report = self.vault.rewrap_keys(ADMIN, batch_size=batch)
        assert report.remaining == {}
        assert report.kek_id == self.keys.key_set().current_kek_id
        self.last_was_rewrap = True

    def _stored_versions(self) -> int:
        from sqlalchemy import func, select

        from credit_vault.storage.tables import RecordVersion

        with self.vault._store.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(RecordVersion)
                    .where(RecordVersion.wrapped_key.is_not(None))
                ).scalar_one()
            )

    @invariant()
    def usage_counts_every_stored_key(self) -> None:
        usage = self.vault.kek_usage(ADMIN)
        assert sum(usage.values()) == len(self.records) + self.versions + len(self.subjects)
        if self.last_was_rewrap:
            assert set(usage) <= {self.keys.key_set().current_kek_id}

    @invariant()
    def kek_columns_name_the_kek_inside_each_blob(self) -> None:
        from sqlalchemy import select

        from credit_vault.crypto import Envelope
        from credit_vault.storage.tables import Record, RecordVersion, Subject

        with self.vault._store.engine.connect() as conn:
            for table in (Record, RecordVersion, Subject):
                for kek_id, wrapped in conn.execute(
                    select(table.kek_id, table.wrapped_key).where(table.wrapped_key.is_not(None))
                ):
                    assert kek_id == Envelope.kek_id_of(bytes(wrapped))

    @invariant()
    def every_view_reads_back(self) -> None:
        _check_views(self.vault, self.records, self.subjects)

    def teardown(self) -> None:
        try:
            if self.last_was_rewrap:
                ks = self.keys.key_set()
                only = key_file_without(
                    self.path / "k",
                    self.path / "only-current",
                    set(ks.kek_ids) - {ks.current_kek_id},
                )
                with Vault.open(
                    f"sqlite:///{self.path / 'v.db'}", keys=only, clock=self.clock
                ) as v2:
                    _check_views(v2, self.records, self.subjects)
            assert self.vault.audit.verify().ok
        finally:
            self.vault.close()
            self._dir.cleanup()


def _check_views(
    vault: Vault, records: dict[str, tuple[int, dict[str, object]]], subjects: set[int]
) -> None:
    for who in subjects:
        subject = SubjectRef.person(PEOPLE[who])
        me = Actor(id=f"me-{who}", role="subject", subject=subject)
        d = vault.query(me, purpose="self_query", subject=subject)
        seen = {r.record_id: dict(r.facts) for r in d.records}
        expected = {rid: facts for rid, (p, facts) in records.items() if p == who}
        assert seen == expected


RotationMachine.TestCase.settings = settings(max_examples=50, stateful_step_count=15, deadline=None)
TestRotation = RotationMachine.TestCase
