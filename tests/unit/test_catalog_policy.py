"""The catalogue and policy: defaults match DOMAIN.md, files load, bad files are refused clearly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from credit_vault import Catalog, Period, Policy
from credit_vault.domain.catalog import forbidden_field_term
from credit_vault.domain.periods import add_period
from credit_vault.errors import (
    ConsentRequired,
    InvalidCatalog,
    InvalidPolicy,
    InvalidRecord,
    PermissionDenied,
    TicketRequired,
    UnknownCategory,
    UnknownPurpose,
)

DOMAIN_CODES = {
    "identity.basic",
    "honor.commendation",
    "volunteer.service",
    "tax.a_grade",
    "penalty.minor",
    "penalty.food_drug",
    "penalty.safety_fire",
    "penalty.traffic",
    "penalty.environment",
    "penalty.market",
    "labour.wage_arrears",
    "tax.major_violation",
    "court.defaulter",
    "list.serious",
    "education.misconduct",
    "profession.discipline",
}


def test_default_catalogue_has_every_domain_category() -> None:
    cat = Catalog.default()
    assert set(cat.codes) == DOMAIN_CODES


def test_negative_categories_carry_the_required_fields() -> None:
    for c in Catalog.default():
        if c.polarity != "negative":
            continue
        tiers = {f.name: f.tier for f in c.fields}
        assert tiers["decision_no"] == "public", c.code
        assert tiers["authority"] == "public", c.code
        assert tiers["summary"] == "public", c.code
        assert tiers["amount"] == "restricted", c.code
        assert tiers["detail"] == "confidential", c.code
        assert c.retention == Period(years=5), c.code


@pytest.mark.parametrize(
    ("code", "disclosure", "repair"),
    [
        ("penalty.food_drug", "P1Y", "P3M"),
        ("tax.major_violation", "P3Y", "P1Y"),
        ("court.defaulter", "P2Y", "P0D"),
        ("list.serious", "P3Y", "P1Y"),
        ("honor.commendation", "P3Y", None),
        ("penalty.minor", "none", None),
        ("volunteer.service", "consent_only", None),
        ("identity.basic", "none", None),
    ],
)
def test_periods_follow_domain_md(code: str, disclosure: str, repair: str | None) -> None:
    c = Catalog.default().get(code)
    assert str(c.disclosure) == disclosure
    assert (str(c.repair_after) if c.repair_after else None) == repair


def test_min_age_rules() -> None:
    cat = Catalog.default()
    assert cat.get("court.defaulter").min_age == 18
    assert cat.get("education.misconduct").min_age == 18
    assert cat.get("education.misconduct").subjects == ("person",)


def test_unknown_category() -> None:
    with pytest.raises(UnknownCategory):
        Catalog.default().get("no.such")


def test_validate_facts_coerces_and_names_fields_only() -> None:
    c = Catalog.default().get("labour.wage_arrears")
    out = c.validate_facts(
        {
            "decision_no": "A-1",
            "authority": "局",
            "summary": "s",
            "amount": "1200.50",
            "workers_affected": 3,
        }
    )
    assert out["amount"] == Decimal("1200.50")
    with pytest.raises(InvalidRecord, match="'amount'") as info:
        c.validate_facts({"decision_no": "A", "authority": "B", "summary": "C", "amount": "12,00"})
    assert "12,00" not in str(info.value)
    with pytest.raises(InvalidRecord, match="'amount'"):
        c.validate_facts({"decision_no": "A", "authority": "B", "summary": "C", "amount": 1.5})
    with pytest.raises(InvalidRecord, match="workers_affected"):
        c.validate_facts(
            {"decision_no": "A", "authority": "B", "summary": "C", "workers_affected": True}
        )
    with pytest.raises(InvalidRecord, match="longer than"):
        c.validate_facts({"decision_no": "A" * 65, "authority": "B", "summary": "C"})


def test_date_and_boolean_fields() -> None:
    text = """
