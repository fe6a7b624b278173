"""The workflows' pure state machines, deadline rules, settings and repair eligibility."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from credit_vault import Catalog, Policy
from credit_vault.domain.workdays import WorkdayCalendar
from credit_vault.domain.workflows import (
    CASE,
    MACHINES,
    OBJECTION,
    OBJECTION_OUTCOMES,
    RECORD,
    REPAIR,
    DeadlineRule,
    Objection,
    OverdueItem,
    OverdueReport,
    StateMachine,
    Transition,
    WorkflowSettings,
    check_reason_code,
    check_text,
    parse_workflow_settings,
    repair_eligibility,
)
from credit_vault.errors import InputError, InvalidPolicy, InvalidTransition, PermissionDenied

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("subject", "handler", "source", "registrar", "admin")


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_every_step_from_every_state_by_every_kind(machine: StateMachine) -> None:
    """Allowed exactly when the table says so; otherwise the right error, naming the states."""
    for state, t, kind in itertools.product((None, *machine.states), machine.transitions, KINDS):
        if kind not in t.by:
            with pytest.raises(PermissionDenied) as denied:
                machine.step(state, t.action, by={kind})
            # A refused actor learns nothing about the object's state.
            assert str(state) not in denied.value.message.replace(t.action, "")
        elif state not in t.sources:
            with pytest.raises(InvalidTransition) as bad:
                machine.step(state, t.action, by={kind})
            assert f"'{state or '(new)'}'" in bad.value.message
            assert t.action in bad.value.message
        else:
            expected = state if t.target is None else t.target
            assert machine.step(state, t.action, by={kind}) == expected


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.name)
def test_machines_are_well_formed(machine: StateMachine) -> None:
    for final in machine.final:
        assert machine.allowed(final) == (), f"{final} is final"
    # Every state can be reached from "does not exist yet" or is a record's birth state.
    reached: set[str | None] = {None} if machine is not RECORD else {"active"}
    changed = True
    while changed:
        changed = False
        for t in machine.transitions:
            if reached & t.sources and t.target is not None and t.target not in reached:
                reached.add(t.target)
                changed = True
    missing = (
        set(machine.states) - reached - ({"expired", "purged"} if machine is RECORD else set())
    )
    assert missing == set()


def test_the_issue_s_objection_and_repair_rules() -> None:
    assert OBJECTION.step(None, "file", by={"subject"}) == "open"
    for outcome, action in OBJECTION_OUTCOMES.items():
        assert OBJECTION.step("open", action, by={"handler"}) == outcome
        assert OBJECTION.transition(action).reason_required
        with pytest.raises(InvalidTransition, match="'upheld'"):
            OBJECTION.step("upheld", action, by={"handler"})
    with pytest.raises(PermissionDenied):
        OBJECTION.step("open", "uphold", by={"subject", "source"})
    assert OBJECTION.transition("file").starts == "objection_deadline"
    assert REPAIR.transition("reject").reason_required
    assert not REPAIR.transition("approve").reason_required
    assert REPAIR.transition("reject").starts == "repair_refile_after"
    assert RECORD.step("active", "repair", by={"handler"}) == "repaired"
    assert RECORD.step("expired", "correct", by={"source"}) == "expired"
    for state in ("revoked", "purged"):
        with pytest.raises(InvalidTransition):
            RECORD.step(state, "correct", by={"source"})
    with pytest.raises(InvalidTransition, match="no step"):
        CASE.transition("approve")
    assert CASE.may("open", ["registrar"])
    assert not CASE.may("close", ["subject"])


def test_malformed_machines_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown actor kind"):
        Transition("x", frozenset({None}), "a", frozenset({"stranger"}))
    good = Transition("x", frozenset({None}), "b", frozenset({"subject"}))
    with pytest.raises(ValueError, match="ends in unknown state"):
        StateMachine("m", ("a",), frozenset(), (good,))
    bad_source = Transition("y", frozenset({"z"}), "a", frozenset({"subject"}))
    with pytest.raises(ValueError, match="starts from unknown state"):
        StateMachine("m", ("a",), frozenset(), (bad_source,))


def test_docs_draw_every_machine_as_the_code_defines_it() -> None:
    doc = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    for machine in MACHINES:
        assert machine.mermaid() in doc, f"docs/workflows.md is out of date for {machine.name}"


# ------------------------------------------------------------------ deadlines


@pytest.mark.parametrize(
    ("text", "rule", "shown"),
    [
        ("5 working days", DeadlineRule(5, "working_days"), "5 working days"),
        ("1 working day", DeadlineRule(1, "working_days"), "1 working day"),
        ("20 days", DeadlineRule(20, "days"), "20 days"),
        (" 30  days ", DeadlineRule(30, "days"), "30 days"),
        ("3 months", DeadlineRule(3, "months"), "3 months"),
        ("1 month", DeadlineRule(1, "months"), "1 month"),
    ],
)
def test_deadline_rules_parse_and_print(text: str, rule: DeadlineRule, shown: str) -> None:
    assert DeadlineRule.parse(text) == rule
    assert str(rule) == shown
    assert DeadlineRule.parse(str(rule)) == rule


@pytest.mark.parametrize(
    "text", ["5", "five days", "5 weeks", "-1 days", "P5D", "", "5 workingdays"]
)
def test_bad_deadline_rules(text: str) -> None:
    with pytest.raises(ValueError, match="reads like"):
        DeadlineRule.parse(text)


def test_deadline_rule_arithmetic() -> None:
    cal = WorkdayCalendar.china()
    assert DeadlineRule(0, "working_days").due(date(2025, 6, 1), cal) == date(2025, 6, 1)
    # 31 March + 1 month ends on 30 April (a Wednesday, a working day).
    assert DeadlineRule(1, "months").due(date(2025, 3, 31), cal) == date(2025, 4, 30)
    # 30 April + 1 month = 30 May (Friday) ... + 1 day = 31 May, inside Dragon Boat -> 3 June.
    assert DeadlineRule(31, "days").due(date(2025, 4, 30), cal) == date(2025, 6, 3)
    assert DeadlineRule(30, "days").after(date(2025, 6, 1)) == date(2025, 7, 1)
    assert DeadlineRule(3, "months").after(date(2025, 11, 30)) == date(2026, 2, 28)
    with pytest.raises(ValueError, match="non-negative"):
        DeadlineRule(-1, "days")
    with pytest.raises(ValueError, match="counts"):
        DeadlineRule(1, "weeks")  # type: ignore[arg-type]


# ------------------------------------------------------------------ settings


def test_default_policy_carries_the_documented_defaults() -> None:
    s = Policy.default().workflows
    assert s.objection_deadline == DeadlineRule(5, "working_days")  # S4
    assert s.case_deadline == DeadlineRule(30, "days")  # Z6
    assert s.case_deadline_for("complaint") == DeadlineRule(30, "days")
    assert s.case_deadline_for("reconsideration") == DeadlineRule(30, "days")
    assert s.repair_refile_after == DeadlineRule(30, "days")
    assert s.roll_forward is True
    assert s.calendar.covers(2025)
    assert s.calendar.beyond == "weekends"
    assert "subject_agent" in Policy.default().roles
    assert s == WorkflowSettings()
    assert s.deadline("objection_deadline") is s.objection_deadline
    with pytest.raises(KeyError):
        s.deadline("case_types")


def test_a_deployment_chooses_calendar_days_and_adds_a_year() -> None:
    text = Path(ROOT / "credit_vault" / "data" / "policy_default.toml").read_text("utf-8")
    text = text.replace('objection_deadline = "5 working days"', 'objection_deadline = "20 days"')
    text = text.replace(
        "[workflows.case_deadlines]", '[workflows.case_deadlines]\nreconsideration = "60 days"'
    )
    text += '\n[workflows.calendar.years.2099]\nholidays = ["2099-01-01/2099-01-09"]\n'
    s = Policy.from_toml(text).workflows
    assert s.objection_deadline == DeadlineRule(20, "days")
    assert s.case_deadline_for("reconsideration") == DeadlineRule(60, "days")
    assert s.case_deadline_for("complaint") == DeadlineRule(30, "days")
    assert s.calendar.covers(2099)
    assert s.due(DeadlineRule(1, "working_days"), date(2098, 12, 31)) == date(2099, 1, 12)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"objection_deadline": "5 weeks"}, "workflows.objection_deadline"),
        ({"bogus": 1}, "unknown keys"),
        ({"case_deadlines": {"appeal": "10 days"}}, "not a case type"),
        ({"case_deadlines": []}, "case_deadlines must be a table"),
        ({"case_types": "complaint"}, "list of names"),
        ({"case_roles": ["Bad Role"]}, "list of names"),
        ({"roll_forward": "yes"}, "true or false"),
        ({"agent_role": "Agent!"}, "role name"),
        ({"calendar": {"beyond_schedule": "never"}}, "beyond_schedule"),
        ({"calendar": {"zone": "x"}}, "unknown keys"),
        ({"calendar": []}, "must be a table"),
        ({"calendar": {"years": {"2099": {"holidays": ["1999-01-01"]}}}}, "must lie in 2099"),
    ],
)
def test_bad_workflow_settings_name_the_rule(raw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        parse_workflow_settings(raw)
    with pytest.raises(InvalidPolicy, match="must be a table"):
        parse_workflow_settings([])  # type: ignore[arg-type]


def test_restrict_disputed_is_a_purpose_option() -> None:
    text = Path(ROOT / "credit_vault" / "data" / "policy_default.toml").read_text("utf-8")
    assert not any(p.restrict_disputed for p in Policy.from_toml(text).purposes)
    text = text.replace(
        "[purposes.authorized_query]\n", "[purposes.authorized_query]\nrestrict_disputed = true\n"
    )
    p = Policy.from_toml(text)
    assert p.purpose("authorized_query").restrict_disputed
    assert not p.purpose("licensing_review").restrict_disputed


# ------------------------------------------------------------------ inputs


def test_reason_codes_and_texts() -> None:
    assert check_reason_code(None, "upheld") == "upheld"
    assert check_reason_code("data_error", "x") == "data_error"
    for bad in ("Data", "1x", "a" * 33, "with space", 3):
        with pytest.raises(InputError, match="reason_code"):
            check_reason_code(bad, "x")
    assert check_text("  why  ", "reason", required=True) == "why"
    assert check_text(None, "reason", required=False) is None
    assert check_text("   ", "reason", required=False) is None
    with pytest.raises(InputError, match="reason is required"):
        check_text("  ", "reason", required=True)
    with pytest.raises(InputError, match="must be text"):
        check_text(5, "reason", required=True)
    with pytest.raises(InputError, match="NUL"):
        check_text("a\x00b", "reason", required=True)
    with pytest.raises(InputError, match="limit of 10"):
        check_text("x" * 11, "reason", required=True, limit=10)


# ------------------------------------------------------------------ repair eligibility

CATALOG = Catalog.default()


def _elig(code: str = "penalty.food_drug", **kw: object) -> tuple[str, ...]:
    args: dict[str, object] = {
        "not_repairable_kinds": CATALOG.not_repairable_kinds,
        "state": "active",
        "disclosed_today": True,
        "repair_from": date(2025, 6, 1),
        "today": date(2025, 6, 1),
        "penalty_kind": "罚款",
        "refile_after": None,
        "application_open": False,
    }
    args.update(kw)
    return repair_eligibility(CATALOG.get(code), **args).reasons  # type: ignore[arg-type]


def test_repair_eligibility_reasons() -> None:
    assert _elig() == ()
    assert bool(
        repair_eligibility(
            CATALOG.get("penalty.food_drug"),
            not_repairable_kinds=(),
            state="active",
            disclosed_today=True,
            repair_from=date(2025, 1, 1),
            today=date(2025, 6, 1),
            penalty_kind=None,
            refile_after=None,
            application_open=False,
        )
    )
    assert _elig(today=date(2025, 5, 31)) == ("minimum_period_not_passed",)
    # 行政处罚法 Art 9 calls it 吊销许可证件; the catalogue lists 吊销许可证 (N3).
    assert _elig(penalty_kind="吊销许可证件") == ("penalty_kind_not_repairable",)
    assert _elig(penalty_kind="Licence_Revocation") == ("penalty_kind_not_repairable",)
    assert _elig(state="repaired") == ("not_disclosed",)
    assert _elig(disclosed_today=False) == ("not_disclosed",)
    assert _elig(refile_after=date(2025, 6, 2)) == ("waiting_period",)
    assert _elig(refile_after=date(2025, 6, 1)) == ()
    assert _elig(application_open=True) == ("application_open",)
    assert _elig("penalty.minor", repair_from=None) == ("category_not_repairable",)
    assert _elig("honor.commendation", repair_from=None, penalty_kind=None) == (
        "category_not_repairable",
    )


def test_output_models_keep_texts_out_of_repr() -> None:
    o = Objection(
        id="ob_1",
        record_id="r_1",
        state="rejected",
        assigned_to="src",
        filed_on=date(2025, 6, 1),
        deadline=date(2025, 6, 9),
        deadline_rule="5 working days",
        reason="SECRET-REASON",
        decision_reason="SECRET-DECISION",
    )
    assert "SECRET" not in repr(o)
    assert o.outcome == "rejected"
    assert not o.is_open
    assert replace(o, state="open").outcome is None
    assert replace(o, state="open").is_open


def test_overdue_report_groups_by_organisation() -> None:
    def item(org: str, deadline: date, kind: str = "objection") -> OverdueItem:
        return OverdueItem(kind, f"{kind}-{org}-{deadline}", "open", org, deadline, 1, None)

    report = OverdueReport(
        on=date(2025, 7, 1),
        items=(
            item("b", date(2025, 6, 3)),
            item("a", date(2025, 6, 9)),
            item("a", date(2025, 6, 2), "case"),
        ),
    )
    grouped = report.by_organisation
    assert list(grouped) == ["a", "b"]
    assert [i.deadline for i in grouped["a"]] == [date(2025, 6, 2), date(2025, 6, 9)]
    assert len(report) == 3
