"""Review fixes in the pure workflow layer: N3 matching, the record machine, repair deadlines.

- N3: ``[repair] not_repairable_kinds`` matches Chinese entries as patterns and ASCII
  entries as whole words (it used to match substrings both ways).
- The record machine agrees with the lifecycle on ``expired`` → ``repaired``.
- Eligibility re-checked at the decision leaves the application itself out.
- Per-category repair deadlines (C1: a defaulter within 3 working days).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from credit_vault import Catalog, Policy
from credit_vault.domain.windows import TRANSITIONS
from credit_vault.domain.workflows import (
    RECORD,
    DeadlineRule,
    parse_workflow_settings,
    repair_eligibility,
)
from credit_vault.errors import InvalidPolicy

ROOT = Path(__file__).resolve().parents[2]
CATALOG = Catalog.default()
FOOD = "penalty.food_drug"


def _reasons(penalty_kind: str | None, **kw: object) -> tuple[str, ...]:
    args: dict[str, object] = {
        "not_repairable_kinds": CATALOG.not_repairable_kinds,
        "state": "active",
        "disclosed_today": True,
        "repair_from": date(2025, 6, 1),
        "today": date(2025, 6, 1),
        "penalty_kind": penalty_kind,
        "refile_after": None,
        "application_open": False,
    }
    args.update(kw)
    return repair_eligibility(CATALOG.get(FOOD), **args).reasons  # type: ignore[arg-type]


# ------------------------------------------------------------------ N3 matching


NOT_REPAIRABLE = (
    "吊销营业执照",  # business licence revoked
    "吊销食品经营许可证",  # food business permit revoked
    "吊销许可证件",  # 行政处罚法 Art 9's own wording
    "罚款并吊销食品生产许可证",  # a fine together with a revocation
    "吊销执业资格证书",
    "限制从业",  # a ban on practising
    "禁止从业",
    "证券市场禁入",
    "Licence revocation",
    "lifetime_ban",
    "ＢＡＮ",  # full-width
)


def test_licence_revocations_and_bans_are_never_repairable() -> None:
    for kind in NOT_REPAIRABLE:
        assert _reasons(kind) == ("penalty_kind_not_repairable",), kind


def test_ordinary_penalties_stay_repairable() -> None:
    # "ban" is a word, not a substring: an urban-management fine is an ordinary penalty.
    for kind in (
        "urban_management_fine",
        "罚款",
        "警告",
        "通报批评",
        "责令改正",
        "abandoned_goods",
    ):
        assert _reasons(kind) == (), kind


def test_a_wildcard_stays_inside_one_phrase() -> None:
    kinds = ["吊销*许可证"]
    assert _reasons("吊销食品经营许可证", not_repairable_kinds=kinds) != ()
    # The stem and its ending in different phrases are not a revocation of a licence.
    assert _reasons("不予吊销，补办许可证", not_repairable_kinds=kinds) == ()
    assert _reasons("吊销 许可证", not_repairable_kinds=kinds) == ()
    # Entries without a letter or digit match nothing (rather than everything).
    assert _reasons("罚款", not_repairable_kinds=["*", "__", " "]) == ()
    # Multi-word ASCII entries need the words in order and adjacent.
    assert _reasons("licence_revocation_order", not_repairable_kinds=["licence revocation"]) != ()
    assert _reasons("revocation_of_licence", not_repairable_kinds=["licence_revocation"]) == ()


def test_the_catalogue_documents_the_matching_rule_where_the_list_is() -> None:
    text = (ROOT / "credit_vault" / "data" / "catalog_default.toml").read_text("utf-8")
    head = text[: text.index("[repair]")]
    assert "whole words" in head[-1200:]
    assert '"*" stands' in head[-1200:]


# ------------------------------------------------------------------ record machine


def test_the_record_machine_repairs_an_expired_record_as_the_lifecycle_allows() -> None:
    assert "repaired" in TRANSITIONS["expired"]
    assert RECORD.step("expired", "repair", by={"handler"}) == "repaired"
    repair = RECORD.transition("repair")
    for source in repair.sources:
        assert source is not None
        assert "repaired" in TRANSITIONS[source]  # type: ignore[index]


def test_eligibility_at_the_decision_leaves_the_application_out() -> None:
    # The window ended while the application waited: still eligible at the decision.
    assert (
        _reasons(
            "罚款", state="expired", disclosed_today=False, application_open=True, at_decision=True
        )
        == ()
    )
    # ... but a new application needs a disclosed record.
    assert _reasons("罚款", state="expired", disclosed_today=False) == ("not_disclosed",)
    # A correction to a licence revocation while it waited blocks the approval (N3).
    assert _reasons("吊销许可证", at_decision=True) == ("penalty_kind_not_repairable",)
    for state in ("revoked", "repaired", "purged"):
        assert _reasons("罚款", state=state, at_decision=True) == ("not_disclosed",)


# ------------------------------------------------------------------ repair deadlines


def test_the_default_policy_gives_defaulters_three_working_days() -> None:
    s = Policy.default().workflows
    assert s.repair_deadline_for("court.defaulter") == DeadlineRule(3, "working_days")  # C1
    assert s.repair_deadline_for(FOOD) == DeadlineRule(5, "working_days")
    assert s.repair_deadline_for(FOOD) == s.repair_deadline
    assert parse_workflow_settings({}).repair_deadlines == s.repair_deadlines


def test_a_deployment_sets_its_own_repair_deadlines() -> None:
    s = parse_workflow_settings(
        {
            "repair_deadline": "10 days",
            "repair_deadlines": {
                "tax.major_violation": "1 months",
                "court.defaulter": "2 working days",
            },
        }
    )
    assert s.repair_deadline_for("tax.major_violation") == DeadlineRule(1, "months")
    assert s.repair_deadline_for("court.defaulter") == DeadlineRule(2, "working_days")
    assert s.repair_deadline_for(FOOD) == DeadlineRule(10, "days")
    # A table given replaces the defaults; an empty one removes them.
    empty = parse_workflow_settings({"repair_deadlines": {}})
    assert empty.repair_deadline_for("court.defaulter") == empty.repair_deadline


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"repair_deadlines": ["court.defaulter"]}, "repair_deadlines must be a table"),
        ({"repair_deadlines": {"Court Defaulter": "3 days"}}, "keys are category codes"),
        ({"repair_deadlines": {"defaulter": "3 days"}}, "keys are category codes"),
        (
            {"repair_deadlines": {"court.defaulter": "3 weeks"}},
            "workflows.repair_deadlines.court.defaulter",
        ),
    ],
)
def test_bad_repair_deadlines_name_the_rule(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        parse_workflow_settings(raw)
