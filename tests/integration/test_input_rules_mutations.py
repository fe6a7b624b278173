"""Rules a second mutation review found unguarded, each with the test that guards it.

- Only the subject role (or an agent with consent) acts as the subject; another
  role carrying ``subject=`` is judged by its own grants.
- Ingest: a category takes only its subject kinds; the 18+ rule on its birthday;
  no decision dated tomorrow.
- A purpose the policy does not define is neither logged nor traced as given.
- An erasure clears the texts of cases about the subject, record or not.
- Actor ids in the workflow tables are masked as in the log; a consent reference
  with a trailing line break is malformed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, cast

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Table, select

from credit_vault import Actor, SubjectRef, Vault
from credit_vault.crypto import FileKeyProvider
from credit_vault.errors import InputError, InvalidRecord, PermissionDenied, UnknownPurpose
from credit_vault.storage.tables import CaseRow, ObjectionRow
from credit_vault.testing import FrozenClock
from tests.helpers import (
    OFFICER,
    citizen_id,
    clerk_for,
    credit_code,
    record_for,
    register_all_sources,
    stored_bytes,
)

FOOD = "penalty.food_drug"
DEFAULTER = "court.defaulter"  # min_age 18
VOLUNTEER = "volunteer.service"  # persons only
ADMIN = Actor(id="adm-1", role="admin")
ID_AS_TEXT = "110101199003070017"


def me(s: SubjectRef) -> Actor:
    return Actor(id="portal-1", role="subject", subject=s)


@pytest.mark.parametrize("role", ["third_party", "statistician", "objection_handler"])
def test_another_role_naming_the_subject_does_not_act_as_the_subject(
    vault: Vault, role: str
) -> None:
    register_all_sources(vault)
    ann = SubjectRef.person(citizen_id(21))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, ann))
    posing = Actor(id="x-1", role=role, organisation="elsewhere", subject=ann)
    with pytest.raises(PermissionDenied):
        vault.objections.file(posing, rid, reason="not mine to file")
    obj = vault.objections.file(me(ann), rid, reason="the amount is wrong")
    with pytest.raises(PermissionDenied):
        vault.objections.get(posing, obj.id)
    with pytest.raises(PermissionDenied):
        vault.repairs.apply(posing, rid, evidence="not mine either")


def test_a_category_takes_only_its_subject_kinds(vault: Vault) -> None:
    register_all_sources(vault)
    org = SubjectRef.organisation(credit_code(5))
    with pytest.raises(InvalidRecord, match="does not take organisation subjects"):
        vault.ingest(clerk_for(VOLUNTEER), record_for(vault, VOLUNTEER, org))
    person = SubjectRef.person(citizen_id(22))
    assert vault.ingest(clerk_for(VOLUNTEER), record_for(vault, VOLUNTEER, person))


def test_the_age_rule_holds_from_the_eighteenth_birthday(vault: Vault) -> None:
    register_all_sources(vault)
    teen = SubjectRef.person(citizen_id(23, birth="20070310"))
    with pytest.raises(InvalidRecord, match="aged 18"):
        vault.ingest(
            clerk_for(DEFAULTER),
            record_for(
                vault, DEFAULTER, teen, decided_on=date(2025, 4, 1), occurred_on=date(2025, 3, 9)
            ),
        )
    assert vault.ingest(
        clerk_for(DEFAULTER),
        record_for(
            vault, DEFAULTER, teen, decided_on=date(2025, 4, 1), occurred_on=date(2025, 3, 10)
        ),
    )


def test_a_decision_dated_tomorrow_is_refused(vault: Vault) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(24))
    today = vault.today()
    with pytest.raises(InvalidRecord, match="decided_on must not be in the future"):
        vault.ingest(
            clerk_for(FOOD),
            record_for(vault, FOOD, s, decided_on=today + timedelta(days=1), occurred_on=today),
        )
    assert vault.ingest(
        clerk_for(FOOD), record_for(vault, FOOD, s, decided_on=today, occurred_on=today)
    )


def test_a_purpose_the_policy_does_not_define_is_not_repeated(
    tmp_path: Any, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with Vault.open(url, keys=keys, clock=clock, tracer_provider=tp) as vault:
        register_all_sources(vault)
        s = SubjectRef.person(citizen_id(25))
        with pytest.raises(UnknownPurpose) as info:
            vault.query(OFFICER, purpose=ID_AS_TEXT, subject=s, ticket="L-1")
        assert ID_AS_TEXT not in str(info.value)
        last = vault.audit.entries()[-1]
        assert (last["op"], last["outcome"], last["purpose"]) == ("query", "denied", "(unknown)")
    purposes = {
        (sp.attributes or {}).get("credit_vault.purpose") for sp in exporter.get_finished_spans()
    }
    assert purposes == {"(unknown)"}
    assert ID_AS_TEXT.encode() not in stored_bytes(url)


def test_an_erasure_clears_the_texts_of_a_case_about_the_subject(vault: Vault) -> None:
    register_all_sources(vault)
    quinn = SubjectRef.person(citizen_id(26))
    case = vault.cases.open(
        ADMIN,
        type="reconsideration",
        subject=quinn,
        assigned_to="xn-court",
        reason="asks for reconsideration",
    )
    cases = cast("Table", CaseRow.__table__)
    with vault._tx() as conn:
        assert conn.execute(select(cases.c.reason_ct).where(cases.c.id == case.id)).scalar_one()
    vault.erase_subject(ADMIN, quinn, legal_basis="PIPL Art 47")
    with vault._tx() as conn:
        row = conn.execute(select(cases).where(cases.c.id == case.id)).one()
    assert (row.reason_ct, row.outcome_ct) == (None, None)


def test_workflow_tables_keep_actor_ids_masked_as_the_log_does(
    db_url: str, keys: FileKeyProvider, clock: FrozenClock
) -> None:
    vault = Vault.open(db_url, keys=keys, clock=clock)
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(27))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, s))
    portal = Actor(id=f"portal-{ID_AS_TEXT}", role="subject", subject=s)
    obj = vault.objections.file(portal, rid, reason="the amount is wrong")
    objections = cast("Table", ObjectionRow.__table__)
    with vault._tx() as conn:
        filed_by = conn.execute(
            select(objections.c.filed_by).where(objections.c.id == obj.id)
        ).scalar_one()
    assert filed_by == "portal-[id]"
    vault.close()
    assert ID_AS_TEXT.encode() not in stored_bytes(db_url)


def test_a_consent_reference_with_a_line_break_is_malformed(vault: Vault) -> None:
    register_all_sources(vault)
    s = SubjectRef.person(citizen_id(28))
    rid = vault.ingest(clerk_for(FOOD), record_for(vault, FOOD, s))
    agent = Actor(id="ag-1", role="subject_agent", subject=s)
    with pytest.raises(InputError, match="consent"):
        vault.objections.file(agent, rid, reason="wrong", consent="WT-2025-1\n")
