"""Fixes from the privacy review: who reads what under the handling purposes.

- ``objection_handling`` and ``credit_repair`` read only the records the handler's
  own organisation pushed (``own_source``); a handler with no organisation is
  refused and logged.
- The subject's name goes only with a disclosed record whose category the reader
  may see at the confidential tier (or to the subject themself).
- ``record_status`` follows the same source rule for those purposes.
- Caller text the log keeps in clear (tickets, legal bases, actor ids, roles,
  record ids, request ids) carries no ID number: identifiers are masked, malformed
  tickets and record ids and unknown roles are not repeated, request ids are checked.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from credit_vault import Actor, Policy, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InputError, InvalidPolicy, PermissionDenied, RecordNotFound
from credit_vault.testing import FrozenClock
from tests.helpers import (
    OFFICER,
    citizen_id,
    clerk_for,
    record_for,
    register_all_sources,
    source_code,
    stored_bytes,
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
    assert vault.record_status(handler(TRAFFIC), traffic, ticket="OBJ-1").state == "active"
    with pytest.raises(PermissionDenied):
        vault.record_status(handler(HONOR), traffic, ticket="OBJ-1")
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


# --- caller text in the access log ---------------------------------------------

ID_IN_TEXT = "110101198501011239"  # a citizen ID number someone typed into free text


def _ids_absent(db_url: str, vault: Vault) -> None:
    """The number is neither in any log entry nor anywhere in the stored bytes."""
    for entry in vault.audit.entries():
        assert ID_IN_TEXT not in repr(entry)
    vault.close()
    assert ID_IN_TEXT.encode() not in stored_bytes(db_url)


def test_an_id_number_in_a_ticket_is_masked_and_a_malformed_ticket_not_kept(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    vault = Vault.open(db_url, keys=keys, clock=clock)
    s, _, _ = _setup(vault, 6)
    d = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket=f"案-{ID_IN_TEXT}-李")
    assert vault.audit.entries()[-1]["ticket"] == "案-[id]-李"
    assert d.records
    with pytest.raises(PermissionDenied):
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket=f"张三 {ID_IN_TEXT}")
    last = vault.audit.entries()[-1]
    assert (last["outcome"], last["reason"], last["ticket"]) == (
        "denied",
        "ticket_malformed",
        "(malformed)",
    )
    _ids_absent(db_url, vault)


def test_roles_record_ids_and_erasure_bases_from_the_caller_are_not_repeated(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    vault = Vault.open(db_url, keys=keys, clock=clock)
    s, _, _ = _setup(vault, 7)
    stranger = Actor(id=f"u-{ID_IN_TEXT}", role=f"王五{ID_IN_TEXT}", organisation="x")
    with pytest.raises(PermissionDenied) as info:
        vault.record_status(stranger, "r_" + "0" * 24)
    assert ID_IN_TEXT not in str(info.value)
    assert "王五" not in str(info.value)
    last = vault.audit.entries()[-1]
    assert (last["role"], last["actor"]) == ("(unknown)", "u-[id]")
    with pytest.raises(RecordNotFound):
        vault.record_status(Actor(id="adm", role="admin"), ID_IN_TEXT)
    assert vault.audit.entries()[-1]["records"] == ["(invalid)"]
    with pytest.raises(PermissionDenied):  # retention is mandatory for the traffic record
        vault.erase_subject(
            Actor(id="adm", role="admin"), s, legal_basis=f"申请人 身份证{ID_IN_TEXT}"
        )
    assert vault.audit.entries()[-1]["basis"] == "申请人 身份证[id]"
    _ids_absent(db_url, vault)


@pytest.mark.parametrize("bad", ["请求-1", "a b", "x" * 65, "line\nbreak", "tab\tx"])
def test_a_request_id_must_be_a_plain_token(vault: Vault, bad: str) -> None:
    s, _, _ = _setup(vault, 8)
    before = vault.audit.head().size
    with pytest.raises(InputError, match="request_id"):
        vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="L-1", request_id=bad)
    assert vault.audit.head().size == before  # refused before anything, not logged
    ok = vault.query(
        OFFICER, purpose="licensing_review", subject=s, ticket="L-1", request_id="trace:4bf9.2-a_b"
    )
    assert ok.request_id == "trace:4bf9.2-a_b"
    assert vault.audit.entries()[-1]["request"] == "trace:4bf9.2-a_b"


def test_an_id_number_in_a_request_id_is_masked_in_the_log(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    vault = Vault.open(db_url, keys=keys, clock=clock)
    s, _, _ = _setup(vault, 10)
    trace = "0af7651916cd43dd8448eb211c80319c"
    card_shaped = "span-4111111111111111"  # strictly: only checked ID numbers are masked
    for request_id, logged in (
        (f"req-{ID_IN_TEXT}", "req-[id]"),
        (trace, trace),
        (card_shaped, card_shaped),
    ):
        d = vault.query(
            OFFICER, purpose="licensing_review", subject=s, ticket="L-1", request_id=request_id
        )
        assert d.request_id == request_id
        assert vault.audit.entries()[-1]["request"] == logged
    _ids_absent(db_url, vault)


def test_sqlalchemy_logging_shows_no_bound_values(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    marker = "r_" + "ab" * 12  # a caller's id, bound as a parameter
    with Vault.open(db_url, keys=keys, clock=clock) as vault:
        s, _, _ = _setup(vault, 9, name="MARKERNAME吴")
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            with pytest.raises(RecordNotFound):
                vault.record_status(Actor(id="adm", role="admin"), marker)
            vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="L-1")
        statements = [r for r in caplog.records if r.name.startswith("sqlalchemy.engine")]
        assert statements  # the logger did log the statements
        text = "\n".join(r.getMessage() for r in statements)
        assert "cv_records" in text
        assert marker not in text
        assert "hidden due to hide_parameters" in text


def test_the_review_does_not_flag_own_source_reads_as_same_org_reads(vault: Vault) -> None:
    from tests.helpers import AUDITOR

    s, _, _ = _setup(vault, 11)
    desk = handler(TRAFFIC)
    for purpose in ("objection_handling", "credit_repair"):
        assert vault.query(desk, purpose=purpose, subject=s, ticket="OBJ-1").records
    # A clerk reading its own source's record under another purpose still is one.
    clerk_reader = Actor(id="c-9", role="court_officer", organisation=source_code(TRAFFIC))
    assert vault.query(clerk_reader, purpose="court_order", subject=s, ticket="C-1").records
    report = vault.audit.review(AUDITOR, date(2025, 6, 1), date(2025, 6, 1))
    same = [f for f in report.findings if f.kind == "same_org_read"]
    assert [(f.actor, f.count) for f in same] == [("c-9", 1)]


def test_a_role_the_workflows_table_empowers_is_logged_by_name(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from importlib.resources import files

    source = files("credit_vault.data").joinpath("policy_default.toml").read_text("utf-8")
    custom = source.replace(
        'report_roles = ["admin", "auditor"]', 'report_roles = ["admin", "auditor", "supervisor"]'
    )
    assert custom != source
    policy = Policy.from_toml(custom)
    assert "supervisor" not in policy.roles
    with Vault.open(db_url, keys=keys, clock=clock, policy=policy) as vault:
        vault.cases.overdue(Actor(id="sup-7", role="supervisor"))
        last = vault.audit.entries()[-1]
        assert (last["op"], last["outcome"], last["role"]) == ("workflow_read", "ok", "supervisor")


def test_the_bundle_manifest_names_the_exporter_as_the_log_does(
    vault: Vault, tmp_path: Path
) -> None:
    import json
    import zipfile

    auditor = Actor(id=f"aud-{ID_IN_TEXT}", role="auditor")
    result = vault.audit.export(auditor, tmp_path / "b.zip")
    with zipfile.ZipFile(tmp_path / "b.zip") as z:
        manifest = json.loads(z.read("manifest.json"))
        everything = b"".join(z.read(n) for n in z.namelist())
    assert manifest["exported_by"]["actor"] == "aud-[id]"
    assert ID_IN_TEXT.encode() not in everything
    assert result.entries > 0


def test_record_changes_keep_the_actor_masked_and_history_shows_it_so(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    from tests.helpers import AUDITOR

    vault = Vault.open(db_url, keys=keys, clock=clock)
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(12))
    rid = vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    portal = Actor(
        id=f"portal:{ID_IN_TEXT}", role="subject", subject=s, organisation=f"个人-{ID_IN_TEXT}"
    )
    made = vault.records.statement(portal, rid, text="I paid the fine")
    assert made.by == "portal:[id]"
    (change,) = vault.records.history(AUDITOR, rid)
    assert change.by == "portal:[id]"
    assert ID_IN_TEXT not in repr(change)
    assert vault.audit.entries()[-2]["org"] == "个人-[id]"
    _ids_absent(db_url, vault)


def test_consent_only_records_reach_only_the_subject_and_their_source(vault: Vault) -> None:
    register_all_sources(vault)
    volunteer = "volunteer.service"
    s = SubjectRef.person(citizen_id(13), name="志愿者甲")
    rid = vault.ingest(clerk_for(volunteer), record_for(vault, volunteer, s))
    court = Actor(id="ct-1", role="court_officer", organisation="court")
    d = vault.query(court, purpose="court_order", subject=s, ticket="(2025)鄂12执1号")
    assert d.records == ()
    assert d.subject_name is None
    own = vault.query(handler(volunteer), purpose="objection_handling", subject=s, ticket="O-1")
    assert [r.record_id for r in own.records] == [rid]
    me = Actor(id="me", role="subject", subject=s)
    assert [r.record_id for r in vault.query(me, purpose="self_query", subject=s).records] == [rid]


@pytest.mark.parametrize("bad", [f"张三 {ID_IN_TEXT}", "org 4111 1111 1111 1111"])
def test_a_case_is_assigned_to_an_organisation_not_to_an_id_number(vault: Vault, bad: str) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(14))
    admin = Actor(id="adm", role="admin")
    with pytest.raises(InputError, match="assigned_to"):
        vault.cases.open(admin, type="complaint", subject=s, assigned_to=bad, reason="r")
    case = vault.cases.open(
        admin, type="complaint", subject=s, assigned_to="91350100M000100Y43", reason="r"
    )
    assert case.assigned_to == "91350100M000100Y43"  # an organisation's own code is fine
    with pytest.raises(InputError, match="to must name"):
        vault.cases.assign(admin, case.id, to=bad)


def test_an_actor_repr_masks_id_numbers() -> None:
    actor = Actor(
        id=f"portal:{ID_IN_TEXT}",
        role="subject",
        organisation=f"个人-{ID_IN_TEXT} 91350100M000100Y43",
        subject=SubjectRef.person(citizen_id(15)),
    )
    for text in (repr(actor), str(actor)):
        assert ID_IN_TEXT not in text
        assert citizen_id(15) not in text
        assert "portal:[id]" in text
        assert "91350100M000100Y43" in text  # an organisation's code is kept
    assert actor.id == f"portal:{ID_IN_TEXT}"  # the value itself is untouched


def test_record_status_tells_a_purpose_only_what_it_could_query(vault: Vault) -> None:
    # A licensing review does not see a repaired record: nor may it learn from its
    # status that it was repaired. The subject and the source still may.
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(16))
    me = Actor(id="me", role="subject", subject=s)
    rid = vault.ingest(clerk_for(TRAFFIC), record_for(vault, TRAFFIC, s))
    assert vault.record_status(OFFICER, rid, ticket="LIC-1").state == "active"
    vault.records.revoke(clerk_for(TRAFFIC), rid, reason="decision withdrawn")
    with pytest.raises(PermissionDenied):
        vault.record_status(OFFICER, rid, ticket="LIC-1")
    last = vault.audit.entries()[-1]
    assert (last["outcome"], last["reason"], last["ticket"]) == ("denied", "not_visible", "LIC-1")
    assert vault.record_status(me, rid).state == "revoked"
    assert vault.record_status(clerk_for(TRAFFIC), rid).state == "revoked"


def test_an_empty_request_id_gets_a_fresh_one(vault: Vault) -> None:
    s, _, _ = _setup(vault, 17)
    d = vault.query(OFFICER, purpose="licensing_review", subject=s, ticket="L-1", request_id="")
    assert len(d.request_id) == 32
    assert vault.audit.entries()[-1]["request"] == d.request_id


def test_a_reader_naming_themself_as_subject_gets_no_name_under_a_duty_purpose(
    vault: Vault,
) -> None:
    # Being the subject does not lift a duty purpose's tier: the name is shown to
    # the subject's own view (self_query), not to a licensing review by them.
    s, _, _ = _setup(vault, 18, name="冯自己")
    officer = Actor(id="off-9", role="licensing_officer", organisation="market-bureau", subject=s)
    d = vault.query(officer, purpose="licensing_review", subject=s, ticket="LIC-9")
    assert d.records
    assert d.subject_name is None
    assert "subject.name" not in vault.audit.entries()[-1]["fields"]
