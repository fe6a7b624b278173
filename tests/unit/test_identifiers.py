"""Unit tests for GB 11643 citizen ID numbers and GB 32100 unified social credit codes."""

from __future__ import annotations

import copy
import pickle
import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credit_vault.errors import InputError, InvalidIdentifier
from credit_vault.identifiers import (
    EARLIEST_BIRTH_DATE,
    CitizenId,
    CreditCode,
    contains_identifier,
    mask_identifiers,
    parse_identifier,
)

CITIZEN_EXAMPLES = ["11010519491231002X", "440524188001010014"]
CREDIT_EXAMPLES = [
    "91350100M000100Y43",
    "91420684MA4927PJ7B",
    "91110000600037341L",
    "121200004013590816",
    "A1110000600037341K",
]
# All digits, and checksum-valid both as a citizen ID number and as a credit code.
AMBIGUOUS = "110105198001010518"
TODAY = date(2026, 6, 1)


def with_check(first17: str) -> str:
    """A citizen ID number from its first 17 digits."""
    return first17 + CitizenId.compute_check_character(first17)


def credit_with_check(first17: str) -> str:
    """A credit code from its first 17 characters."""
    return first17 + CreditCode.compute_check_character(first17)


def rejected(parse: object, text: object) -> InvalidIdentifier:
    """Parse ``text`` and return the InvalidIdentifier it must raise."""
    assert callable(parse)
    with pytest.raises(InvalidIdentifier) as info:
        parse(text)
    return info.value


def citizen(text: str) -> CitizenId:
    """Parse with a fixed ``today`` so the tests do not depend on the calendar."""
    return CitizenId.parse(text, today=TODAY)


def citizen_error(text: object) -> str:
    """The message of the InvalidIdentifier raised for ``text``."""
    with pytest.raises(InvalidIdentifier) as info:
        CitizenId.parse(text, today=TODAY)  # type: ignore[arg-type]
    return info.value.message


def credit_error(text: object) -> str:
    """The message of the InvalidIdentifier raised for ``text``."""
    with pytest.raises(InvalidIdentifier) as info:
        CreditCode.parse(text)  # type: ignore[arg-type]
    return info.value.message


# --- citizen ID: valid examples and properties --------------------------------------


@pytest.mark.parametrize("text", CITIZEN_EXAMPLES)
def test_citizen_examples_parse_to_themselves(text: str) -> None:
    assert CitizenId.parse(text).value == text


@pytest.mark.parametrize("text", CITIZEN_EXAMPLES)
def test_citizen_example_check_characters(text: str) -> None:
    assert CitizenId.compute_check_character(text[:17]) == text[17]


def test_citizen_properties() -> None:
    cid = CitizenId.parse("11010519491231002X")
    assert cid.birth_date == date(1949, 12, 31)
    assert cid.sex == "female"
    assert cid.region_code == "110105"


def test_citizen_born_1880_is_fine() -> None:
    cid = CitizenId.parse("440524188001010014")
    assert cid.birth_date == date(1880, 1, 1)
    assert cid.sex == "male"
    assert cid.region_code == "440524"


def test_lower_case_x_is_normalised() -> None:
    assert CitizenId.parse("11010519491231002x").value == "11010519491231002X"


def test_wrong_check_character_rejected_without_echo() -> None:
    err = rejected(CitizenId.parse, "110105194912310021")
    assert "110105194912310021" not in str(err)
    assert err.message == "citizen ID number check character does not match"


@pytest.mark.parametrize(
    "text",
    [
        "  11010519491231002X  ",
        "\t11010519491231002X\n",
        "\u300011010519491231002X\u3000",
        "１１０１０５１９４９１２３１００２Ｘ",
        "１１０１０５１９４９１２３１００２ｘ",
        "\u3000１１０１０５19491231００2ｘ ",
    ],
)
def test_citizen_normalisation(text: str) -> None:
    assert CitizenId.parse(text).value == "11010519491231002X"


