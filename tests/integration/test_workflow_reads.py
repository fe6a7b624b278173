"""Reads of workflow lists and the overdue report reach each subject's access history,
and an agent lists a subject's objects only with their written consent."""

from __future__ import annotations

from datetime import date

import pytest

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.errors import ConsentRequired
from tests.helpers import AUDITOR, citizen_id, clerk_for, record_for, source_code

FOOD = "penalty.food_drug"


def me(subject: SubjectRef) -> Actor:
    return Actor(id="portal", role="subject", subject=subject)


def _reads(v: Vault, start: int) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (e["subject"], tuple(e["records"]))
        for e in v.audit.entries(start)
        if e["op"] == "workflow_read"
    ]


def _erase_after_the_read(
    vault: Vault, subject: SubjectRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next workflow read: another process erases ``subject`` after the read
    fetched its rows and key, before the read is logged and decrypted."""
    w = vault._workflows
    real = w.subject_kind

    def erase_first(*args: object, **kw: object) -> bool:
        monkeypatch.setattr(w, "subject_kind", real)
        vault.erase_subject(Actor(id="adm", role="admin"), subject, legal_basis="PIPL Art 47")
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(w, "subject_kind", erase_first)


def test_a_list_is_logged_once_per_subject_it_returns(vault: Vault) -> None:
    people = [SubjectRef.person(citizen_id(i)) for i in range(3)]
    rids = []
    for p in people:
        rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, p))
        vault.objections.file(me(p), rid, reason="wrong")
        rids.append(rid)
    handler = Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))
    for actor in (handler, AUDITOR):
        start = vault.audit.head().size
        assert len(vault.objections.list(actor)) == 3
        assert sorted(_reads(vault, start)) == sorted(
            (vault.pseudonym(p), (rid,)) for p, rid in zip(people, rids, strict=True)
        )
    # The overdue report too: every subject whose item it shows.
    start = vault.audit.head().size
    report = vault.cases.overdue(AUDITOR, on=date(2025, 7, 1))
    assert len(report.items) == 3
    assert {s for s, _ in _reads(vault, start)} == {vault.pseudonym(p) for p in people}
    # Each subject's extract now shows who listed their objection.
    mine = vault.audit.entries(0)
    listed = [
        e for e in mine if e["op"] == "workflow_read" and e["subject"] == vault.pseudonym(people[0])
    ]
    assert {e["actor"] for e in listed} >= {"h-1", AUDITOR.id}
    assert vault.audit.verify().ok  # entries appended as a batch hash and chain like any


def test_an_empty_list_is_still_logged(vault: Vault) -> None:
    handler = Actor(id="h-1", role="objection_handler", organisation=source_code(FOOD))
    start = vault.audit.head().size
    assert vault.objections.list(handler) == []
    assert _reads(vault, start) == [("", ())]


def test_an_agent_lists_a_subjects_objects_only_with_consent(vault: Vault) -> None:
    hal = SubjectRef.person(citizen_id(9))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, hal))
    vault.objections.file(me(hal), rid, reason="wrong")
    agent = Actor(id="lawyer-7", role="subject_agent", organisation="law-firm", subject=hal)
    for listing in (vault.objections.list, vault.repairs.list, vault.cases.list):
        start = vault.audit.head().size
        with pytest.raises(ConsentRequired):
            listing(agent)
        [denied] = vault.audit.entries(start)
        assert (denied["op"], denied["outcome"], denied["reason"]) == (
            "workflow_read",
            "denied",
            "consent_required",
        )
    assert len(vault.objections.list(agent, consent="委托书-2025-7")) == 1


def test_only_the_subject_role_reads_a_status_as_the_subject(vault: Vault) -> None:
    from credit_vault.errors import PermissionDenied

    ann = SubjectRef.person(citizen_id(20))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann))
    assert vault.record_status(me(ann), rid).record_id == rid
    for role in ("third_party", "statistician", "subject_agent"):
        posing = Actor(id="x-1", role=role, organisation="elsewhere", subject=ann)
        with pytest.raises(PermissionDenied):
            vault.record_status(posing, rid)


def test_a_get_decrypts_nothing_of_a_subject_erased_after_the_row_was_read(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    hal = SubjectRef.person(citizen_id(30))
    rid = vault.ingest(
        clerk_for("honor.commendation"), record_for(vault, "honor.commendation", hal)
    )
    obj = vault.objections.file(me(hal), rid, reason="GET-MARKER the title is misspelt")
    assert vault.objections.get(me(hal), obj.id).reason is not None
    _erase_after_the_read(vault, hal, monkeypatch)
    start = vault.audit.head().size
    got = vault.objections.get(me(hal), obj.id)
    assert got.reason is None
    [read] = [e for e in vault.audit.entries(start) if e["op"] == "workflow_read"]
    assert read["fields"] == []


def test_odd_arguments_and_a_subject_without_a_subject_ref(vault: Vault) -> None:
    from datetime import datetime

    from credit_vault.errors import InputError, PermissionDenied

    hal = SubjectRef.person(citizen_id(40))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, hal))
    agent = Actor(id="lawyer-7", role="subject_agent", organisation="law-firm", subject=hal)
    with pytest.raises(InputError):
        vault.objections.list(agent, consent=123)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="timezone-aware"):
        vault.audit.review(AUDITOR, datetime(2025, 1, 1), datetime(2025, 2, 1))
    # Role "subject" with no subject= is nobody's subject: no one's record status.
    with pytest.raises(PermissionDenied):
        vault.record_status(Actor(id="anon", role="subject"), rid)


def test_a_history_decrypts_nothing_of_a_subject_erased_meanwhile(
    vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    honor = "honor.commendation"
    hal = SubjectRef.person(citizen_id(31))
    rid = vault.ingest(clerk_for(honor), record_for(vault, honor, hal))
    facts = dict(record_for(vault, honor, hal, marker="FIX").facts)
    vault.records.correct(clerk_for(honor), rid, facts=facts, reason="HISTORY-MARKER typo")
    assert [c.reason for c in vault.records.history(me(hal), rid)] == ["HISTORY-MARKER typo"]
    _erase_after_the_read(vault, hal, monkeypatch)
    assert [c.reason for c in vault.records.history(me(hal), rid)] == [None]
