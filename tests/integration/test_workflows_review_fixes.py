"""Review fixes in the workflow services, end to end on a SQLite file and on PostgreSQL.

- N3: licence revocations and bans are refused repair; ordinary penalties are not.
- A pending repair is judged again when the handler approves it.
- Steps judge the record's state as of the clock: the outcome never depends on
  whether a sweep has run (window ended; purge date come).
- C1: a defaulter's repair application is due in 3 working days.
- Bad argument types get InputError, never a raw exception.

The clock starts at 2025-06-01 10:00 in Shanghai (the ``clock`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.errors import CreditVaultError, InputError, InvalidTransition
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, full_facts, record_for, source_code

FOOD = "penalty.food_drug"  # general: disclosed 1 year, repairable after 3 months
DEFAULTER = "court.defaulter"  # C1: repairable on performance
ADMIN = Actor(id="admin-1", role="admin")


def person(n: int) -> SubjectRef:
    return SubjectRef.person(citizen_id(n))


def me(subject: SubjectRef) -> Actor:
    return Actor(id=f"portal-{subject.identifier[-4:]}", role="subject", subject=subject)


def handler(category: str) -> Actor:
    return Actor(
        id=f"handler-{category}", role="objection_handler", organisation=source_code(category)
    )


def at(y: int, m: int, d: int) -> datetime:
    """10:00 in Shanghai on that day."""
    return datetime(y, m, d, 2, 0, tzinfo=UTC)


def food_facts(vault: Vault, penalty_kind: str) -> dict[str, Any]:
    return {**full_facts(vault.catalog.get(FOOD)), "penalty_kind": penalty_kind}


def ingest_food(vault: Vault, subject: SubjectRef, penalty_kind: str = "罚款", **kw: Any) -> str:
    rec = record_for(vault, FOOD, subject, **kw)
    return vault.ingest(
        clerk_for(FOOD), rec.model_copy(update={"facts": food_facts(vault, penalty_kind)})
    )


def disclosed(vault: Vault, subject: SubjectRef) -> set[str]:
    d = vault.query(OFFICER, purpose="licensing_review", subject=subject, ticket="LIC-1")
    return {r.record_id for r in d.records}


# ------------------------------------------------------------------ N3


@pytest.mark.parametrize("kind", ["吊销营业执照", "吊销食品经营许可证", "限制从业"])
def test_licence_revocations_and_bans_cannot_be_repaired(vault: Vault, kind: str) -> None:
    """N3: revocation of a licence and bans cannot be ended early."""
    sam = person(301)
    rid = ingest_food(vault, sam, kind)  # decided 2025-03-01: 3 months have passed today
    assert vault.repairs.eligibility(me(sam), rid).reasons == ("penalty_kind_not_repairable",)
    with pytest.raises(InvalidTransition, match="penalty_kind_not_repairable"):
        vault.repairs.apply(me(sam), rid, evidence="rectified")
    assert vault.repairs.list(me(sam)) == []


def test_ordinary_penalties_can_be_repaired(vault: Vault) -> None:
    for n, kind in enumerate(["urban_management_fine", "罚款", "警告"]):
        subject = person(310 + n)
        rid = ingest_food(vault, subject, kind)
        assert vault.repairs.eligibility(me(subject), rid).eligible, kind
        app = vault.repairs.apply(me(subject), rid, evidence="fine paid")
        assert vault.repairs.decide(handler(FOOD), app.id, approve=True).state == "approved"
        assert rid not in disclosed(vault, subject)


# ------------------------------------------------------------------ re-checked at the decision


def test_a_correction_to_a_licence_revocation_blocks_a_pending_approval(vault: Vault) -> None:
    ada = person(320)
    rid = ingest_food(vault, ada, "罚款")
    app = vault.repairs.apply(me(ada), rid, evidence="fine paid")
    vault.records.correct(
        clerk_for(FOOD),
        rid,
        facts=food_facts(vault, "吊销食品经营许可证"),
        reason="the decision also revoked the permit",
    )
    size = vault.audit.head().size
    with pytest.raises(InvalidTransition, match="penalty_kind_not_repairable") as refused:
        vault.repairs.decide(handler(FOOD), app.id, approve=True, reason="rectified")
    assert "application_open" not in refused.value.message
    (entry,) = vault.audit.entries(start=size)
    assert (entry["outcome"], entry["reason"]) == (
        "denied",
        "repair.approve:penalty_kind_not_repairable",
    )
    # Nothing changed: the application waits, the record is still disclosed.
    assert vault.repairs.get(handler(FOOD), app.id).state == "applied"
    assert rid in disclosed(vault, ada)
    assert vault.record_status(ADMIN, rid).stored_state == "active"
    # The handler ends it with reasons.
    done = vault.repairs.decide(handler(FOOD), app.id, approve=False, reason="licence revoked: N3")
    assert done.state == "rejected"
    types = [e.type for e in vault.events.poll(limit=10_000) if e.record_id == rid]
    assert types == ["repair.applied", "record.corrected", "repair.rejected"]


# ------------------------------------------------------------------ the clock, not the sweep


def test_a_repair_decided_after_the_window_ended_does_not_depend_on_the_sweep(
    vault: Vault, clock: FrozenClock
) -> None:
    """Applied while disclosed, decided after the window ended: approved, swept or not."""
    bea, cal = person(330), person(331)
    rids = [ingest_food(vault, s) for s in (bea, cal)]  # windows end 2026-03-01
    clock.set(at(2026, 2, 26))
    apps = [
        vault.repairs.apply(me(s), r, evidence="rectified")
        for s, r in zip((bea, cal), rids, strict=True)
    ]
    clock.set(at(2026, 3, 2))
    assert vault.record_status(ADMIN, rids[0]).stored_state == "active"
    first = vault.repairs.decide(handler(FOOD), apps[0].id, approve=True)
    assert vault.sweep(ADMIN).expired == 1
    assert vault.record_status(ADMIN, rids[1]).stored_state == "expired"
    second = vault.repairs.decide(handler(FOOD), apps[1].id, approve=True)
    assert (first.state, second.state) == ("approved", "approved")
    for rid in rids:
        assert vault.record_status(ADMIN, rid).stored_state == "repaired"
        (step,) = [
            e
            for e in vault.audit.entries()
            if e["op"] == "transition" and e["outcome"] == "ok" and rid in e["records"]
        ]
        assert (step["x_from"], step["x_to"]) == ("expired", "repaired")
    # A new application still needs a disclosed record.
    dan = person(332)
    clock.set(at(2025, 6, 1))
    late = ingest_food(vault, dan)
    clock.set(at(2026, 3, 2))
    with pytest.raises(InvalidTransition, match="not_disclosed"):
        vault.repairs.apply(me(dan), late, evidence="rectified")


def _steps_on(vault: Vault, subject: SubjectRef, rid: str, app_id: str) -> list[str]:
    """Try every record step; return what each one raised (all must be refused)."""
    facts = food_facts(vault, "罚款")
    steps: list[Callable[[], object]] = [
        lambda: vault.records.correct(clerk_for(FOOD), rid, facts=facts, reason="typo"),
        lambda: vault.records.revoke(clerk_for(FOOD), rid, reason="withdrawn"),
        lambda: vault.records.statement(me(subject), rid, "my side"),
        lambda: vault.objections.file(me(subject), rid, reason="not me"),
        lambda: vault.repairs.apply(me(subject), rid, evidence="again"),
        lambda: vault.repairs.decide(handler(FOOD), app_id, approve=True),
    ]
    out = []
    for step in steps:
        with pytest.raises(CreditVaultError) as refused:
            step()
        out.append(f"{type(refused.value).__name__}: {refused.value.message}")
    return out


def test_steps_past_the_purge_date_are_refused_as_after_a_sweep(
    vault: Vault, clock: FrozenClock
) -> None:
    """From its purge date a record is read as deleted; no step acts on it, swept or not."""
    eve, fay = person(340), person(341)
    # Conduct ended 2020-06-10: purge on 2025-06-10 (5 years); disclosed until then.
    rids = [ingest_food(vault, s, occurred_on=date(2020, 6, 10)) for s in (eve, fay)]
    apps = [
        vault.repairs.apply(me(s), r, evidence="rectified")
        for s, r in zip((eve, fay), rids, strict=True)
    ]
    clock.set(at(2025, 6, 10))
    status = vault.record_status(ADMIN, rids[0])
    assert (status.stored_state, status.purge_due) == ("active", True)
    events = len(vault.events.poll(limit=10_000))
    unswept = _steps_on(vault, eve, rids[0], apps[0].id)
    # Nothing was written: no version, no event, the record still holds version 1.
    assert len(vault.events.poll(limit=10_000)) == events
    assert vault.record_status(ADMIN, rids[0]).version == 1
    assert vault.objections.list(ADMIN, record_id=rids[0]) == []
    assert vault.repairs.eligibility(me(eve), rids[0]).reasons == (
        "not_disclosed",
        "application_open",
    )

    assert vault.sweep(ADMIN).purged == 2
    swept = _steps_on(vault, fay, rids[1], apps[1].id)
    # The record steps are refused alike; the sweep also lapsed the pending
    # application (its record is gone), so its decision is refused from 'lapsed'.
    assert unswept[:-1] == swept[:-1]
    assert all(s.startswith("InvalidTransition") and "'purged'" in s for s in unswept)
    assert all(s.startswith("InvalidTransition") and "'purged'" in s for s in swept[:-1])
    assert swept[-1].startswith("InvalidTransition")
    assert "'lapsed'" in swept[-1]
    assert vault.repairs.get(me(fay), apps[1].id).state == "lapsed"
    assert vault.repairs.eligibility(me(fay), rids[1]).reasons == ("not_disclosed",)


# ------------------------------------------------------------------ C1 deadline


def test_a_defaulter_s_repair_is_due_in_three_working_days(
    vault: Vault, clock: FrozenClock
) -> None:
    """C1: removed within 3 working days of performance; other categories keep 5."""
    gus = person(350)
    clock.set(at(2025, 3, 3))
    listed = vault.ingest(
        clerk_for(DEFAULTER),
        record_for(vault, DEFAULTER, gus, decided_on=date(2025, 3, 3)),
    )
    fined = ingest_food(vault, gus)
    clock.set(at(2025, 6, 2))  # Dragon Boat holiday; the debtor performed and applies
    app = vault.repairs.apply(me(gus), listed, evidence="judgment fully performed")
    other = vault.repairs.apply(me(gus), fined, evidence="fine paid")
    assert (app.deadline, app.deadline_rule) == (date(2025, 6, 5), "3 working days")
    assert (other.deadline, other.deadline_rule) == (date(2025, 6, 9), "5 working days")
    assert [i.id for i in vault.cases.overdue(ADMIN, on=date(2025, 6, 5)).items] == []
    assert [i.id for i in vault.cases.overdue(ADMIN, on=date(2025, 6, 6)).items] == [app.id]
    stored = vault.repairs.get(me(gus), app.id)
    assert (stored.deadline, stored.deadline_rule) == (date(2025, 6, 5), "3 working days")


# ------------------------------------------------------------------ typed errors


def test_wrong_argument_types_get_input_error(vault: Vault) -> None:
    hal = person(360)
    rid = ingest_food(vault, hal)
    obj = vault.objections.file(me(hal), rid, reason="not me")
    size = vault.audit.head().size
    for outcome in (["upheld"], {"upheld": 1}, 1):
        with pytest.raises(InputError, match="outcome must be"):
            vault.objections.decide(
                handler(FOOD),
                obj.id,
                outcome=outcome,  # type: ignore[arg-type]
                reason="x",
            )
    assert vault.audit.head().size == size  # refused before anything was read or logged
    assert vault.objections.get(handler(FOOD), obj.id).state == "open"
    size = vault.audit.head().size
    id_text = hal.identifier
    calls: list[Callable[[], object]] = [
        lambda: vault.objections.list(ADMIN, subject=id_text),  # type: ignore[arg-type]
        lambda: vault.repairs.list(ADMIN, subject=id_text),  # type: ignore[arg-type]
        lambda: vault.cases.list(ADMIN, subject=id_text),  # type: ignore[arg-type]
        lambda: vault.objections.list(me(hal), subject=id_text),  # type: ignore[arg-type]
        lambda: vault.objections.list(handler(FOOD), subject=id_text),  # type: ignore[arg-type]
        lambda: vault.objections.list(ADMIN, state=["open"]),  # type: ignore[arg-type]
        lambda: vault.repairs.list(ADMIN, record_id=[rid]),  # type: ignore[arg-type]
        lambda: vault.cases.list(ADMIN, type=["complaint"]),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InputError) as bad:
            call()
        assert id_text not in str(bad.value)
        assert rid not in str(bad.value)
    # Refused before anything was read: nothing was logged.
    assert vault.audit.head().size == size