@pytest.mark.parametrize(
    "text",
    [
        "110105 19491231002X",  # inner space
        "110105-19491231002X",
        "11010519491231002Ⅹ",  # Roman numeral ten
        "11010519491231002χ",  # Greek chi
        "11010519491231002x\u0301",
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits: str.isdigit() says yes
        "11010519491231002²",
        "1101051949123100²X",
        "11010519491231002X\x00",
        "X1010519491231002X",
        "1101051949123100X2",
        "11010519491231002A",
        "",
        "   ",
    ],
)
def test_citizen_rejects_lookalikes_and_junk(text: str) -> None:
    rejected(CitizenId.parse, text)


# --- citizen ID: legacy 15-digit numbers ---------------------------------------------


def test_legacy_number_upgraded() -> None:
    cid = CitizenId.parse("110105491231002")
    assert cid.value == "11010519491231002X"
    assert cid.birth_date == date(1949, 12, 31)
    assert cid == CitizenId.parse("11010519491231002X")


def test_legacy_number_full_width_and_spaces() -> None:
    assert CitizenId.parse(" １１０１０５４９１２３１００２\u3000").value == "11010519491231002X"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("11010549123100X", "legacy citizen ID number contains characters outside"),
        ("110105490230002", "birth date is not a real date"),
        ("110105491301002", "birth date is not a real date"),
        ("010105491231002", "citizen ID number region code must not start with 0"),
    ],
)
def test_legacy_number_rules(text: str, message: str) -> None:
    assert citizen_error(text).startswith(message)


def test_legacy_number_for_1900_feb_29_rejected() -> None:
    # 1900 was not a leap year, and legacy numbers always mean 19xx.
    assert citizen_error("110105000229002") == "birth date is not a real date"


# --- citizen ID: rules and messages ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1101051949123100", "citizen ID number must be 18 characters (or 15 for a legacy number)"),
        (
            "11010519491231002",
            "citizen ID number must be 18 characters (or 15 for a legacy number)",
        ),
        (
            "11010519491231002X1",
            "citizen ID number must be 18 characters (or 15 for a legacy number)",
        ),
        ("", "citizen ID number must be 18 characters (or 15 for a legacy number)"),
        ("1101051949123100AX", "citizen ID number contains characters outside the digits 0-9"),
        ("X1010519491231002X", "citizen ID number contains characters outside the digits 0-9"),
        (with_check("01010519491231002"), "citizen ID number region code must not start with 0"),
        (with_check("11010519490230002"), "birth date is not a real date"),
        (with_check("11010519490231002"), "birth date is not a real date"),
        (with_check("11010519491301002"), "birth date is not a real date"),
        (with_check("11010519490001002"), "birth date is not a real date"),
        (with_check("11010519490100002"), "birth date is not a real date"),
        (with_check("11010500000101002"), "birth date is not a real date"),
        (with_check("11010519000229002"), "birth date is not a real date"),
        (with_check("11010518491231002"), "birth date is before the earliest accepted"),
        (with_check("11010520260602002"), "birth date is in the future"),
        (with_check("11010599991231002"), "birth date is in the future"),
        ("110105194912310021", "citizen ID number check character does not match"),
    ],
)
def test_citizen_rule_messages(text: str, message: str) -> None:
    assert citizen_error(text).startswith(message)


def test_feb_29_in_leap_year_accepted() -> None:
    assert citizen(with_check("11010520000229002")).birth_date == date(2000, 2, 29)


def test_earliest_birth_date_accepted() -> None:
    assert date(1850, 1, 1) == EARLIEST_BIRTH_DATE
    assert citizen(with_check("11010518500101002")).birth_date == EARLIEST_BIRTH_DATE


def test_born_today_accepted_tomorrow_rejected() -> None:
    born_today = with_check(f"110105{TODAY:%Y%m%d}002")
    assert CitizenId.parse(born_today, today=TODAY).birth_date == TODAY
    with pytest.raises(InvalidIdentifier, match="in the future"):
        CitizenId.parse(born_today, today=TODAY - timedelta(days=1))


def test_today_may_be_a_datetime() -> None:
    born_today = with_check(f"110105{TODAY:%Y%m%d}002")
    noon = datetime(TODAY.year, TODAY.month, TODAY.day, 12)
    assert CitizenId.parse(born_today, today=noon).birth_date == TODAY
    with pytest.raises(InvalidIdentifier, match="in the future"):
        CitizenId.parse(born_today, today=noon - timedelta(days=1))


