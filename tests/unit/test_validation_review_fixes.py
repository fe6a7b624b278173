"""Input validation found wanting in review: fact coercion, catalogue and policy loading.

Each case failed before the fix: a value slipped through that later broke reads or
filled the disk, an untyped exception escaped, or a message repeated caller text
that can be personal data (a mis-mapped import puts ID numbers where names belong).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from credit_vault import Actor, RecordIn, SubjectRef
from credit_vault.domain.catalog import DEFAULT_MAX_LENGTH, Catalog
from credit_vault.domain.policy import Policy
from credit_vault.errors import (
    CreditVaultError,
    InvalidCatalog,
    InvalidPolicy,
    InvalidRecord,
    UnknownCategory,
)

PID = "11010519491231002X"
NAME = "张三丰"

CUSTOM = """
[[category]]
code = "court.hearing"
name = "hearing"
polarity = "neutral"
legal_bases = ["民事诉讼法"]
fields = [
  { name = "hearing_on", type = "date", tier = "public", required = true },
  { name = "note", type = "string", tier = "public" },
  { name = "count", type = "integer", tier = "public" },
]
"""


def _traffic_facts(**extra: object) -> dict[str, object]:
    return {"decision_no": "D1", "authority": "A", "summary": "s", **extra}


def _assert_clean(exc: BaseException, *secrets: str) -> None:
    """The error is typed, carries no secret, and chains no exception that could."""
    assert isinstance(exc, CreditVaultError)
    for secret in secrets:
        assert secret not in str(exc)
        assert secret not in repr(exc.args)
    assert exc.__cause__ is None
    assert exc.__suppress_context__ or exc.__context__ is None


# --- 1. datetime is not a date; subclasses become plain values ----------------------------


def test_datetime_refused_for_a_date_field() -> None:
    cat = Catalog.from_toml(CUSTOM).get("court.hearing")
    with pytest.raises(InvalidRecord, match=r"'hearing_on'.*not a datetime"):
        cat.validate_facts({"hearing_on": datetime(2025, 3, 1, 9, 30)})
    assert cat.validate_facts({"hearing_on": date(2025, 3, 1)}) == {"hearing_on": date(2025, 3, 1)}


def test_subclasses_of_fact_types_become_plain_values() -> None:
    class MyDate(date):
        pass

    class MyStr(str):
        __slots__ = ()

        def __str__(self) -> str:
            return "something else"

    class Level(enum.IntEnum):
        HIGH = 3

    cat = Catalog.from_toml(CUSTOM).get("court.hearing")
    out = cat.validate_facts(
        {"hearing_on": MyDate(2025, 3, 1), "note": MyStr("n"), "count": Level.HIGH}
    )
    assert [type(v) for v in out.values()] == [date, str, int]
    assert out == {"hearing_on": date(2025, 3, 1), "note": "n", "count": 3}


# --- 2. size limits in every input form ----------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("1E+200000000"),
        Decimal("1E+18"),
        Decimal("1" * 19),
        Decimal("0." + "1" * 40),
        Decimal("1.000000000"),  # 9 places, as the text form refuses "1.000000000"
        Decimal("1E-9"),
        10**200000,
        10**18,
        -(10**18),
    ],
    ids=lambda v: f"{type(v).__name__}-{len(str(v)) if isinstance(v, Decimal) else v.bit_length()}",
)
def test_decimal_limits_apply_to_decimal_and_int_values(value: object) -> None:
    cat = Catalog.default().get("penalty.traffic")
    with pytest.raises(InvalidRecord, match=r"'amount'.*at most 18 digits") as info:
        cat.validate_facts(_traffic_facts(amount=value))
    _assert_clean(info.value)


def test_decimal_limits_refuse_oversized_and_keep_values_within_them() -> None:
    cat = Catalog.default().get("penalty.traffic")
    for bad in (Decimal("1E+200000000"), 10**200000):
        with pytest.raises(InvalidRecord, match="at most 18 digits"):
            cat.validate_facts(_traffic_facts(amount=bad))
    for value, expected in [
        (Decimal("1E+7"), Decimal("10000000")),
        (Decimal("-0.12345678"), Decimal("-0.12345678")),
        (Decimal("9" * 18 + ".99999999"), Decimal("9" * 18 + ".99999999")),
        (10**18 - 1, Decimal(10**18 - 1)),
        ("1200.50", Decimal("1200.50")),
    ]:
        out = cat.validate_facts(_traffic_facts(amount=value))
        assert out["amount"] == expected
        assert type(out["amount"]) is Decimal


def test_string_field_without_max_length_has_a_default_cap() -> None:
    cat = Catalog.from_toml(CUSTOM).get("court.hearing")
    assert cat.field_spec("note").max_length is None
    ok = cat.validate_facts({"hearing_on": "2025-03-01", "note": "a" * DEFAULT_MAX_LENGTH})
    assert len(ok["note"]) == DEFAULT_MAX_LENGTH
    with pytest.raises(
        InvalidRecord, match=f"'note' is longer than its limit of {DEFAULT_MAX_LENGTH}"
    ):
        cat.validate_facts({"hearing_on": "2025-03-01", "note": "a" * (DEFAULT_MAX_LENGTH + 1)})


# --- 3. lone surrogates ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["李四借款\ud800逾期", "\udcff", "ok\udfff"])
def test_lone_surrogate_in_a_fact_is_a_typed_error_without_the_value(value: str) -> None:
    cat = Catalog.default().get("penalty.traffic")
    with pytest.raises(InvalidRecord, match=r"'summary'.*surrogates") as info:
        cat.validate_facts(_traffic_facts(summary=value))
    _assert_clean(info.value, value, "李四借款")


def test_lone_surrogate_in_a_subject_name_is_a_typed_error_without_the_value() -> None:
    with pytest.raises(InvalidRecord, match=r"subject name.*surrogates") as info:
        SubjectRef.person(PID, "张三\udcff")
    _assert_clean(info.value, PID, "张三")


# --- 4. no caller text in messages unless it is name-shaped ---------------------------------


@pytest.mark.parametrize("key", [PID, NAME, "Zhang San", "decision_no\n", "a" * 65])
def test_undeclared_fact_key_is_not_repeated(key: str) -> None:
    cat = Catalog.default().get("penalty.traffic")
    with pytest.raises(InvalidRecord, match="undeclared field") as info:
        cat.validate_facts(_traffic_facts(**{key: "x"}))
    _assert_clean(info.value, key.strip())
    with pytest.raises(InvalidRecord, match="undeclared field") as info:
        cat.field_spec(key)
    _assert_clean(info.value, key.strip())


def test_only_name_shaped_undeclared_keys_are_named() -> None:
    cat = Catalog.default().get("penalty.traffic")
    with pytest.raises(InvalidRecord, match="undeclared field") as info:
        cat.validate_facts(_traffic_facts(**{PID: "x"}))
    _assert_clean(info.value, PID)
    with pytest.raises(InvalidRecord, match="has no field 'decison_no'"):
        cat.validate_facts(_traffic_facts(decison_no="x"))
    with pytest.raises(InvalidRecord, match="field 'religion' may not be collected"):
        cat.validate_facts(_traffic_facts(religion="x"))


def test_forbidden_term_in_a_non_name_key_is_refused_without_the_key() -> None:
    cat = Catalog.default().get("penalty.traffic")
    key = f"宗教信仰{NAME}"
    with pytest.raises(InvalidRecord, match="undeclared field may not be collected") as info:
        cat.validate_facts(_traffic_facts(**{key: "x"}))
    _assert_clean(info.value, NAME)


@pytest.mark.parametrize("code", [PID, NAME, "penalty.traffic." + "x" * 64, "a.b\n"])
def test_unknown_category_code_is_not_repeated(code: str) -> None:
    with pytest.raises(UnknownCategory, match="unknown category") as info:
        Catalog.default().get(code)
    _assert_clean(info.value, code.strip(), "x" * 60)


def test_only_code_shaped_unknown_categories_are_named() -> None:
    with pytest.raises(UnknownCategory, match="unknown category") as info:
        Catalog.default().get(PID)
    _assert_clean(info.value, PID)
    with pytest.raises(UnknownCategory, match=r"category 'no.such' is not in the catalogue"):
        Catalog.default().get("no.such")


def test_unknown_role_is_not_repeated_in_a_denial() -> None:
    policy = Policy.default()
    d = policy.authorize(
        role=PID, purpose="licensing_review", ticket="T-1", is_self=False, has_consent=False
    )
    assert not d.allowed
    assert d.reason == "role_not_granted"
    assert PID not in d.message
    d = policy.authorize(
        role="third_party",
        purpose="licensing_review",
        ticket="T-1",
        is_self=False,
        has_consent=False,
    )
    assert "role 'third_party' may not use purpose 'licensing_review'" in d.message


def test_extra_keys_of_an_input_model_are_not_repeated() -> None:
    data = {
        "subject": SubjectRef.person(PID),
        "category": "penalty.traffic",
        "legal_basis": "L",
        "decided_on": date(2025, 1, 1),
        "occurred_on": date(2025, 1, 1),
        PID: "x",
    }
    with pytest.raises(InvalidRecord, match="Extra inputs") as info:
        RecordIn.from_mapping(data)
    _assert_clean(info.value, PID)
    good = {k: v for k, v in data.items() if k != PID}
    with pytest.raises(InvalidRecord, match="valid string") as info:
        RecordIn.from_mapping({**good, "facts": {110105194912310021: "x"}})
    _assert_clean(info.value, "110105194912310021")
    with pytest.raises(CreditVaultError, match="string keys"):
        Actor.from_mapping({1: "x"})  # type: ignore[dict-item]


# --- 5. catalogue and policy files: typed errors, no bool-as-int ----------------------------

HEAD = '[[category]]\ncode = "x.y"\nname = "n"\npolarity = "negative"\nlegal_bases = ["L"]\n'
FIELDS = 'fields = [ { name = "a", type = "string", tier = "public", max_length = 10 } ]\n'


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (HEAD + FIELDS + "min_age = true\n", "min_age"),
        (
            HEAD
            + 'fields = [ { name = "a", type = "string", tier = "public", max_length = true } ]\n',
            "max_length",
        ),
        (
            HEAD
            + 'fields = [ { name = "a", type = "string", tier = "public", required = "no" } ]\n',
            "required must be true or false",
        ),
        ("category = [1]\n", "category must be a table"),
        ("category = 1\n", "category must be a list"),
        (HEAD + FIELDS + "subjects = 5\n", "subjects"),
        (HEAD + FIELDS + 'subjects = ["person", "person"]\n', "subjects"),
        (HEAD + FIELDS + "template = [1]\n", "template"),
        ("templates = 3\n" + HEAD + FIELDS, "templates must be a table"),
        ("[templates.t]\nfields = 1\n" + HEAD + FIELDS, "fields must be a list"),
        ("[templates.t]\nfieldz = []\n" + HEAD + FIELDS, "unknown keys"),
        ("repair = [1]\n" + HEAD + FIELDS, "repair must be a table"),
        ("[repair]\nnot_repairable_kinds = [1]\n" + HEAD + FIELDS, "not_repairable_kinds"),
        ("profile = 5\n" + HEAD + FIELDS, "profile"),
        (HEAD + FIELDS + "domain = 5\n", "domain"),
        (HEAD.replace('["L"]', '["L", "L"]') + FIELDS, "legal_bases"),
        (HEAD.replace('polarity = "negative"', "polarity = []") + FIELDS, "polarity"),
        (HEAD + FIELDS + "severity = []\n", "severity"),
        (HEAD + FIELDS + "disclosure = []\n", "disclosure"),
        (HEAD + FIELDS + "disclosure_starts = []\n", "disclosure_starts"),
        (HEAD + FIELDS + "retention_from = {}\n", "retention_from"),
        (HEAD + FIELDS + 'retention = "P99999Y"\n', "retention"),
        (HEAD + 'fields = [ { name = "a", type = [], tier = "public" } ]\n', "unknown type"),
        (HEAD + "fields = { a = 1 }\n", "fields must be a list"),
        (HEAD.replace('"x.y"', '"x.y\\n"') + FIELDS, "code such as"),
    ],
)
def test_malformed_catalogue_files_give_invalid_catalog(
    tmp_path: Path, text: str, match: str
) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidCatalog, match=match):
        Catalog.from_file(path)


def test_catalogue_from_dict_of_the_wrong_shape() -> None:
    with pytest.raises(InvalidCatalog):
        Catalog.from_dict([1])  # type: ignore[arg-type]
    with pytest.raises(InvalidCatalog):
        Catalog.from_dict({"category": [{"code": 5}]})
    with pytest.raises(InvalidCatalog):
        Catalog.from_dict({1: "x"})  # type: ignore[dict-item]


def test_catalogue_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_bytes(("# " + NAME + "\n").encode("gb18030"))
    with pytest.raises(InvalidCatalog, match="not UTF-8") as info:
        Catalog.from_file(path)
    _assert_clean(info.value)
    with pytest.raises(InvalidPolicy, match="not UTF-8"):
        Policy.from_file(path)
    with pytest.raises(InvalidCatalog):
        Catalog.from_toml(b"profile = 'x'")  # type: ignore[arg-type]


BASE = (
    'roles = ["r"]\n[purposes.p]\nkind = "records"\n'
    '[[grants]]\nrole = "r"\npurpose = "p"\ncategories = ["*"]\nmax_tier = "public"\n'
)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('roles = ["r"]\npurposes = { p = 1 }\n', "purpose 'p' must be a table"),
        ('roles = ["r"]\npurposes = 1\n', "purposes must be a table"),
        ('roles = ["r"]\n[purposes.p]\nkind = []\n', "kind"),
        ('roles = ["r"]\n[purposes.p]\nscope = []\n', "scope"),
        ('roles = ["r"]\n[purposes.p]\nconsent = "no"\n', "consent must be true or false"),
        ('roles = ["r"]\n[purposes.p]\nself_only = 1\n', "self_only"),
        ('roles = ["r"]\n[purposes.p]\ndescription = 1\n', "description"),
        ('roles = ["r"]\ngrants = [1]\n', "grant"),
        ('roles = ["r"]\ngrants = 1\n', "grants must be a list"),
        (BASE + 'ticket = "yes"\n', "ticket must be true or false"),
        ("review = 1\n" + BASE, "review must be a table"),
        (BASE + '[review]\nmax_subjects_per_day = "x"\n', "max_subjects_per_day"),
        (BASE + "[review]\nmax_subjects_per_day = -5\n", "max_subjects_per_day"),
        (BASE + "[review]\nmax_subjects_per_day = 0\n", "max_subjects_per_day"),
        (BASE + "[review]\nmax_subjects_per_day = 2.9\n", "max_subjects_per_day"),
        (BASE + "[review]\ndenial_burst = true\n", "denial_burst"),
        (BASE + "[review]\ndenial_window_minutes = false\n", "denial_window_minutes"),
        (BASE + '[review]\nworking_days = ["mon"]\n', "working_days"),
        (BASE + "[review]\nworking_days = [true]\n", "working_days"),
        (BASE + "[review]\nworking_days = 1\n", "working_days"),
        (BASE + "[review]\nmax_subject_per_day = 5\n", "unknown keys"),
    ],
)
def test_malformed_policy_files_give_invalid_policy(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidPolicy, match=match):
        Policy.from_file(path)


def test_whole_numbers_are_required_and_still_accepted() -> None:
    with pytest.raises(InvalidPolicy, match="denial_burst"):
        Policy.from_toml(BASE + "[review]\ndenial_burst = true\n")
    p = Policy.from_toml(
        BASE + "[review]\nmax_subjects_per_day = 7\ndenial_burst = 2\nworking_days = [1, 7]\n"
    )
    assert (p.review.max_subjects_per_day, p.review.denial_burst) == (7, 2)
    assert p.review.working_days == (1, 7)
    with pytest.raises(InvalidCatalog, match="min_age"):
        Catalog.from_toml(HEAD + FIELDS + "min_age = true\n")
    c = Catalog.from_toml(HEAD + FIELDS + "min_age = 18\n")
    assert c.get("x.y").min_age == 18
    assert c.get("x.y").domain == "x"
