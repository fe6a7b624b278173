"""Tests for rules a mutation review found no test guarding.

Each test here failed on a deliberately broken copy of the code that the rest of
the suite let through:

- the read path decrypting every stored field and filtering afterwards, or
  decrypting records outside their window (invariants 3 and 4: what a purpose may
  not see is never decrypted) — caught with a spy on the key unwrap and the field
  decryption;
- the log entry of a query without the names of the disclosed fields;
- a query's ``categories=`` filter ignored;
- a handler of another organisation reading an objection's or repair's texts;
- log timestamps running backwards when the clock steps back;
- a grant's code selector matching by prefix, or an unknown selector kind.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from credit_vault import Actor, Catalog, Policy, SubjectRef, Vault
from credit_vault.crypto import Envelope, FieldCipher
from credit_vault.domain.policy import Grant, Purpose
from credit_vault.errors import InvalidPolicy, PermissionDenied
from credit_vault.testing import FrozenClock
from tests.helpers import OFFICER, citizen_id, clerk_for, record_for, register_all_sources

TRAFFIC = "penalty.traffic"  # disclosed 1 year from the decision
TAX = "tax.major_violation"  # disclosed 3 years


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Every data-key unwrap (record id) and field decryption (record id, field)."""
    seen: dict[str, list[Any]] = {"unwrap": [], "decrypt": []}
    real_unwrap, real_decrypt = Envelope.unwrap, FieldCipher.decrypt

    def unwrap(self: Envelope, record_id: str, *args: Any, **kw: Any) -> Any:
        seen["unwrap"].append(record_id)
        return real_unwrap(self, record_id, *args, **kw)

    def decrypt(self: FieldCipher, record_id: str, field: str, *args: Any, **kw: Any) -> Any:
        seen["decrypt"].append((record_id, field))
        return real_decrypt(self, record_id, field, *args, **kw)

    monkeypatch.setattr(Envelope, "unwrap", unwrap)
    monkeypatch.setattr(FieldCipher, "decrypt", decrypt)
    return seen


def _three_records(vault: Vault, n: int) -> tuple[SubjectRef, str, str, str]:
    """In-window traffic and tax records, and a traffic record whose window ended."""
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(n), name="郑可")
    live = vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    tax = vault.ingest(clerk_for(TAX), record_for(vault, TAX, s))
    ended = vault.ingest(
        clerk_for(TRAFFIC),
        record_for(vault, TRAFFIC, s, decided_on=date(2023, 2, 1), occurred_on=date(2023, 1, 1)),
    )
    return s, live, tax, ended


def test_a_query_decrypts_only_what_it_discloses(vault: Vault, spy: dict[str, list[Any]]) -> None:
    s, live, tax, ended = _three_records(vault, 1)
    spy["unwrap"].clear()
    spy["decrypt"].clear()
    d = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1")
    assert {r.record_id for r in d.records} == {live, tax}
    disclosed = {(r.record_id, f) for r in d.records for f in r.facts}
    # Every decryption is of a field the reader got; the confidential `detail` and
    # the record outside its window were never decrypted, nor its key unwrapped.
    assert set(spy["decrypt"]) == disclosed
    assert all(f != "detail" for _, f in spy["decrypt"])
    assert ended not in spy["unwrap"]
    assert not any(rid == ended for rid, _ in spy["decrypt"])
    for r in d.records:
        assert "detail" in r.withheld_fields


def test_a_query_logs_the_names_of_exactly_the_fields_it_disclosed(vault: Vault) -> None:
    s, live, tax, _ = _three_records(vault, 2)
    d = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1")
    (entry,) = vault.audit.entries(d.access_seq, d.access_seq + 1)
    assert set(entry["fields"]) == {f for r in d.records for f in r.facts}
    assert sorted(entry["records"]) == sorted([live, tax])
    assert sorted(entry["categories"]) == sorted([TRAFFIC, TAX])
    me = Actor(id="me", role="subject", subject=s)
    mine = vault.query(me, purpose="self_query", subject=s)
    (entry,) = vault.audit.entries(mine.access_seq, mine.access_seq + 1)
    assert mine.subject_name == "郑可"
    assert set(entry["fields"]) == {f for r in mine.records for f in r.facts} | {"subject.name"}