def test_today_defaults_to_the_system_date() -> None:
    tomorrow = date.today() + timedelta(days=1)
    with pytest.raises(InvalidIdentifier, match="in the future"):
        CitizenId.parse(with_check(f"110105{tomorrow:%Y%m%d}002"))
    yesterday = date.today() - timedelta(days=1)
    assert CitizenId.parse(with_check(f"110105{yesterday:%Y%m%d}002")).birth_date == yesterday


@pytest.mark.parametrize(
    "value", [None, 110105194912310021, b"11010519491231002X", ["11010519491231002X"]]
)
def test_citizen_non_str_rejected(value: object) -> None:
    assert citizen_error(value) == "citizen ID number must be given as a str"


def test_citizen_parse_rejects_an_already_parsed_id() -> None:
    assert citizen_error(CitizenId.parse(CITIZEN_EXAMPLES[0])).endswith("given as a str")


def test_str_subclass_accepted_and_value_is_plain_str() -> None:
    class Sneaky(str):
        def strip(self, chars: str | None = None) -> str:
            return "440524188001010014"

    cid = CitizenId.parse(Sneaky("11010519491231002X"))
    assert cid.value == "11010519491231002X"
    assert type(cid.value) is str


# --- citizen ID: age -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        ("19491231", date(1949, 12, 31), 0),
        ("19491231", date(1950, 12, 30), 0),
        ("19491231", date(1950, 12, 31), 1),
        ("19491231", date(2026, 1, 1), 76),
        ("20000229", date(2001, 2, 28), 0),
        ("20000229", date(2001, 3, 1), 1),
        ("20000229", date(2004, 2, 28), 3),
        ("20000229", date(2004, 2, 29), 4),
        ("20000229", date(2018, 2, 28), 17),
        ("20000229", date(2018, 3, 1), 18),
        ("20080301", date(2026, 2, 28), 17),
        ("20080301", date(2026, 3, 1), 18),
        ("20080228", date(2026, 2, 28), 18),
    ],
)
def test_age_on(born: str, on: date, age: int) -> None:
    assert citizen(with_check(f"110105{born}002")).age_on(on) == age


def test_age_on_accepts_datetime() -> None:
    cid = citizen(with_check("11010520000229002"))
    assert cid.age_on(datetime(2018, 3, 1, 0, 0)) == 18


def test_age_on_before_birth_rejected() -> None:
    cid = CitizenId.parse("11010519491231002X")
    with pytest.raises(InputError, match="before the birth date"):
        cid.age_on(date(1949, 12, 30))


# --- citizen ID: masking, immutability, equality --------------------------------------


def test_citizen_repr_and_str_mask_the_middle() -> None:
    cid = CitizenId.parse("11010519491231002X")
    assert repr(cid) == "CitizenId('110105********002X')"
    assert str(cid) == "CitizenId('110105********002X')"
    assert f"{cid}" == "CitizenId('110105********002X')"
    assert "%s" % cid == "CitizenId('110105********002X')"  # noqa: UP031 - tests %-formatting
    assert "19491231" not in repr([cid]) + repr({"k": cid})


def test_citizen_is_immutable() -> None:
    cid = CitizenId.parse("11010519491231002X")
    with pytest.raises(AttributeError):
        cid._value = "440524188001010014"
    with pytest.raises(AttributeError):
        cid.value = "440524188001010014"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del cid._value
    with pytest.raises(AttributeError):
        cid.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(cid, "__dict__")
    assert cid.value == "11010519491231002X"


def test_citizen_equality_and_hash() -> None:
    a = CitizenId.parse("11010519491231002x")
    b = CitizenId.parse("１１０１０５４９１２３１００２")
    c = CitizenId.parse("440524188001010014")
    assert a == b
    assert hash(a) == hash(b)
    assert a != c
    assert len({a, b, c}) == 2
    assert a != "11010519491231002X"


