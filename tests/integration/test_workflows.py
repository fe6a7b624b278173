"""Objections, corrections, revocations, statements, repairs, cases, overdue report, events.

Every test runs on a SQLite file and on a fresh PostgreSQL schema (the ``vault``
fixture). The clock stands at 2025-06-01 10:00 in Shanghai, a Sunday before the
Dragon Boat holiday Monday.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from credit_vault import Actor, Policy, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import (
    ConsentRequired,
    InputError,
    InvalidRecord,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RecordNotFound,
)
from credit_vault.storage.tables import RecordVersion
from credit_vault.testing import FrozenClock
from tests.helpers import (
    AUDITOR,
    ENFORCER,
    OFFICER,
    citizen_id,
    clerk_for,
    full_facts,
    record_for,
    source_code,
    stored_bytes,
)

FOOD = "penalty.food_drug"  # general: disclosed 1 year, repairable after 3 months
TAX = "tax.major_violation"  # serious: joint punishment sees it
ADMIN = Actor(id="admin-1", role="admin")
OTHER_HANDLER = Actor(id="h-other", role="objection_handler", organisation="src-elsewhere")
WORKFLOW_OPS = {"objection", "repair", "case", "correct", "revoke", "statement", "transition"}


def person(n: int, name: str | None = None) -> SubjectRef:
    return SubjectRef.person(citizen_id(n), name)


def me(subject: SubjectRef) -> Actor:
    return Actor(id=f"portal-{subject.identifier[-4:]}", role="subject", subject=subject)


def handler(category: str) -> Actor:
    return Actor(
        id=f"handler-{category}", role="objection_handler", organisation=source_code(category)
    )


def ingest(vault: Vault, category: str, subject: SubjectRef, **kw: Any) -> str:
    return vault.ingest(clerk_for(category), record_for(vault, category, subject, **kw))


def licensing(vault: Vault, subject: SubjectRef) -> dict[str, Any]:
    d = vault.query(OFFICER, purpose="licensing_review", subject=subject, ticket="LIC-1")
    return {r.record_id: r for r in d.records}


def own(vault: Vault, subject: SubjectRef) -> dict[str, Any]:
    d = vault.query(me(subject), purpose="self_query", subject=subject)
    return {r.record_id: r for r in d.records}


def entries_since(vault: Vault, start: int) -> list[dict[str, Any]]:
    return vault.audit.entries(start=start)


def corrected(vault: Vault, subject: SubjectRef, rid: str, **changes: Any) -> dict[str, Any]:
    facts = dict(own(vault, subject)[rid].facts)
    facts.update(changes)
    return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in facts.items()}


# ------------------------------------------------------------------ objections


def test_objection_marks_the_record_at_once_and_upheld_corrects_it(vault: Vault) -> None:
    alice = person(1)
    rid = ingest(vault, FOOD, alice)
    start = vault.audit.head().size
    obj = vault.objections.file(me(alice), rid, reason="the amount is wrong")
    assert obj.state == "open"
    assert obj.assigned_to == source_code(FOOD)
    # Filed on Sunday 1 June 2025; Monday 2 June is the Dragon Boat holiday (S4: 5 working days).
    assert obj.filed_on == date(2025, 6, 1)
    assert obj.deadline == date(2025, 6, 9)
    assert obj.deadline_rule == "5 working days"
    seen = licensing(vault, alice)[rid]
    assert seen.disputed is True
    assert seen.version == 1

    new_facts = corrected(vault, alice, rid, amount="99.00", summary="corrected summary")
    done = vault.objections.decide(
        handler(FOOD), obj.id, outcome="upheld", corrected_facts=new_facts, reason="typo in amount"
    )
    assert done.state == "upheld"
    assert done.outcome == "upheld"
    assert done.decided_on == date(2025, 6, 1)
    seen = licensing(vault, alice)[rid]
    assert seen.version == 2
    assert seen.disputed is False
    assert str(seen.facts["amount"]) == "99.00"
    assert seen.facts["summary"] == "corrected summary"

    log = entries_since(vault, start)
    ops = [(e["op"], e["outcome"], e["actor"], e["reason"]) for e in log]
    assert ("objection", "ok", me(alice).id, "objection.filed") in ops
    assert ("objection", "ok", handler(FOOD).id, "objection.upheld") in ops
    assert ("correct", "ok", handler(FOOD).id, "record.corrected:objection_upheld") in ops
    decided = next(e for e in log if e["reason"] == "objection.upheld")
    assert decided["x_object"] == obj.id
    assert decided["x_from"] == "open"
    assert decided["x_to"] == "upheld"
    assert decided["records"] == [rid]
    assert vault.audit.verify().ok


def test_the_previous_version_stays_encrypted_and_is_never_disclosed(
    vault: Vault, db_url: str
) -> None:
    alice = person(2)
    rid = ingest(vault, FOOD, alice, marker="OLDVERSION")
    change = vault.records.correct(
        clerk_for(FOOD),
        rid,
        facts=full_facts(vault.catalog.get(FOOD), "NEWVERSION"),
        reason="the decision document was re-issued",
    )
    assert change.version == 2
    assert change.kind == "correct"
    for view in (own(vault, alice), licensing(vault, alice)):
        rec = view[rid]
        assert rec.version == 2
        assert not any("OLDVERSION" in str(v) for v in rec.facts.values())
        assert any("NEWVERSION" in str(v) for v in rec.facts.values())
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rv = RecordVersion.__table__
            old = conn.execute(select(rv).where(rv.c.record_id == rid)).one()
    finally:
        engine.dispose()
    assert old.version == 1
    assert old.reason == "correction"
    assert old.wrapped_key is not None
    assert b"OLDVERSION" not in bytes(old.fields)


def test_upheld_objection_can_revoke_and_disclosure_ends(vault: Vault) -> None:
    bob = person(3)
    rid = ingest(vault, TAX, bob)
    obj = vault.objections.file(me(bob), rid, reason="the decision was annulled")
    vault.objections.decide(handler(TAX), obj.id, outcome="upheld", revoke=True, reason="annulled")
    assert rid not in licensing(vault, bob)
    d = vault.query(ENFORCER, purpose="joint_punishment", subject=bob, ticket="JP-1")
    assert d.records == ()
    mine = own(vault, bob)[rid]  # the subject still sees it (retained scope)
    assert mine.state == "revoked"
    assert mine.disclosable is False


def test_upheld_needs_a_correction_unless_the_source_already_acted(vault: Vault) -> None:
    bob = person(4)
    rid = ingest(vault, FOOD, bob)
    obj = vault.objections.file(me(bob), rid, reason="wrong")
    with pytest.raises(InputError, match="corrects the record"):
        vault.objections.decide(handler(FOOD), obj.id, outcome="upheld", reason="yes")
    with pytest.raises(InputError, match="not both"):
        vault.objections.decide(
            handler(FOOD), obj.id, outcome="upheld", corrected_facts={}, revoke=True, reason="x"
        )
    with pytest.raises(InputError, match="only an upheld"):
        vault.objections.decide(handler(FOOD), obj.id, outcome="rejected", revoke=True, reason="x")
    with pytest.raises(InputError, match="outcome"):
        vault.objections.decide(handler(FOOD), obj.id, outcome="maybe", reason="x")
    # The source corrects on its own; the handler then upholds without a second change.
    vault.records.correct(
        clerk_for(FOOD), rid, facts=corrected(vault, bob, rid, amount="1.00"), reason="fixed"
    )
    done = vault.objections.decide(handler(FOOD), obj.id, outcome="upheld", reason="fixed already")
    assert done.state == "upheld"
    assert licensing(vault, bob)[rid].version == 2


def test_rejected_needs_reasons_which_the_subject_reads(vault: Vault) -> None:
    carol = person(5)
    rid = ingest(vault, FOOD, carol)
    obj = vault.objections.file(me(carol), rid, reason="not me")
    with pytest.raises(InputError, match="reason is required"):
        vault.objections.decide(handler(FOOD), obj.id, outcome="rejected", reason="  ")
    done = vault.objections.decide(
        handler(FOOD),
        obj.id,
        outcome="rejected",
        reason="the signature on the record matches",
        reason_code="verified_correct",
    )
    assert done.state == "rejected"
    assert done.reason_code == "verified_correct"
    assert licensing(vault, carol)[rid].disputed is False
    got = vault.objections.get(me(carol), obj.id)
    assert got.reason == "not me"
    assert got.decision_reason == "the signature on the record matches"
    # The handling organisation reads the texts too; an auditor sees metadata only.
    assert vault.objections.get(handler(FOOD), obj.id).reason == "not me"
    meta = vault.objections.get(AUDITOR, obj.id)
    assert meta.reason is None
    assert meta.state == "rejected"
    with pytest.raises(PermissionDenied):
        vault.objections.get(me(person(6)), obj.id)
    last = vault.audit.entries(start=vault.audit.head().size - 1)[0]
    assert last["outcome"] == "denied"
    assert last["op"] == "workflow_read"
    rejected = [e for e in vault.audit.entries() if e["reason"].startswith("objection.rejected")]
    assert rejected[0]["reason"] == "objection.rejected:verified_correct"


def test_unresolved_keeps_the_mark_with_the_subjects_statement(vault: Vault) -> None:
    dan = person(7)
    rid = ingest(vault, FOOD, dan)
    obj = vault.objections.file(
        me(dan), rid, reason="incomplete", statement="I appealed; the court has not ruled yet."
    )
    vault.objections.decide(
        handler(FOOD), obj.id, outcome="unresolved", reason="awaiting the court"
    )
    rec = licensing(vault, dan)[rid]
    assert rec.disputed is True
    assert rec.statement == "I appealed; the court has not ruled yet."
    # A new objection may be filed later; withdrawing it leaves the earlier mark.
    again = vault.objections.file(me(dan), rid, reason="new evidence")
    vault.objections.withdraw(me(dan), again.id)
    assert licensing(vault, dan)[rid].disputed is True


def test_withdrawn_objection_clears_the_mark(vault: Vault) -> None:
    eve = person(8)
    rid = ingest(vault, FOOD, eve)
    obj = vault.objections.file(me(eve), rid, reason="mistake")
    assert licensing(vault, eve)[rid].disputed
    out = vault.objections.withdraw(me(eve), obj.id)
    assert out.state == "withdrawn"
    assert not licensing(vault, eve)[rid].disputed


def test_only_the_assigned_organisation_decides_and_refusals_are_logged(vault: Vault) -> None:
    fay = person(9)
    rid = ingest(vault, FOOD, fay)
    obj = vault.objections.file(me(fay), rid, reason="wrong")
    for actor in (
        OTHER_HANDLER,
        clerk_for(FOOD),
        me(fay),
        Actor(id="lic", role="licensing_officer", organisation=source_code(FOOD)),
    ):
        before = vault.audit.head().size
        with pytest.raises(PermissionDenied):
            vault.objections.decide(actor, obj.id, outcome="rejected", reason="no")
        (entry,) = vault.audit.entries(start=before)
        assert entry["outcome"] == "denied"
        assert entry["actor"] == actor.id
        assert entry["reason"] == "objection.reject:not_permitted"
    assert vault.objections.get(me(fay), obj.id).state == "open"
    with pytest.raises(PermissionDenied):
        vault.objections.file(me(person(10)), rid, reason="not my record")
    with pytest.raises(PermissionDenied):
        vault.objections.withdraw(handler(FOOD), obj.id)


def test_illegal_transitions_name_the_states_and_change_nothing(vault: Vault) -> None:
    gus = person(11)
    rid = ingest(vault, FOOD, gus)
    obj = vault.objections.file(me(gus), rid, reason="x")
    with pytest.raises(InvalidTransition, match="'open'"):
        vault.objections.file(me(gus), rid, reason="again")
    vault.objections.decide(handler(FOOD), obj.id, outcome="rejected", reason="checked")
    size = vault.audit.head().size
    events = len(vault.events.poll(limit=10_000))
    with pytest.raises(InvalidTransition, match="from state 'rejected'"):
        vault.objections.decide(handler(FOOD), obj.id, outcome="unresolved", reason="x")
    with pytest.raises(InvalidTransition, match="'withdraw' is not allowed from state 'rejected'"):
        vault.objections.withdraw(me(gus), obj.id)
    assert [e["outcome"] for e in vault.audit.entries(start=size)] == ["denied", "denied"]
    assert len(vault.events.poll(limit=10_000)) == events
    vault.records.revoke(clerk_for(FOOD), rid, reason="withdrawn decision")
    with pytest.raises(InvalidTransition, match="'revoked'"):
        vault.objections.file(me(gus), rid, reason="x")
    with pytest.raises(InvalidTransition, match="'revoked'"):
        vault.records.correct(clerk_for(FOOD), rid, facts={}, reason="x")
    with pytest.raises(InvalidTransition, match="'revoked'"):
        vault.records.revoke(clerk_for(FOOD), rid, reason="x")
    with pytest.raises(NotFound):
        vault.objections.decide(handler(FOOD), "ob_" + "0" * 24, outcome="rejected", reason="x")
    with pytest.raises(NotFound):
        vault.objections.get(me(gus), "not-an-id")
    with pytest.raises(RecordNotFound):
        vault.objections.file(me(gus), "r_missing", reason="x")


def test_an_agent_acts_with_the_subjects_written_consent(vault: Vault) -> None:
    hal = person(12)
    rid = ingest(vault, FOOD, hal)
    agent = Actor(id="lawyer-7", role="subject_agent", organisation="law-firm", subject=hal)
    with pytest.raises(ConsentRequired):
        vault.objections.file(agent, rid, reason="on behalf")
    obj = vault.objections.file(agent, rid, reason="on behalf", consent="AUTH-2025-0601")
    entry = next(e for e in vault.audit.entries() if e.get("x_object") == obj.id)
    assert entry["ticket"] == "AUTH-2025-0601"
    assert entry["actor"] == "lawyer-7"
    with pytest.raises(InputError, match="consent"):
        vault.objections.file(agent, rid, reason="x", consent="bad consent with spaces")
    stranger = Actor(id="x", role="subject_agent", subject=person(13))
    with pytest.raises(PermissionDenied):
        vault.objections.withdraw(stranger, obj.id, consent="AUTH-1")


def test_a_purpose_may_restrict_disputed_records(
    vault: Vault, db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    ivy = person(14)
    rid = ingest(vault, FOOD, ivy)
    vault.objections.file(me(ivy), rid, reason="contested")
    text_ = Path(__file__).resolve().parents[2] / "credit_vault" / "data" / "policy_default.toml"
    policy_text = text_.read_text("utf-8").replace(
        "[purposes.licensing_review]\n", "[purposes.licensing_review]\nrestrict_disputed = true\n"
    )
    with Vault.open(db_url, keys=keys, clock=clock, policy=Policy.from_toml(policy_text)) as v2:
        assert rid not in licensing(v2, ivy)  # GDPR Art 18 restriction for this purpose
        assert rid in own(v2, ivy)  # the subject's own view is not restricted
    assert licensing(vault, ivy)[rid].disputed  # the default policy discloses with the mark


# ------------------------------------------------------------------ records


def test_statements_travel_with_the_record_and_can_be_removed(vault: Vault) -> None:
    jo = person(15)
    rid = ingest(vault, TAX, jo)
    vault.records.statement(me(jo), rid, "I dispute the assessment.")
    d = vault.query(ENFORCER, purpose="joint_punishment", subject=jo, ticket="JP-2")
    assert d.records[0].statement == "I dispute the assessment."
    assert licensing(vault, jo)[rid].statement == "I dispute the assessment."
    change = vault.records.statement(me(jo), rid, None)
    assert change.reason_code == "removed"
    assert licensing(vault, jo)[rid].statement is None
    with pytest.raises(PermissionDenied):
        vault.records.statement(clerk_for(TAX), rid, "not theirs to write")
    with pytest.raises(InputError, match="limit"):
        vault.records.statement(me(jo), rid, "x" * 2001)


def test_corrections_are_validated_like_ingest(vault: Vault) -> None:
    kim = person(16)
    rid = ingest(vault, FOOD, kim)
    good = corrected(vault, kim, rid)
    missing = {k: v for k, v in good.items() if k != "decision_no"}
    with pytest.raises(InvalidRecord, match="required field 'decision_no'"):
        vault.records.correct(clerk_for(FOOD), rid, facts=missing, reason="x")
    with pytest.raises(InvalidRecord, match="may not be collected"):
        vault.records.correct(clerk_for(FOOD), rid, facts={**good, "religion": "x"}, reason="x")
    with pytest.raises(InvalidRecord, match="mapping"):
        vault.records.correct(clerk_for(FOOD), rid, facts=[], reason="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="reason is required"):
        vault.records.correct(clerk_for(FOOD), rid, facts=good, reason="")
    with pytest.raises(PermissionDenied):
        vault.records.correct(clerk_for(TAX), rid, facts=good, reason="other source")
    assert licensing(vault, kim)[rid].version == 1


def test_history_shows_reasons_to_subject_and_source_only(vault: Vault) -> None:
    lu = person(17)
    rid = ingest(vault, FOOD, lu)
    vault.records.correct(
        clerk_for(FOOD),
        rid,
        facts=corrected(vault, lu, rid),
        reason="re-issued",
        reason_code="reissued",
    )
    vault.records.revoke(clerk_for(FOOD), rid, reason="annulled on review")
    for actor in (me(lu), clerk_for(FOOD)):
        hist = vault.records.history(actor, rid)
        assert [(h.kind, h.version, h.state, h.reason_code) for h in hist] == [
            ("correct", 2, "active", "reissued"),
            ("revoke", 2, "revoked", "decision_withdrawn"),
        ]
        assert [h.reason for h in hist] == ["re-issued", "annulled on review"]
    assert [h.reason for h in vault.records.history(AUDITOR, rid)] == [None, None]
    with pytest.raises(PermissionDenied):
        vault.records.history(OFFICER, rid)


# ------------------------------------------------------------------ repairs


def test_repair_approved_ends_disclosure_at_once(vault: Vault) -> None:
    max_ = person(18)
    rid = ingest(vault, FOOD, max_)  # decided 2025-03-01: repairable from 2025-06-01 (3 months)
    assert vault.repairs.eligibility(me(max_), rid).eligible
    app = vault.repairs.apply(me(max_), rid, evidence="fine paid, rectification report")
    assert app.state == "applied"
    assert app.deadline == date(2025, 6, 9)
    assert vault.repairs.eligibility(me(max_), rid).reasons == ("application_open",)
    done = vault.repairs.decide(handler(FOOD), app.id, approve=True, reason="rectified")
    assert done.state == "approved"
    assert rid not in licensing(vault, max_)
    assert own(vault, max_)[rid].state == "repaired"
    events = [e.type for e in vault.events.poll(limit=10_000) if e.record_id == rid]
    assert events == ["repair.applied", "repair.approved", "record.repaired"]


def test_repair_eligibility_follows_the_catalogue(vault: Vault, clock: FrozenClock) -> None:
    ned = person(19)
    early = ingest(vault, FOOD, ned, decided_on=date(2025, 4, 1), occurred_on=date(2025, 3, 1))
    res = vault.repairs.eligibility(me(ned), early)
    assert res.reasons == ("minimum_period_not_passed",)
    assert res.repair_from == date(2025, 7, 1)
    with pytest.raises(InvalidTransition, match="minimum_period_not_passed"):
        vault.repairs.apply(me(ned), early, evidence="x")
    cat = vault.catalog.get(FOOD)
    facts = {f.name: "x" for f in cat.fields if f.type == "string"}
    facts["penalty_kind"] = "吊销许可证件"
    rec = record_for(vault, FOOD, ned)
    banned = vault.ingest(clerk_for(FOOD), rec.model_copy(update={"facts": facts}))
    assert vault.repairs.eligibility(me(ned), banned).reasons == ("penalty_kind_not_repairable",)
    minor = ingest(vault, "penalty.minor", ned)
    assert set(vault.repairs.eligibility(me(ned), minor).reasons) == {
        "category_not_repairable",
        "not_disclosed",
    }
    with pytest.raises(PermissionDenied):
        vault.repairs.eligibility(OFFICER, early)
    clock.set(datetime(2025, 7, 1, 2, 0, tzinfo=UTC))
    assert vault.repairs.eligibility(handler(FOOD), early).eligible


def test_rejected_repair_needs_reasons_and_refiling_waits(vault: Vault, clock: FrozenClock) -> None:
    ola = person(20)
    rid = ingest(vault, FOOD, ola)
    app = vault.repairs.apply(me(ola), rid, evidence="paid")
    with pytest.raises(InputError, match="reason is required"):
        vault.repairs.decide(handler(FOOD), app.id, approve=False)
    with pytest.raises(PermissionDenied):
        vault.repairs.decide(OTHER_HANDLER, app.id, approve=True)
    done = vault.repairs.decide(handler(FOOD), app.id, approve=False, reason="no proof of payment")
    assert done.refile_after == date(2025, 7, 1)
    assert vault.repairs.get(me(ola), app.id).decision_reason == "no proof of payment"
    assert vault.repairs.get(me(ola), app.id).evidence == "paid"
    with pytest.raises(InvalidTransition, match="waiting_period"):
        vault.repairs.apply(me(ola), rid, evidence="paid, receipt attached")
    with pytest.raises(InvalidTransition, match="'rejected'"):
        vault.repairs.decide(handler(FOOD), app.id, approve=True)
    assert rid in licensing(vault, ola)
    clock.set(datetime(2025, 7, 1, 2, 0, tzinfo=UTC))
    again = vault.repairs.apply(me(ola), rid, evidence="paid, receipt attached")
    vault.repairs.withdraw(me(ola), again.id)
    assert [a.state for a in vault.repairs.list(me(ola))] == ["rejected", "withdrawn"]


# ------------------------------------------------------------------ cases and overdue


def test_cases_are_tracked_with_deadlines_and_outcomes(vault: Vault) -> None:
    pat = person(21)
    rid = ingest(vault, FOOD, pat)
    case = vault.cases.open(me(pat), type="complaint", record_id=rid, reason="slow answer")
    assert case.assigned_to == source_code(FOOD)
    assert case.deadline == date(2025, 7, 1)  # 30 days (Z6), a working Tuesday
    assert case.deadline_rule == "30 days"
    moved = vault.cases.assign(handler(FOOD), case.id, to="xn-ndrc")
    assert moved.assigned_to == "xn-ndrc"
    with pytest.raises(PermissionDenied):
        vault.cases.close(handler(FOOD), case.id, outcome="upheld", reason="x")
    ndrc = Actor(id="ndrc-1", role="objection_handler", organisation="xn-ndrc")
    with pytest.raises(InputError, match="outcome"):
        vault.cases.close(ndrc, case.id, outcome="won", reason="x")
    closed = vault.cases.close(ndrc, case.id, outcome="partly_upheld", reason="answered late")
    assert closed.state == "closed"
    got = vault.cases.get(me(pat), case.id)
    assert (got.outcome, got.reason, got.outcome_reason) == (
        "partly_upheld",
        "slow answer",
        "answered late",
    )
    with pytest.raises(InvalidTransition, match="'closed'"):
        vault.cases.withdraw(me(pat), case.id)

    # A registrar opens a reconsideration for someone the vault holds nothing on yet.
    quinn = person(22, "Quinn Q")
    rec_case = vault.cases.open(
        ADMIN, type="reconsideration", subject=quinn, assigned_to="xn-court", reason="appeal"
    )
    assert rec_case.record_id is None
    assert vault.cases.list(me(quinn))[0].id == rec_case.id
    assert vault.cases.withdraw(me(quinn), rec_case.id).state == "withdrawn"
    with pytest.raises(InputError, match="case types"):
        vault.cases.open(ADMIN, type="lawsuit", subject=quinn, assigned_to="x", reason="x")
    with pytest.raises(InputError, match=r"a record .* or a subject"):
        vault.cases.open(ADMIN, type="complaint", assigned_to="x", reason="x")
    with pytest.raises(PermissionDenied):
        vault.cases.open(OFFICER, type="complaint", subject=quinn, assigned_to="x", reason="x")


def test_overdue_report_by_organisation(vault: Vault, clock: FrozenClock) -> None:
    ray = person(23)
    food = ingest(vault, FOOD, ray)
    tax = ingest(vault, TAX, ray)
    obj = vault.objections.file(me(ray), food, reason="x")
    app = vault.repairs.apply(me(ray), food, evidence="y")
    case = vault.cases.open(me(ray), type="complaint", record_id=tax, reason="z")
    assert len(vault.cases.overdue(ADMIN)) == 0
    # Deadlines are the last day to act: overdue from the next day.
    assert len(vault.cases.overdue(ADMIN, on=date(2025, 6, 9))) == 0
    report = vault.cases.overdue(ADMIN, on=date(2025, 6, 10))
    assert [(i.kind, i.id, i.days_overdue) for i in report.items] == [
        ("objection", obj.id, 1),
        ("repair", app.id, 1),
    ]
    clock.set(datetime(2025, 7, 3, 2, 0, tzinfo=UTC))
    report = vault.cases.overdue(AUDITOR)
    assert report.on == date(2025, 7, 3)
    grouped = report.by_organisation
    assert {k: [i.kind for i in v] for k, v in grouped.items()} == {
        source_code(FOOD): ["objection", "repair"],
        source_code(TAX): ["case"],
    }
    assert grouped[source_code(TAX)][0].type == "complaint"
    assert grouped[source_code(TAX)][0].id == case.id
    # A handler sees their own organisation only; others may not ask.
    mine = vault.cases.overdue(handler(TAX))
    assert [i.kind for i in mine.items] == ["case"]
    with pytest.raises(PermissionDenied):
        vault.cases.overdue(OFFICER)
    vault.objections.decide(handler(FOOD), obj.id, outcome="rejected", reason="late but done")
    assert [i.kind for i in vault.cases.overdue(ADMIN).items] == ["repair", "case"]


def test_lists_are_scoped_to_the_actor(vault: Vault) -> None:
    sam = person(24)
    tia = person(25)
    a = ingest(vault, FOOD, sam)
    b = ingest(vault, TAX, tia)
    oa = vault.objections.file(me(sam), a, reason="x")
    ob = vault.objections.file(me(tia), b, reason="y")
    assert [o.id for o in vault.objections.list(me(sam))] == [oa.id]
    assert [o.id for o in vault.objections.list(handler(TAX))] == [ob.id]
    assert {o.id for o in vault.objections.list(ADMIN)} >= {oa.id, ob.id}
    assert [o.id for o in vault.objections.list(ADMIN, subject=tia)] == [ob.id]
    assert vault.objections.list(ADMIN, state="upheld", record_id=a) == []
    with pytest.raises(PermissionDenied):
        vault.objections.list(me(sam), subject=tia)
    with pytest.raises(PermissionDenied):
        vault.objections.list(OFFICER)
    assert vault.objections.list(me(sam))[0].reason is None  # lists carry no texts


# ------------------------------------------------------------------ events and the log


def test_events_outbox_is_ordered_resumable_and_impersonal(vault: Vault) -> None:
    uma = person(26, "UMA-NAME-SECRET")
    rid = ingest(vault, FOOD, uma)
    start = vault.events.poll(limit=10_000)
    cursor = start[-1].seq if start else None
    obj = vault.objections.file(me(uma), rid, reason="REASON-SECRET", statement="STATEMENT-SECRET")
    vault.objections.decide(handler(FOOD), obj.id, outcome="rejected", reason="DECISION-SECRET")
    batch = vault.events.poll(after=cursor)
    assert [(e.type, e.state) for e in batch] == [
        ("objection.filed", "open"),
        ("record.statement", "active"),
        ("objection.rejected", "rejected"),
    ]
    assert batch[0].deadline == date(2025, 6, 9)
    assert batch[0].organisation == source_code(FOOD)
    assert batch[0].subject == vault.pseudonym(uma)
    assert [e.seq for e in batch] == sorted(e.seq for e in batch)
    assert vault.events.poll(after=batch[0].seq, limit=1) == [batch[1]]
    assert vault.events.poll(after=batch[-1].seq) == []
    blob = repr(batch)
    for secret in (uma.identifier, "UMA-NAME-SECRET", "REASON", "STATEMENT", "DECISION"):
        assert secret not in blob
    # Each event is the twin of the access-log entry with the same sequence number.
    log = {e["seq"]: e for e in vault.audit.entries()}
    for ev in batch:
        entry = log[ev.seq]
        assert entry["outcome"] == "ok"
        assert entry["op"] in WORKFLOW_OPS
        assert entry["x_to"] == ev.state
    for e in log.values():
        assert "SECRET" not in str(e)
    with pytest.raises(InputError):
        vault.events.poll(limit=0)
    with pytest.raises(InputError):
        vault.events.poll(after="x")  # type: ignore[arg-type]


def test_every_successful_transition_has_exactly_one_log_entry_and_event(vault: Vault) -> None:
    vic = person(27)
    a = ingest(vault, FOOD, vic)
    b = ingest(vault, TAX, vic)
    before = vault.audit.head().size
    o = vault.objections.file(me(vic), a, reason="x")
    vault.objections.decide(
        handler(FOOD), o.id, outcome="upheld", corrected_facts=corrected(vault, vic, a), reason="y"
    )
    app = vault.repairs.apply(me(vic), a, evidence="z")
    vault.repairs.decide(handler(FOOD), app.id, approve=True)
    vault.records.statement(me(vic), b, "s")
    vault.records.revoke(clerk_for(TAX), b, reason="r")
    c = vault.cases.open(me(vic), type="complaint", record_id=b, reason="c")
    vault.cases.close(handler(TAX), c.id, outcome="dismissed", reason="d")
    writes = [e for e in vault.audit.entries(start=before) if e["op"] in WORKFLOW_OPS]
    assert all(e["outcome"] == "ok" for e in writes)
    events = [e for e in vault.events.poll(limit=10_000) if e.seq >= before]
    assert [e["seq"] for e in writes] == [e.seq for e in events]
    assert [e.type for e in events] == [
        "objection.filed",
        "objection.upheld",
        "record.corrected",
        "repair.applied",
        "repair.approved",
        "record.repaired",
        "record.statement",
        "record.revoked",
        "case.opened",
        "case.closed",
    ]
    assert vault.audit.verify().ok


def test_no_free_text_or_identifier_at_rest(vault: Vault, db_url: str) -> None:
    wes = person(28, "WES-NAME")
    rid = ingest(vault, FOOD, wes)
    obj = vault.objections.file(me(wes), rid, reason="RSN-TEXT-1", statement="STM-TEXT-2")
    vault.objections.decide(handler(FOOD), obj.id, outcome="unresolved", reason="DEC-TEXT-3")
    app = vault.repairs.apply(me(wes), rid, evidence="EVD-TEXT-4")
    vault.repairs.decide(handler(FOOD), app.id, approve=False, reason="REJ-TEXT-5")
    vault.cases.open(me(wes), type="complaint", record_id=rid, reason="CASE-TEXT-6")
    vault.records.revoke(clerk_for(FOOD), rid, reason="REV-TEXT-7")
    blob = stored_bytes(db_url)
    assert source_code(FOOD).encode() in blob
    for secret in (
        "RSN-TEXT",
        "STM-TEXT",
        "DEC-TEXT",
        "EVD-TEXT",
        "REJ-TEXT",
        "CASE-TEXT",
        "REV-TEXT",
        "WES-NAME",
        wes.identifier,
    ):
        assert secret.encode() not in blob, secret


# ------------------------------------------------------------------ migration


def test_migration_0002_upgrades_a_0001_database_and_downgrades(vault: Vault, db_url: str) -> None:
    from alembic import command

    from credit_vault.storage.engine import _alembic_config

    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0001")
        with engine.connect() as conn:
            names = set(_tables(conn))
        assert "cv_objections" not in names
        with engine.begin() as conn:
            command.upgrade(_alembic_config(conn), "head")
        with engine.connect() as conn:
            names = set(_tables(conn))
        assert {
            "cv_objections",
            "cv_repairs",
            "cv_cases",
            "cv_record_changes",
            "cv_events",
        } <= names
    finally:
        engine.dispose()


def _tables(conn: Any) -> Iterator[str]:
    from sqlalchemy import inspect

    yield from inspect(conn).get_table_names()
