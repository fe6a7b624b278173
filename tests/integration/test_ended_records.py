"""Records whose disclosure ended early reach only the subject and the handlers.

N1: repair ends publication, sharing *and use*; S5/N3: a revoked decision is
withdrawn. Before, every retained-scope purpose (a court order, say) still received
a repaired or revoked record, with its confidential facts, until the purge date.
"""

from __future__ import annotations

from credit_vault import Actor, SubjectRef, Vault
from tests.helpers import citizen_id, clerk_for, record_for, source_code

FOOD = "penalty.food_drug"  # decided 2025-03-01: repairable from 2025-06-01
COURT = Actor(id="judge-1", role="court_officer", organisation="court")


def me(subject: SubjectRef) -> Actor:
    return Actor(id="portal", role="subject", subject=subject)


def handler() -> Actor:
    return Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))


def court_sees(vault: Vault, subject: SubjectRef) -> set[str]:
    d = vault.query(COURT, purpose="court_order", subject=subject, ticket="(2025)鄂民1号")
    return {r.record_id for r in d.records}


def test_repaired_and_revoked_records_leave_court_orders_but_not_the_subject(
    vault: Vault,
) -> None:
    ann = SubjectRef.person(citizen_id(1))
    repaired = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann, marker="R"))
    revoked = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann, marker="V"))
    kept = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann, marker="K"))
    assert court_sees(vault, ann) == {repaired, revoked, kept}

    app = vault.repairs.apply(me(ann), repaired, evidence="fine paid")
    vault.repairs.decide(handler(), app.id, approve=True, reason="rectified")
    vault.records.revoke(clerk_for(FOOD), revoked, reason="decision_withdrawn")

    before = vault.audit.head().size
    assert court_sees(vault, ann) == {kept}
    # The court's log entry lists what it received: the ended records are not in it.
    (entry,) = vault.audit.entries(before)
    assert entry["records"] == [kept]
    # The subject still sees their whole file, with each record's state.
    mine = vault.query(me(ann), purpose="self_query", subject=ann).records
    assert {(r.record_id, r.state) for r in mine} == {
        (repaired, "repaired"),
        (revoked, "revoked"),
        (kept, "active"),
    }