def test_citizen_pickle_and_copy() -> None:
    cid = CitizenId.parse("11010519491231002X")
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        restored = pickle.loads(pickle.dumps(cid, protocol=protocol))  # noqa: S301 - own data
        assert restored == cid
        assert restored.birth_date == cid.birth_date
    assert copy.copy(cid) is cid
    assert copy.deepcopy(cid) is cid


def test_citizen_unpickle_revalidates() -> None:
    forged = pickle.dumps(CitizenId.parse("11010519491231002X")).replace(b"002X", b"0021")
    with pytest.raises(InvalidIdentifier, match="check character"):
        pickle.loads(forged)  # noqa: S301 - own data


# --- citizen ID: compute_check_character ---------------------------------------------


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("00000000000000000", "1"),  # S = 0
        ("10000000000000000", "5"),  # S = 7
        ("00000000000000001", "X"),  # S = 2
        ("00000000000000005", "2"),  # S = 10
    ],
)
def test_citizen_compute_check_character(first17: str, check: str) -> None:
    assert CitizenId.compute_check_character(first17) == check


@pytest.mark.parametrize(
    "bad",
    [
        "1101051949123100",
        "110105194912310020",
        "1101051949123100X",
        "１１０１０５１９４９１２３１００２",
        11,
    ],
)
def test_citizen_compute_check_character_rejects_bad_input(bad: object) -> None:
    with pytest.raises(InvalidIdentifier):
        CitizenId.compute_check_character(bad)  # type: ignore[arg-type]


# --- credit code ------------------------------------------------------------------------


@pytest.mark.parametrize("text", CREDIT_EXAMPLES)
def test_credit_examples_parse_to_themselves(text: str) -> None:
    assert CreditCode.parse(text).value == text
    assert CreditCode.compute_check_character(text[:17]) == text[17]


def test_credit_code_with_letter_authority_validates() -> None:
    code = CreditCode.parse("A1110000600037341K")
    assert code.registering_authority == "A"
    assert code.organisation_type == "1"
    assert code.region_code == "110000"


def test_credit_properties() -> None:
    code = CreditCode.parse("91420684MA4927PJ7B")
    assert code.registering_authority == "9"
    assert code.organisation_type == "1"
    assert code.region_code == "420684"


@pytest.mark.parametrize(
    "text",
    [
        "91350100m000100y43",
        "  91350100M000100Y43\n",
        "\u300091350100M000100Y43\u3000",
        "９１３５０１００Ｍ０００１００Ｙ４３",
        "９１３５０１００ｍ０００１００ｙ４３",
    ],
)
def test_credit_normalisation(text: str) -> None:
    assert CreditCode.parse(text).value == "91350100M000100Y43"


def test_credit_rejects_letters_that_upper_into_the_alphabet() -> None:
    # str.upper() would turn the ligature into "FF" and yield a valid code.
    valid = credit_with_check("91350100MAFF00100")
    assert CreditCode.parse(valid).value == valid
    rejected(CreditCode.parse, valid.replace("FF", "\ufb00"))
    # Kelvin sign lower-cases to "k"; make sure it is not folded into "K" either.
    valid_k = credit_with_check("91350100MAK000100")
    rejected(CreditCode.parse, valid_k.replace("K", "\u212a"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("91350100M000100Y4", "unified social credit code must be 18 characters"),
        ("91350100M000100Y433", "unified social credit code must be 18 characters"),
        ("", "unified social credit code must be 18 characters"),
        (
            "91350100M000100I43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (
            "91350100O000100Y43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (
            "91350100S000100Y43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (
            "91350100V000100Y43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (
            "91350100Z000100Y43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (
            "91350100M 00100Y43",
            "unified social credit code contains characters outside its alphabet",
        ),
        (credit_with_check("01350100M000100Y4"), "registering authority (first character)"),
        (credit_with_check("B1350100M000100Y4"), "registering authority (first character)"),
        (credit_with_check("X1350100M000100Y4"), "registering authority (first character)"),
        (credit_with_check("913501A0M000100Y4"), "unified social credit code region code"),
        (credit_with_check("91A50100M000100Y4"), "unified social credit code region code"),
        ("91350100M000100Y44", "unified social credit code check character does not match"),
        (
            "91350100M000100Y4I",
            "unified social credit code contains characters outside its alphabet",
        ),
    ],
)
def test_credit_rule_messages(text: str, message: str) -> None:
    assert credit_error(text).startswith(message)


