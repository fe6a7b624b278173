"""Objections and repair applications still open when their record is purged lapse.

Before, the sweep (or an erasure) shredded the record and left the item open for
ever: it stayed on the overdue report and no step could close it (every step on a
purged record is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.errors import InvalidTransition
from credit_vault.testing import FrozenClock
from tests.helpers import AUDITOR, citizen_id, clerk_for, record_for, source_code

FOOD = "penalty.food_drug"  # decided 2025-03-01, conduct 2024-12-01: purged 2029-12-01
HONOR = "honor.commendation"  # no mandatory retention: its subject may be erased
ADMIN = Actor(id="admin-1", role="admin")


def me(subject: SubjectRef) -> Actor:
    return Actor(id=f"portal-{subject.identifier[-4:]}", role="subject", subject=subject)


def test_the_sweep_lapses_open_items_on_the_records_it_purges(
    vault: Vault, clock: FrozenClock
) -> None:
    ann, ben = SubjectRef.person(citizen_id(1)), SubjectRef.person(citizen_id(2))
    disputed = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann))
    applied = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ben))
    obj = vault.objections.file(me(ann), disputed, reason="the amount is wrong")
    app = vault.repairs.apply(me(ben), applied, evidence="fine paid")
    # A decided item is left as it was.
    done = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ben, marker="B2"))
    withdrawn = vault.objections.file(me(ben), done, reason="wrong")
    vault.objections.withdraw(me(ben), withdrawn.id)

    clock.set(datetime(2029, 11, 30, 2, 0, tzinfo=UTC))  # the day before the purge date
    assert {i.id for i in vault.cases.overdue(AUDITOR).items} == {obj.id, app.id}
    clock.set(datetime(2030, 1, 2, 2, 0, tzinfo=UTC))
    # Past the purge date nothing is left to decide, swept or not.
    assert vault.cases.overdue(AUDITOR).items == ()
    last = vault.events.poll()[-1].seq
    report = vault.sweep(ADMIN)
    assert report.purged == 3

    assert vault.objections.get(me(ann), obj.id).state == "lapsed"
    assert vault.repairs.get(me(ben), app.id).state == "lapsed"
    assert vault.objections.get(me(ben), withdrawn.id).state == "withdrawn"
    assert vault.cases.overdue(AUDITOR).items == ()
    lapses = [(e.type, e.object_id, e.record_id) for e in vault.events.poll(after=last)]
    assert sorted(lapses) == sorted(
        [("objection.lapsed", obj.id, disputed), ("repair.lapsed", app.id, applied)]
    )
    logged = [
        (e["op"], e.get("x_to"), e["reason"])
        for e in vault.audit.entries()
        if e.get("x_to") == "lapsed"
    ]
    assert sorted(logged) == [
        ("objection", "lapsed", "objection.lapsed:record_purged"),
        ("repair", "lapsed", "repair.lapsed:record_purged"),
    ]
    assert vault.audit.verify().ok


def test_an_erasure_lapses_the_open_objection_on_the_subjects_records(vault: Vault) -> None:
    cara = SubjectRef.person(citizen_id(3))
    rid = vault.ingest(clerk_for(HONOR), record_for(vault, HONOR, cara))
    obj = vault.objections.file(me(cara), rid, reason="the title is misspelt")
    last = vault.events.poll()[-1].seq
    vault.erase_subject(ADMIN, cara, legal_basis="PIPL Art 47")
    assert [(e.type, e.object_id) for e in vault.events.poll(after=last)] == [
        ("objection.lapsed", obj.id)
    ]
    assert vault.cases.overdue(AUDITOR, on=obj.deadline.replace(year=2030)).items == ()
    assert vault.audit.verify().ok


def test_a_batch_of_lapses_pairs_each_event_with_its_own_log_entry(
    vault: Vault, clock: FrozenClock
) -> None:
    objections = {}
    for i in range(5):
        s = SubjectRef.person(citizen_id(20 + i))
        rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, s))
        objections[vault.objections.file(me(s), rid, reason="wrong").id] = rid
    clock.set(datetime(2030, 1, 2, 2, 0, tzinfo=UTC))
    last = vault.events.poll()[-1].seq
    vault.sweep(ADMIN)
    lapses = [e for e in vault.events.poll(after=last) if e.type == "objection.lapsed"]
    assert {e.object_id for e in lapses} == set(objections)
    entries = {e["seq"]: e for e in vault.audit.entries()}
    for ev in lapses:
        logged = entries[ev.seq]
        assert (logged["op"], logged["x_object"], logged["x_to"]) == (
            "objection",
            ev.object_id,
            "lapsed",
        )
        assert logged["records"] == [objections[ev.object_id]]
    assert vault.audit.verify().ok


def test_past_the_purge_date_no_step_decides_an_item_before_the_sweep(
    vault: Vault, clock: FrozenClock
) -> None:
    # The record is purged as far as steps go from its purge date on: a handler's
    # decision, of any outcome, and the subject's withdrawal are refused and logged,
    # and the sweep then lapses both items, the same end as with the sweep first.
    dan = SubjectRef.person(citizen_id(4))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, dan))
    obj = vault.objections.file(me(dan), rid, reason="the amount is wrong")
    app = vault.repairs.apply(me(dan), rid, evidence="fine paid")
    handler = Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))
    clock.set(datetime(2029, 12, 1, 0, 0, tzinfo=UTC))  # 08:00 in Shanghai on the purge date
    steps = [
        lambda: vault.objections.decide(handler, obj.id, outcome="unresolved", reason="unclear"),
        lambda: vault.objections.decide(handler, obj.id, outcome="rejected", reason="it is right"),
        lambda: vault.repairs.decide(handler, app.id, approve=False, reason="not yet"),
        lambda: vault.objections.withdraw(me(dan), obj.id),
    ]
    for step in steps:
        before = vault.audit.head().size
        with pytest.raises(InvalidTransition, match="purge date"):
            step()
        got = [
            (e["op"], e["outcome"], e["reason"])
            for e in vault.audit.entries(start=before)
            if e["op"] != "heartbeat"  # the clock jumped: the log notes its idle time
        ]
        assert got in (
            [("objection", "denied", "record_purged")],
            [("repair", "denied", "record_purged")],
        )
    assert vault.objections.get(me(dan), obj.id).state == "open"
    vault.sweep(ADMIN)
    assert vault.objections.get(me(dan), obj.id).state == "lapsed"
    assert vault.repairs.get(me(dan), app.id).state == "lapsed"
    assert vault.audit.verify().ok


def test_the_overdue_report_leaves_an_item_out_from_its_records_purge_date(
    vault: Vault, clock: FrozenClock
) -> None:
    eve = SubjectRef.person(citizen_id(5))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, eve))
    obj = vault.objections.file(me(eve), rid, reason="the amount is wrong")
    purge_on = vault.record_status(ADMIN, rid).purge_on
    assert purge_on is not None
    on_the_eve = vault.cases.overdue(AUDITOR, on=purge_on - timedelta(days=1)).items
    assert [i.id for i in on_the_eve] == [obj.id]
    assert vault.cases.overdue(AUDITOR, on=purge_on).items == ()


def test_a_case_about_a_record_past_its_purge_date_can_still_be_closed(
    vault: Vault, clock: FrozenClock
) -> None:
    # Cases (complaints, reconsiderations) outlive the record: only objections and
    # repairs lapse with it.
    fay = SubjectRef.person(citizen_id(6))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, fay))
    case = vault.cases.open(ADMIN, type="complaint", record_id=rid, reason="handled badly")
    clock.set(datetime(2029, 12, 1, 0, 0, tzinfo=UTC))  # the record's purge date
    desk = Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))
    closed = vault.cases.close(desk, case.id, outcome="upheld", reason="apologised")
    assert closed.state == "closed"