profile = "t"
[[category]]
code = "x.y"
name = "X"
polarity = "neutral"
legal_bases = ["法"]
fields = [
  { name = "on", type = "date", tier = "public", required = true },
  { name = "flag", type = "boolean", tier = "public" },
]
"""
    c = Catalog.from_toml(text).get("x.y")
    assert c.validate_facts({"on": "2024-02-29", "flag": False}) == {
        "on": date(2024, 2, 29),
        "flag": False,
    }
    with pytest.raises(InvalidRecord, match="'on'"):
        c.validate_facts({"on": "2023-02-29"})
    with pytest.raises(InvalidRecord, match="'flag'"):
        c.validate_facts({"on": "2024-01-01", "flag": "yes"})


@pytest.mark.parametrize(
    "name",
    [
        "religion",
        "Religious_Belief",
        "genes",
        "gene_test",
        "DNA",
        "fingerprint_hash",
        "blood_type",
        "bloodType",
        "disease",
        "medical-history",
        "宗教信仰",
        "血型",
        "病史",
    ],
)
def test_forbidden_terms(name: str) -> None:
    assert forbidden_field_term(name) is not None


@pytest.mark.parametrize("name", ["general_note", "generation", "decision_no", "amount", "dnat"])
def test_allowed_names_not_flagged(name: str) -> None:
    assert forbidden_field_term(name) is None


def test_catalogue_refuses_forbidden_field_declared() -> None:
    text = """