@pytest.mark.parametrize("authority", list("123456789ANY"))
def test_credit_every_registering_authority_accepted(authority: str) -> None:
    text = credit_with_check(f"{authority}1350100M000100Y4")
    assert CreditCode.parse(text).registering_authority == authority


@pytest.mark.parametrize("value", [None, 91350100, b"91350100M000100Y43"])
def test_credit_non_str_rejected(value: object) -> None:
    assert credit_error(value) == "unified social credit code must be given as a str"


def test_credit_repr_and_str_mask_the_middle() -> None:
    code = CreditCode.parse("91350100M000100Y43")
    assert repr(code) == "CreditCode('913501********0Y43')"
    assert str(code) == "CreditCode('913501********0Y43')"
    assert f"{code}" == "CreditCode('913501********0Y43')"


def test_credit_immutable_equal_hashable_picklable() -> None:
    code = CreditCode.parse("91350100m000100y43")
    same = CreditCode.parse("91350100M000100Y43")
    assert code == same
    assert hash(code) == hash(same)
    assert code != CreditCode.parse("91110000600037341L")
    with pytest.raises(AttributeError):
        code._value = "91110000600037341L"
    assert not hasattr(code, "__dict__")
    assert pickle.loads(pickle.dumps(code)) == code  # noqa: S301 - own data
    assert copy.deepcopy(code) is code


def test_credit_compute_check_character_rejects_bad_input() -> None:
    for bad in ["91350100M000100Y", "91350100M000100Y43", "91350100m000100Y4", "91350100I000100Y4"]:
        with pytest.raises(InvalidIdentifier):
            CreditCode.compute_check_character(bad)


def test_credit_check_value_zero_maps_to_zero() -> None:
    # (31 - S mod 31) mod 31: S mod 31 == 0 must give "0", not an out-of-range 31.
    assert CreditCode.compute_check_character("0" * 17) == "0"


# --- both kinds ---------------------------------------------------------------------------


def test_ambiguous_number_is_valid_as_both() -> None:
    assert CitizenId.parse(AMBIGUOUS).value == AMBIGUOUS
    assert CreditCode.parse(AMBIGUOUS).value == AMBIGUOUS
    assert CitizenId.parse(AMBIGUOUS) != CreditCode.parse(AMBIGUOUS)
    assert hash(CitizenId.parse(AMBIGUOUS)) != hash(CreditCode.parse(AMBIGUOUS))


def test_parse_identifier_chooses_by_validity() -> None:
    assert isinstance(parse_identifier("11010519491231002x"), CitizenId)
    assert isinstance(parse_identifier("110105491231002"), CitizenId)
    assert isinstance(parse_identifier("91350100m000100y43"), CreditCode)
    assert isinstance(parse_identifier("A1110000600037341K"), CreditCode)
    assert isinstance(parse_identifier(AMBIGUOUS), CitizenId)


def test_parse_identifier_falls_back_to_credit_code_when_citizen_date_is_future() -> None:
    # Checksum-valid as both kinds, but born in 2099: only the credit code reading holds.
    text = "110105209901010071"
    assert CitizenId.compute_check_character(text[:17]) == text[17]
    assert citizen_error(text) == "birth date is in the future"
    assert isinstance(parse_identifier(text, today=TODAY), CreditCode)


def test_parse_identifier_passes_today() -> None:
    born_today = with_check(f"110105{TODAY:%Y%m%d}002")
    assert isinstance(parse_identifier(born_today, today=TODAY), CitizenId)