def test_a_query_returns_and_logs_only_the_categories_asked_for(
    vault: Vault, spy: dict[str, list[Any]]
) -> None:
    s, live, tax, _ = _three_records(vault, 3)
    spy["unwrap"].clear()
    d = vault.query(
        OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1", categories=[TRAFFIC]
    )
    assert [r.record_id for r in d.records] == [live]
    assert tax not in spy["unwrap"]
    (entry,) = vault.audit.entries(d.access_seq, d.access_seq + 1)
    assert entry["categories"] == [TRAFFIC]
    assert entry["records"] == [live]


@pytest.mark.parametrize("kind", ["objection", "repair"])
def test_a_handler_of_another_organisation_reads_no_workflow_text(vault: Vault, kind: str) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(4))
    me = Actor(id="me", role="subject", subject=s)
    rid = vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    if kind == "objection":
        item = vault.objections.file(me, rid, reason="MARKER the date is wrong")
        get = vault.objections.get
    else:
        item = vault.repairs.apply(me, rid, evidence="MARKER fine paid")
        get = vault.repairs.get  # type: ignore[assignment]
    own = Actor(id="h-1", role="objection_handler", organisation=clerk_for(TRAFFIC).organisation)
    other = Actor(id="h-2", role="objection_handler", organisation="another-bureau")
    assert "MARKER" in repr(dataclasses.asdict(get(own, item.id)))
    before = vault.audit.head().size
    try:
        seen = get(other, item.id)
    except PermissionDenied:
        entries = vault.audit.entries(start=before)
        assert [(e["op"], e["outcome"]) for e in entries] == [("workflow_read", "denied")]
    else:
        assert "MARKER" not in repr(dataclasses.asdict(seen))


def test_log_times_never_run_backwards_when_the_clock_steps_back(
    vault: Vault, clock: FrozenClock
) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(5))
    vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    clock.set(datetime(2025, 6, 1, 1, 0, tzinfo=UTC))  # an hour back (NTP, another host)
    vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1")
    clock.advance(timedelta(minutes=5))
    vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-2")
    stamps = [e["ts"] for e in vault.audit.entries()]
    assert stamps == sorted(stamps)
    assert vault.audit.verify().ok


def _policy_with(selector: str) -> Policy:
    return Policy(
        purposes=[Purpose(name="p")],
        roles=["r"],
        grants=[Grant(role="r", purpose="p", categories=(selector,), max_tier="public")],
    )


def test_a_code_selector_matches_that_code_only() -> None:
    catalog = Catalog.default()
    policy = Policy.from_toml(
        'format = 1\nroles = ["r"]\n[purposes.p]\n'
        '[[grants]]\nrole = "r"\npurpose = "p"\ncategories = ["penalty"]\nmax_tier = "public"\n'
    )
    decision = policy.authorize(
        role="r", purpose="p", ticket=None, is_self=False, has_consent=False
    )
    assert decision.allowed
    assert decision.max_tier(catalog.get(TRAFFIC)) is None
    assert decision.max_tier(catalog.get("penalty.minor")) is None
    exact = _policy_with(TRAFFIC).authorize(
        role="r", purpose="p", ticket=None, is_self=False, has_consent=False
    )
    assert exact.max_tier(catalog.get(TRAFFIC)) == "public"
    assert exact.max_tier(catalog.get("penalty.minor")) is None


@pytest.mark.parametrize("selector", ["domian:tax", "Penalty.traffic", "", "*, tax"])
def test_a_grant_built_in_code_with_a_bad_selector_is_refused(selector: str) -> None:
    with pytest.raises(InvalidPolicy, match="selectors"):
        _policy_with(selector)
