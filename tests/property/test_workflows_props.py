"""Random sequences of filings and decisions by random actors, against a model.

Properties, checked after every step:
- no illegal transition succeeds, and no legal one is refused (the model decides which
  is which, from the issue's rules, independently of the state machines' tables);
- every success is in the access log (actor, op, outcome ok) together with exactly one
  outbox event per logged transition; every refusal is one ``denied`` entry;
- a disputed record is never disclosed without its mark (and an undisputed one never
  carries it);
- an approved repair or a revocation is never disclosed again to disclosure purposes,
  and every record that should be disclosed is.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import CreditVaultError, InvalidTransition, PermissionDenied
from credit_vault.testing import FrozenClock
from tests.helpers import (
    ENFORCER,
    OFFICER,
    citizen_id,
    clerk_for,
    full_facts,
    record_for,
    register_all_sources,
    source_code,
)

FOOD = "penalty.food_drug"  # general: 1 year, repair after 3 months
TAX = "tax.major_violation"  # serious: 3 years, repair after 1 year
# The log's own entries (heartbeats after a silence, checkpoints) may precede any other.
HOUSEKEEPING = {"heartbeat", "checkpoint"}
WORKFLOW_OPS = {"objection", "repair", "case", "correct", "revoke", "statement", "transition"}
WHO = (
    "subject",
    "agent",
    "agent_without_consent",
    "other_subject",
    "handler",
    "other_handler",
    "clerk",
    "other_clerk",
)
BANNED = "吊销许可证件"
# Half the time the actor who may take the step, half the time anyone.
AS_SUBJECT = st.one_of(st.sampled_from(["subject", "agent"]), st.sampled_from(WHO))
AS_HANDLER = st.one_of(st.just("handler"), st.sampled_from(WHO))
AS_CLERK = st.one_of(st.just("clerk"), st.sampled_from(WHO))


@dataclass
class Rec:
    """The model of one record."""

    id: str
    category: str
    subject: int
    decided_on: date
    state: str = "active"
    open_objection: str | None = None
    unresolved: set[str] = field(default_factory=set)
    open_application: str | None = None
    refile_after: date | None = None
    banned: bool = False

    @property
    def disputed(self) -> bool:
        return self.open_objection is not None or bool(self.unresolved)

    def window_end(self) -> date:
        years = 1 if self.category == FOOD else 3
        return self.decided_on.replace(year=self.decided_on.year + years)

    def repair_from(self) -> date:
        d = self.decided_on
        if self.category == FOOD:
            month = d.month + 3
            return d.replace(year=d.year + (month - 1) // 12, month=(month - 1) % 12 + 1)
        return d.replace(year=d.year + 1)


@dataclass
class Obj:
    """The model of one objection or repair application."""

    id: str
    record: Rec
    state: str


SPECS = [
    (FOOD, 0, date(2025, 3, 1), False),
    (TAX, 0, date(2024, 5, 1), False),
    (FOOD, 1, date(2025, 4, 15), False),
    (TAX, 1, date(2025, 1, 10), False),
    (FOOD, 1, date(2025, 3, 20), True),  # a licence revocation: never repairable (N3)
]


class WorkflowMachine(RuleBasedStateMachine):
    """Files, decides, withdraws, corrects, revokes and repairs at random."""

    objections = Bundle("objections")
    applications = Bundle("applications")

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="cv-wf-props-"))
        self.clock = FrozenClock(datetime(2025, 6, 1, 2, 0, tzinfo=UTC))
        self.vault = Vault.open(
            f"sqlite:///{self.dir / 'vault.db'}",
            keys=FileKeyProvider.create(self.dir / "vault.keys"),
            clock=self.clock,
            durability="normal",
        )
        register_all_sources(self.vault)
        self.subjects = [SubjectRef.person(citizen_id(700 + i)) for i in range(2)]
        self.records: list[Rec] = []
        for category, who, decided, banned in SPECS:
            rec = record_for(
                self.vault,
                category,
                self.subjects[who],
                decided_on=decided,
                occurred_on=date(2024, 1, 1),
            )
            if banned:
                facts = {**rec.facts, "penalty_kind": BANNED}
                rec = rec.model_copy(update={"facts": facts})
            rid = self.vault.ingest(clerk_for(category), rec)
            self.records.append(Rec(rid, category, who, decided, banned=banned))
        self.corrections = 0
        self.last_event = max((e.seq for e in self.vault.events.poll(limit=10_000)), default=-1)

    def teardown(self) -> None:
        self.vault.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ actors

    def actor(self, who: str, rec: Rec) -> Actor:
        own = self.subjects[rec.subject]
        other = self.subjects[1 - rec.subject]
        other_cat = TAX if rec.category == FOOD else FOOD
        return {
            "subject": Actor(id="subject", role="subject", subject=own),
            "agent": Actor(id="agent", role="subject_agent", subject=own),
            "agent_without_consent": Actor(id="agent-x", role="subject_agent", subject=own),
            "other_subject": Actor(id="other", role="subject", subject=other),
            "handler": Actor(
                id="handler", role="objection_handler", organisation=source_code(rec.category)
            ),
            "other_handler": Actor(
                id="handler-x", role="objection_handler", organisation=source_code(other_cat)
            ),
            "clerk": clerk_for(rec.category),
            "other_clerk": clerk_for(other_cat),
        }[who]

    @staticmethod
    def consent(who: str) -> str | None:
        return "AUTH-1" if who == "agent" else None

    def today(self) -> date:
        return self.vault.today()

    def disclosed_now(self, rec: Rec) -> bool:
        return rec.state == "active" and rec.decided_on <= self.today() < rec.window_end()

    # ------------------------------------------------------------------ the check

    def attempt(
        self, legal: bool, actor: Actor, refused_as: type[Exception], call: Callable[[], Any]
    ) -> Any:
        """Run a step; it must succeed iff legal, and leave the right trail either way."""
        before = self.vault.audit.head().size
        refusal: CreditVaultError | None = None
        try:
            result = call()
        except CreditVaultError as exc:
            refusal = exc
        if refusal is not None:
            assert not legal, f"a legal step was refused: {refusal!r}"
            assert isinstance(refusal, refused_as), f"expected {refused_as.__name__}: {refusal!r}"
            new = [e for e in self.vault.audit.entries(start=before) if e["op"] not in HOUSEKEEPING]
            assert [(e["outcome"], e["actor"]) for e in new] == [("denied", actor.id)]
            assert self.vault.events.poll(after=self.last_event) == []
            return None
        assert legal, "an illegal step succeeded"
        new = self.vault.audit.entries(start=before)
        writes = [e for e in new if e["op"] in WORKFLOW_OPS]
        assert writes, "a successful step left no access-log entry"
        assert all(e["outcome"] == "ok" and e["actor"] == actor.id for e in writes)
        events = self.vault.events.poll(after=self.last_event, limit=10_000)
        assert [e.seq for e in events] == [e["seq"] for e in writes]
        self.last_event = events[-1].seq
        return result

    # ------------------------------------------------------------------ objections

    @rule(target=objections, i=st.integers(0, len(SPECS) - 1), who=AS_SUBJECT)
    def file_objection(self, i: int, who: str) -> Any:
        rec = self.records[i]
        actor = self.actor(who, rec)
        as_subject = who in ("subject", "agent")
        legal = (
            as_subject
            and rec.state in ("active", "expired", "repaired")
            and (rec.open_objection is None)
        )
        refused = InvalidTransition if as_subject else PermissionDenied
        obj = self.attempt(
            legal,
            actor,
            refused,
            lambda: self.vault.objections.file(
                actor, rec.id, reason="contested", consent=self.consent(who)
            ),
        )
        if obj is None:
            return multiple()
        rec.open_objection = obj.id
        return Obj(obj.id, rec, "open")

    @rule(
        o=objections,
        who=AS_HANDLER,
        outcome=st.sampled_from(["upheld", "rejected", "unresolved"]),
        revoke=st.booleans(),
    )
    def decide_objection(self, o: Obj, who: str, outcome: str, revoke: bool) -> None:
        rec = o.record
        actor = self.actor(who, rec)
        handler = who == "handler"
        legal = handler and o.state == "open"
        if outcome == "upheld" and legal and rec.state not in ("active", "expired", "repaired"):
            legal = False  # the record can be neither corrected nor revoked again
        kwargs: dict[str, Any] = {}
        if outcome == "upheld":
            if revoke:
                kwargs["revoke"] = True
            else:
                self.corrections += 1
                kwargs["corrected_facts"] = full_facts(
                    self.vault.catalog.get(rec.category), f"C{self.corrections}"
                )
        done = self.attempt(
            legal,
            actor,
            InvalidTransition if handler else PermissionDenied,
            lambda: self.vault.objections.decide(
                actor, o.id, outcome=outcome, reason="checked", **kwargs
            ),
        )
        if done is None:
            return
        o.state = outcome
        rec.open_objection = None
        if outcome == "unresolved":
            rec.unresolved.add(o.id)
        if outcome == "upheld":
            if revoke:
                rec.state = "revoked"
            else:
                rec.banned = False

    @rule(o=objections, who=AS_SUBJECT)
    def withdraw_objection(self, o: Obj, who: str) -> None:
        actor = self.actor(who, o.record)
        as_subject = who in ("subject", "agent")
        done = self.attempt(
            as_subject and o.state == "open",
            actor,
            InvalidTransition if as_subject else PermissionDenied,
            lambda: self.vault.objections.withdraw(actor, o.id, consent=self.consent(who)),
        )
        if done is not None:
            o.state = "withdrawn"
            o.record.open_objection = None

    # ------------------------------------------------------------------ repairs

    @rule(target=applications, i=st.integers(0, len(SPECS) - 1), who=AS_SUBJECT)
    def apply_for_repair(self, i: int, who: str) -> Any:
        rec = self.records[i]
        actor = self.actor(who, rec)
        as_subject = who in ("subject", "agent")
        today = self.today()
        eligible = (
            self.disclosed_now(rec)
            and not rec.banned
            and today >= rec.repair_from()
            and (rec.refile_after is None or today >= rec.refile_after)
            and rec.open_application is None
        )
        app = self.attempt(
            as_subject and eligible,
            actor,
            InvalidTransition if as_subject else PermissionDenied,
            lambda: self.vault.repairs.apply(
                actor, rec.id, evidence="rectified", consent=self.consent(who)
            ),
        )
        if app is None:
            return multiple()
        rec.open_application = app.id
        return Obj(app.id, rec, "applied")

    @rule(a=applications, who=AS_HANDLER, approve=st.booleans())
    def decide_repair(self, a: Obj, who: str, approve: bool) -> None:
        rec = a.record
        actor = self.actor(who, rec)
        handler = who == "handler"
        legal = handler and a.state == "applied" and (not approve or rec.state == "active")
        done = self.attempt(
            legal,
            actor,
            InvalidTransition if handler else PermissionDenied,
            lambda: self.vault.repairs.decide(actor, a.id, approve=approve, reason="decided"),
        )
        if done is None:
            return
        a.state = "approved" if approve else "rejected"
        rec.open_application = None
        if approve:
            rec.state = "repaired"
        else:
            rec.refile_after = self.today() + timedelta(days=30)

    # ------------------------------------------------------------------ the source

    @rule(
        i=st.integers(0, len(SPECS) - 1),
        who=AS_CLERK,
        revoke=st.sampled_from([False, False, False, True]),
    )
    def source_changes_the_record(self, i: int, who: str, revoke: bool) -> None:
        rec = self.records[i]
        actor = self.actor(who, rec)
        legal = who == "clerk" and rec.state in ("active", "expired", "repaired")
        refused = InvalidTransition if who == "clerk" else PermissionDenied
        if revoke:
            done = self.attempt(
                legal,
                actor,
                refused,
                lambda: self.vault.records.revoke(actor, rec.id, reason="decision withdrawn"),
            )
            if done is not None:
                rec.state = "revoked"
            return
        self.corrections += 1
        facts = full_facts(self.vault.catalog.get(rec.category), f"C{self.corrections}")
        done = self.attempt(
            legal,
            actor,
            refused,
            lambda: self.vault.records.correct(actor, rec.id, facts=facts, reason="fixed"),
        )
        if done is not None:
            rec.banned = False

    @rule(i=st.integers(0, len(SPECS) - 1), who=AS_SUBJECT, text=st.booleans())
    def statement(self, i: int, who: str, text: bool) -> None:
        rec = self.records[i]
        actor = self.actor(who, rec)
        self.attempt(
            who in ("subject", "agent"),
            actor,
            PermissionDenied,
            lambda: self.vault.records.statement(
                actor, rec.id, "my side" if text else None, consent=self.consent(who)
            ),
        )

    @precondition(lambda self: self.today() < date(2026, 6, 1))
    @rule(days=st.integers(0, 45))
    def time_passes(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    # ------------------------------------------------------------------ what readers see

    @invariant()
    def disclosure_follows_the_model(self) -> None:
        for n, subject in enumerate(self.subjects):
            mine = [r for r in self.records if r.subject == n]
            lic = self.vault.query(OFFICER, purpose="licensing_review", subject=subject, ticket="L")
            jp = self.vault.query(ENFORCER, purpose="joint_punishment", subject=subject, ticket="J")
            model = {r.id: r for r in mine}
            for d, wanted in ((lic, {FOOD, TAX}), (jp, {TAX})):
                expected = {r.id for r in mine if r.category in wanted and self.disclosed_now(r)}
                assert {r.record_id for r in d.records} == expected
                for shown in d.records:
                    rec = model[shown.record_id]
                    assert shown.state not in ("repaired", "revoked")
                    assert shown.disputed is rec.disputed, "a disputed record lost its mark"


WorkflowMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=35,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestWorkflows = WorkflowMachine.TestCase