@pytest.mark.parametrize("text", ["110105194912310021", "91350100M000100Y44", "", None, 7])
def test_parse_identifier_generic_message(text: object) -> None:
    err = rejected(parse_identifier, text)
    assert err.message == "not a valid citizen ID number or unified social credit code"
    assert err.__cause__ is None
    assert err.__suppress_context__


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (CitizenId.parse, "110105194912310021"),
        (CitizenId.parse, with_check("11010519490230002")),
        (CitizenId.parse, "11010519491231002"),
        (CreditCode.parse, "91350100M000100Y44"),
        (CreditCode.parse, "91350100M000100I43"),
        (parse_identifier, "91350100M000100Y44"),
    ],
)
def test_errors_are_typed_and_never_echo_the_input(parse: object, text: str) -> None:
    err = rejected(parse, text)
    assert isinstance(err, ValueError)
    assert err.code == "invalid_identifier"
    rendered = " ".join([str(err), repr(err), *map(str, err.args)])
    assert not re.search(r"\d{4}", rendered)
    for i in range(len(text) - 3):
        assert text[i : i + 4] not in rendered
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


# --- identifiers inside free text ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("案-110101198501011239-李四", "案-[id]-李四"),
        ("id11010119850101123Xyz", "id[id]yz"),  # letters around do not hide it
        ("１１０１０１１９８５０１０１１２３９", "[id]"),  # full-width digits
        ("421202-19800101-0075", "[id]"),  # grouped by hyphens
        ("421202 19800101 0075 ok", "[id] ok"),  # or by spaces
        ("old 110101850101123 number", "old [id] number"),  # legacy 15 digits
        ("110101198501011238", "[id]"),  # a wrong check character is still a number
        ("card 4111 1111 1111 1111.", "card [id]."),  # a card number (Luhn)
        ("two 110101198501011239110101198501011239", "two [id][id]"),
        ("org 91350100M000100Y43.", "org [id]."),  # a valid credit code
        ("org 91350100M000100Y44.", "org 91350100M000100Y44."),  # not a code: check fails
        ("(2025)鄂1202执123号", "(2025)鄂1202执123号"),  # case numbers stay
        ("A4212020500002025060001", "A4212020500002025060001"),  # a long order number
        ("2025060112345678901", "2025060112345678901"),  # not a date, not a card
        ("990101198501011239", "990101198501011239"),  # no region starts with 9
        ("110101199913321239", "110101199913321239"),  # month 13: no birth date
        ("tel 13800138000", "tel 13800138000"),  # 11 digits: not an identifier's shape
        ("411111111111111X", "411111111111111X"),  # X only ends an 18-character ID number
        ("ref 1234567890123456X", "ref 1234567890123456X"),  # nor a card number
        ("案-110101198501311230-李四", "案-[id]-李四"),  # born on the 31st
        ("card 5555 5555 5555 4444", "card [id]"),
        ("card 6212261202001234567", "card [id]"),  # 19 digits (UnionPay)
        ("org 91350100m000100y43", "org [id]"),  # a credit code in lower case
        ("９１３５０１００Ｍ０００１００Ｙ４３", "[id]"),  # or full width
        ("no 11111119200101011234567 end", "no [id]567 end"),  # overlapping windows
        ("110101180001011239", "110101180001011239"),  # born 1800: before any ID number
        ("PIPL Art 47", "PIPL Art 47"),
        ("", ""),
    ],
)
def test_mask_identifiers(text: str, masked: str) -> None:
    assert mask_identifiers(text) == masked
    assert contains_identifier(text) is (masked != text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("req-110101198501011239", "req-[id]"),  # a real ID number, check character and all
        ("req-110101198501011238", "req-110101198501011238"),  # check fails: a number
        ("req-4111111111111111", "req-4111111111111111"),  # cards are not looked for
        ("91350100M000100Y43", "[id]"),
    ],
)
def test_strict_masking_takes_only_checked_identifiers(text: str, masked: str) -> None:
    assert mask_identifiers(text, strict=True) == masked


@given(st.binary(min_size=16, max_size=16))
def test_strict_masking_leaves_trace_ids_alone(raw: bytes) -> None:
    # A W3C trace id is 32 random hex digits; its digit runs are not identifiers.
    trace = raw.hex()
    assert mask_identifiers(trace, strict=True) == trace


@given(st.text(alphabet="0123456789X-案 ", max_size=60))
def test_masked_text_holds_no_identifier(text: str) -> None:
    assert not contains_identifier(mask_identifiers(text))
