"""Fixes from the privacy review: who reads what under the handling purposes.

- ``objection_handling`` and ``credit_repair`` read only the records the handler's
  own organisation pushed (``own_source``); a handler with no organisation is
  refused and logged.
- The subject's name goes only with a disclosed record whose category the reader
  may see at the confidential tier (or to the subject themself).
- ``record_status`` follows the same source rule for those purposes.
"""

from __future__ import annotations

import pytest

from credit_vault import Actor, Policy, SubjectRef, Vault
from credit_vault.errors import InvalidPolicy, PermissionDenied
from tests.helpers import (
    OFFICER,
    citizen_id,
    clerk_for,
    record_for,
    register_all_sources,
    source_code,
)

TRAFFIC = "penalty.traffic"
TAX = "tax.major_violation"
HONOR = "honor.commendation"


def handler(category: str | None) -> Actor:
    org = None if category is None else source_code(category)
    return Actor(id="h-1", role="objection_handler", organisation=org)


def _setup(vault: Vault, n: int, name: str = "钱多多") -> tuple[SubjectRef, str, str]:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(n), name=name)
    traffic = vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s, marker="TRF"))
    tax = vault.ingest(clerk_for(TAX), record_for(vault, TAX, s, marker="TAXDETAIL"))
    return s, traffic, tax


@pytest.mark.parametrize("purpose", ["objection_handling", "credit_repair"])
def test_a_handler_reads_only_its_own_sources_records(vault: Vault, purpose: str) -> None:
    s, traffic, tax = _setup(vault, 1)
    own = vault.query(handler(TRAFFIC), purpose=purpose, subject=s, ticket="OBJ-1")
    assert [r.record_id for r in own.records] == [traffic]
    assert own.records[0].source == source_code(TRAFFIC)
    assert "detail" in own.records[0].facts  # confidential tier, its own record
    assert own.subject_name == "钱多多"
    tax_desk = vault.query(handler(TAX), purpose=purpose, subject=s, ticket="OBJ-1")
    assert [r.record_id for r in tax_desk.records] == [tax]
    # A handler at an organisation that pushed none of them sees nothing, and no name.
    other = vault.query(handler(HONOR), purpose=purpose, subject=s, ticket="OBJ-1")
    assert other.records == ()
    assert other.subject_name is None
    last = vault.audit.entries()[-1]
    assert last["outcome"] == "ok"
    assert last.get("records", []) == []
    assert "subject.name" not in last.get("fields", [])


def test_a_handler_without_an_organisation_is_refused_and_logged(vault: Vault) -> None:
    s, _, _ = _setup(vault, 2)
    before = vault.audit.head().size
    with pytest.raises(PermissionDenied, match="own organisation"):
        vault.query(handler(None), purpose="objection_handling", subject=s, ticket="OBJ-1")
    entries = vault.audit.entries(start=before)
    assert [(e["op"], e["outcome"], e["reason"]) for e in entries] == [
        ("query", "denied", "no_organisation")
    ]


def test_the_name_goes_only_with_a_record_granted_at_the_confidential_tier(
    vault: Vault,
) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(3), name="孙一一")
    # Only a positive record: credit_repair is granted negative categories only, so
    # the listing unit of that positive record reads nothing, and not the name.
    vault.ingest(clerk_for(HONOR), record_for(vault, HONOR, s))
    d = vault.query(handler(HONOR), purpose="credit_repair", subject=s, ticket="REP-1")
    assert d.records == ()
    assert d.subject_name is None
    # A reader granted up to the restricted tier never gets it either.
    vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    d = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="LIC-1")
    assert len(d.records) == 1
    assert d.subject_name is None
    # The subject themself does, with or without records.
    me = Actor(id="me", role="subject", subject=s)
    assert vault.query(me, purpose="self_query", subject=s).subject_name == "孙一一"
    nobody = SubjectRef.person(citizen_id(4), name="周无记")
    vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, nobody))
    alone = Actor(id="me2", role="subject", subject=nobody)
    assert vault.query(alone, purpose="self_query", subject=nobody).subject_name == "周无记"


def test_record_status_follows_the_source_rule(vault: Vault) -> None:
    _, traffic, _ = _setup(vault, 5)
    assert vault.record_status(handler(TRAFFIC), traffic).state == "active"
    with pytest.raises(PermissionDenied):
        vault.record_status(handler(HONOR), traffic)
    last = vault.audit.entries()[-1]
    assert (last["op"], last["outcome"], last["reason"]) == (
        "status",
        "denied",
        "category_not_granted",
    )


def test_own_source_is_a_policy_flag() -> None:
    policy = Policy.default()
    assert policy.purpose("objection_handling").own_source
    assert policy.purpose("credit_repair").own_source
    assert not policy.purpose("court_order").own_source
    with pytest.raises(InvalidPolicy):
        Policy.from_toml(
            'format = 1\nroles = ["r"]\n[purposes.p]\nkind = "records"\nown_source = "yes"\n'
        )