[[category]]
code = "x.y"
name = "X"
polarity = "neutral"
legal_bases = ["法"]
fields = [{ name = "blood_type", type = "string", tier = "confidential" }]
"""
    with pytest.raises(InvalidCatalog, match="may not be collected"):
        Catalog.from_toml(text)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[[category]]\ncode = 'bad'\n", "code such as"),
        (
            "[[category]]\ncode = 'a.b'\nname='n'\npolarity='neutral'\nfields=[{name='f',type='string',tier='public'}]\n",
            "legal basis",
        ),
        (
            "[[category]]\ncode = 'a.b'\nname='n'\npolarity='sideways'\nlegal_bases=['x']\nfields=[{name='f',type='string',tier='public'}]\n",
            "polarity",
        ),
        (
            "[[category]]\ncode = 'a.b'\nname='n'\npolarity='neutral'\nlegal_bases=['x']\nfields=[{name='f',type='float',tier='public'}]\n",
            "unknown type",
        ),
        (
            "[[category]]\ncode = 'a.b'\nname='n'\npolarity='neutral'\nlegal_bases=['x']\ndisclosure='1 year'\nfields=[{name='f',type='string',tier='public'}]\n",
            "ISO 8601",
        ),
        (
            "[[category]]\ncode = 'a.b'\nname='n'\npolarity='neutral'\nlegal_bases=['x']\nsurprise=1\nfields=[{name='f',type='string',tier='public'}]\n",
            "unknown keys",
        ),
        ("not toml [", "not valid TOML"),
        ("profile='x'\n", "at least one category"),
    ],
)
def test_bad_catalogues(text: str, match: str) -> None:
    with pytest.raises(InvalidCatalog, match=match):
        Catalog.from_toml(text)


def test_catalogue_from_file(tmp_path: Path) -> None:
    from importlib import resources

    src = resources.files("credit_vault.data").joinpath("catalog_default.toml").read_text("utf-8")
    p = tmp_path / "c.toml"
    p.write_text(
        src.replace('disclosure = "P3Y"            # N1 serious', 'disclosure = "P2Y"  #'), "utf-8"
    )
    cat = Catalog.from_file(p)
    assert str(cat.get("tax.major_violation").disclosure) == "P2Y"
    with pytest.raises(InvalidCatalog, match="cannot be read"):
        Catalog.from_file(tmp_path / "missing.toml")


def test_periods() -> None:
    assert Period.parse("P1Y6M") == Period(years=1, months=6)
    assert Period.parse("P2W") == Period(days=14)
    assert str(Period.parse("P3M")) == "P3M"
    assert add_period(date(2024, 2, 29), Period(years=1)) == date(2025, 2, 28)
    assert add_period(date(2025, 1, 31), Period(months=1)) == date(2025, 2, 28)
    assert add_period(date(2025, 12, 15), Period(months=1, days=20)) == date(2026, 2, 4)
    for bad in ("", "P", "1Y", "P1.5Y", "PT1H"):
        with pytest.raises(ValueError, match="ISO 8601"):
            Period.parse(bad)


# --- policy ---------------------------------------------------------------


def _decide(
    role: str,
    purpose: str,
    *,
    ticket: str | None = "T-1",
    is_self: bool = False,
    consent: bool = False,
):  # type: ignore[no-untyped-def]
    return Policy.default().authorize(
        role=role, purpose=purpose, ticket=ticket, is_self=is_self, has_consent=consent
    )


def test_default_policy_roles_and_purposes() -> None:
    p = Policy.default()
    assert {
        "source_clerk",
        "licensing_officer",
        "enforcement_officer",
        "third_party",
        "subject",
        "objection_handler",
        "auditor",
        "statistician",
        "admin",
    } <= p.roles
    assert {
        "self_query",
        "authorized_query",
        "licensing_review",
        "incentive_check",
        "joint_punishment",
        "objection_handling",
        "credit_repair",
        "court_order",
        "audit",
        "statistics",
    } == {x.name for x in p.purposes}


def test_licensing_review_sees_negative_up_to_restricted() -> None:
    d = _decide("licensing_officer", "licensing_review")
    cat = Catalog.default()
    assert d.allowed
    for c in cat:
        tier = d.max_tier(c)
        assert tier == ("restricted" if c.polarity == "negative" else None), c.code
    assert "detail" not in d.visible_fields(cat.get("tax.major_violation"))


@pytest.mark.parametrize(
    ("role", "purpose", "kw", "error", "reason"),
    [
        ("licensing_officer", "nope", {}, UnknownPurpose, "unknown_purpose"),
        ("third_party", "licensing_review", {}, PermissionDenied, "role_not_granted"),
        (
            "licensing_officer",
            "licensing_review",
            {"ticket": None},
            TicketRequired,
            "ticket_required",
        ),
        (
            "licensing_officer",
            "licensing_review",
            {"ticket": "bad ticket with spaces"},
            TicketRequired,
            "ticket_malformed",
        ),
        ("third_party", "authorized_query", {}, ConsentRequired, "consent_required"),
        ("subject", "self_query", {"is_self": False}, PermissionDenied, "not_self"),
    ],
)
def test_denials(
    role: str, purpose: str, kw: dict[str, object], error: type[Exception], reason: str
) -> None:
    d = _decide(role, purpose, **kw)  # type: ignore[arg-type]
    assert not d.allowed
    assert d.reason == reason
    with pytest.raises(error):
        d.raise_error()


def test_consent_and_self() -> None:
    assert _decide("third_party", "authorized_query", consent=True).allowed
    assert _decide("subject", "self_query", is_self=True, ticket=None).allowed


def test_deny_by_default_for_unlisted_pairs() -> None:
    p = Policy.default()
    granted = {(g.role, g.purpose) for g in p.grants}
    for role in p.roles:
        for purpose in p.purposes:
            d = p.authorize(
                role=role, purpose=purpose.name, ticket="T-1", is_self=True, has_consent=True
            )
            assert d.allowed == ((role, purpose.name) in granted)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "roles=['a']\n[[grants]]\nrole='b'\npurpose='p'\ncategories=['*']\nmax_tier='public'\n[purposes.p]\n",
            "unknown role",
        ),
        (
            "roles=['a']\n[[grants]]\nrole='a'\npurpose='q'\ncategories=['*']\nmax_tier='public'\n[purposes.p]\n",
            "unknown purpose",
        ),
        (
            "roles=['a']\n[[grants]]\nrole='a'\npurpose='p'\ncategories=['*']\nmax_tier='secret'\n[purposes.p]\n",
            "max_tier",
        ),
        (
            "roles=['a']\n[[grants]]\nrole='a'\npurpose='p'\ncategories=['bad selector!']\nmax_tier='public'\n[purposes.p]\n",
            "selectors",
        ),
        ("roles=['a']\n[purposes.p]\nscope='everything'\n", "scope"),
        ("roles=['a']\n[review]\nworking_hours='8-18'\n", "working_hours"),
    ],
)
def test_bad_policies(text: str, match: str) -> None:
    with pytest.raises(InvalidPolicy, match=match):
        Policy.from_toml(text)


def test_policy_from_file_narrowing(tmp_path: Path) -> None:
    p = tmp_path / "policy.toml"
    p.write_text(
        """
roles = ["licensing_officer"]
[purposes.licensing_review]
scope = "disclosable"
[[grants]]
role = "licensing_officer"
purpose = "licensing_review"
categories = ["penalty.food_drug"]
max_tier = "public"
ticket = true
""",
        "utf-8",
    )
    pol = Policy.from_file(p)
    d = pol.authorize(
        role="licensing_officer",
        purpose="licensing_review",
        ticket="T",
        is_self=False,
        has_consent=False,
    )
    cat = Catalog.default()
    assert d.visible_fields(cat.get("penalty.food_drug")) == (
        "decision_no",
        "authority",
        "summary",
        "penalty_kind",
    )
    assert d.visible_fields(cat.get("tax.major_violation")) == ()
