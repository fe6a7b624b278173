"""Hypothesis: random ingests and queries by random actors never leak a forbidden field.

Each step is one vault call; the log must grow by exactly one entry per call,
every disclosed field must be one the policy grants for that role, purpose and
category, and nothing outside its window reaches a disclosure purpose.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FieldCipher, FileKeyProvider
from credit_vault.domain.policy import Policy
from credit_vault.errors import CreditVaultError
from credit_vault.testing import FrozenClock
from tests.helpers import citizen_id, clerk_for, record_for, register_all_sources, source_code

POLICY = Policy.default()
AUTOMATIC_OPS = frozenset({"heartbeat", "checkpoint"})
SUBJECTS = [citizen_id(i, birth="19700101") for i in range(4)]
ROLES = sorted(POLICY.roles)
PURPOSES = [p.name for p in POLICY.purposes] + ["bogus_purpose"]
CATEGORIES = [
    "tax.major_violation",
    "penalty.traffic",
    "penalty.minor",
    "honor.commendation",
    "volunteer.service",
    "court.defaulter",
    "identity.basic",
    "education.misconduct",
]
# Readers' organisations: the sources of the categories (own_source purposes read
# their own records), and one that pushes nothing.
ORGANISATIONS = [source_code(c) for c in CATEGORIES] + ["org"]


class VaultMachine(RuleBasedStateMachine):
    """Drives one vault on a real SQLite file."""

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory(prefix="cv-prop-")
        d = Path(self._dir.name)
        self.clock = FrozenClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
        self.vault = Vault.open(
            f"sqlite:///{d / 'v.db'}", keys=FileKeyProvider.create(d / "k"), clock=self.clock
        )
        register_all_sources(self.vault)
        self.calls = self._call_entries()
        self.disclosed = 0
        # Every field decryption (record id, field): a query decrypts exactly what
        # it discloses, never a field or a record it may not show.
        self.decrypted: list[tuple[str, str]] = []
        real = FieldCipher.decrypt
        seen = self.decrypted

        def spy(cipher: FieldCipher, record_id: str, field: str, *a: Any, **kw: Any) -> Any:
            seen.append((record_id, field))
            return real(cipher, record_id, field, *a, **kw)

        self._spy = mock.patch.object(FieldCipher, "decrypt", spy)
        self._spy.start()

    def _call_entries(self) -> int:
        """Entries written for calls: the vault's own heartbeats are not calls."""
        return sum(1 for e in self.vault.audit.entries() if e["op"] not in AUTOMATIC_OPS)

    @initialize()
    def start(self) -> None:
        assert self._call_entries() == self.calls

    @rule(
        cat=st.sampled_from(CATEGORIES),
        who=st.integers(0, len(SUBJECTS) - 1),
        age_days=st.integers(0, 2000),
        n=st.integers(1, 3),
    )
    def ingest(self, cat: str, who: int, age_days: int, n: int) -> None:
        today = self.vault.today()
        decided = today - timedelta(days=age_days)
        recs = [
            record_for(
                self.vault,
                cat,
                SubjectRef.person(SUBJECTS[who]),
                decided_on=decided,
                occurred_on=decided,
            )
            for _ in range(n)
        ]
        ids = self.vault.ingest_many(clerk_for(cat), recs)
        self.calls += 1
        assert len(ids) == n

    @rule(
        role=st.sampled_from(ROLES),
        purpose=st.sampled_from(PURPOSES),
        who=st.integers(0, len(SUBJECTS) - 1),
        as_self=st.booleans(),
        ticket=st.sampled_from([None, "T-1"]),
        org=st.sampled_from(ORGANISATIONS),
    )
    def query(
        self, role: str, purpose: str, who: int, as_self: bool, ticket: str | None, org: str
    ) -> None:
        self._read(role, purpose, who, as_self, ticket, org)

    def _read(
        self, role: str, purpose: str, who: int, as_self: bool, ticket: str | None, org: str
    ) -> list[Any]:
        """One query and its checks; the records it disclosed."""
        subject = SubjectRef.person(SUBJECTS[who])
        me = SubjectRef.person(SUBJECTS[who if as_self else (who + 1) % len(SUBJECTS)])
        actor = Actor(id=f"a-{role}", role=role, organisation=org, subject=me)
        before = self.vault.audit.head().size
        self.decrypted.clear()
        try:
            d = self.vault.query(actor, purpose=purpose, subject=subject, ticket=ticket)
        except CreditVaultError:
            self.calls += 1
            assert self._call_entries() == self.calls
            entry = self.vault.audit.entries(before)[-1]
            assert entry["outcome"] == "denied"
            assert entry["fields"] == []
            assert self.decrypted == []  # refused before anything was decrypted
            return []
        self.calls += 1
        decision = POLICY.authorize(
            role=role, purpose=purpose, ticket=ticket, is_self=as_self, has_consent=False
        )
        assert decision.allowed
        today = self.vault.today()
        self.disclosed += len(d.records)
        assert decision.purpose is not None
        for r in d.records:
            cat = self.vault.catalog.get(r.category)
            allowed = set(decision.visible_fields(cat))
            assert set(r.facts) <= allowed, (role, purpose, r.category)
            if decision.purpose.own_source:
                assert r.source == org, (role, purpose, r.source)
            if decision.purpose is not None and decision.purpose.scope == "disclosable":
                assert r.disclosure_starts_on is not None
                assert r.disclosure_ends_on is not None
                assert r.disclosure_starts_on <= today < r.disclosure_ends_on
        entry = self.vault.audit.entries(d.access_seq)[0]
        assert entry["records"] == [r.record_id for r in d.records]
        disclosed = {(r.record_id, f) for r in d.records for f in r.facts}
        record_decryptions = {(rid, f) for rid, f in self.decrypted if rid.startswith("r_")}
        assert record_decryptions == disclosed
        assert set(entry["fields"]) >= {f for _, f in disclosed}
        return list(d.records)

    @rule(
        grant=st.sampled_from(POLICY.grants),
        who=st.integers(0, len(SUBJECTS) - 1),
        as_self=st.booleans(),
    )
    def granted_query(self, grant: object, who: int, as_self: bool) -> None:
        # Mostly-permitted calls, so the disclosure checks see real data.
        from credit_vault.domain.policy import Grant

        assert isinstance(grant, Grant)
        self._read(grant.role, grant.purpose, who, as_self, "T-1", "org")

    @rule(
        cat=st.sampled_from(["tax.major_violation", "penalty.traffic", "court.defaulter"]),
        who=st.integers(0, len(SUBJECTS) - 1),
        days_ago=st.integers(0, 200),
    )
    def ingest_then_review(self, cat: str, who: int, days_ago: int) -> None:
        # A negative record decided lately is inside its window (a year at least):
        # a licensing review must show it, with exactly its restricted-tier fields.
        decided = self.vault.today() - timedelta(days=days_ago)
        subject = SubjectRef.person(SUBJECTS[who])
        rec = record_for(self.vault, cat, subject, decided_on=decided, occurred_on=decided)
        (rid,) = self.vault.ingest_many(clerk_for(cat), [rec])
        self.calls += 1
        got = {
            r.record_id: r
            for r in self._read("licensing_officer", "licensing_review", who, False, "T-1", "org")
        }
        assert rid in got
        category = self.vault.catalog.get(cat)
        assert set(got[rid].facts) == set(category.fields_up_to("restricted"))

    @rule(days=st.integers(1, 400))
    def advance(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @precondition(lambda self: self.calls > 0)
    @invariant()
    def one_entry_per_call(self) -> None:
        assert self._call_entries() == self.calls

    def teardown(self) -> None:
        self._spy.stop()
        report = self.vault.audit.verify()
        self.vault.close()
        self._dir.cleanup()
        assert report.ok, report.problems


VaultMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestVaultAccess = VaultMachine.TestCase
