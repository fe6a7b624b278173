"""Property tests for citizen ID numbers and unified social credit codes."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from credit_vault.errors import InvalidIdentifier
from credit_vault.identifiers import CitizenId, CreditCode, parse_identifier
from tests.property.strategies_identifiers import (
    CREDIT_CODE_ALPHABET,
    citizen_id_prefixes,
    credit_code_prefixes,
    legacy_citizen_ids,
    reference_citizen_check,
    reference_credit_check,
    valid_citizen_ids,
    valid_credit_codes,
)

# Every printable ASCII upper-case letter and digit: substitutes that never
# normalise back to the original character (unlike "x" for "X").
SUBSTITUTES = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in SUBSTITUTES}
CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
FAR_FUTURE = date(9999, 12, 31)


def substitute(value: str, position: int, char: str) -> str:
    """``value`` with the character at ``position`` replaced by ``char``."""
    return value[:position] + char + value[position + 1 :]


def transpose(value: str, position: int) -> str:
    """``value`` with the characters at ``position`` and ``position + 1`` swapped."""
    return value[:position] + value[position + 1] + value[position] + value[position + 2 :]


# --- valid values parse, normalise and round-trip -----------------------------------


@given(valid_citizen_ids())
def test_generated_citizen_ids_parse(value: str) -> None:
    cid = CitizenId.parse(value)
    assert cid.value == value
    assert cid.region_code == value[:6]
    assert f"{cid.birth_date:%Y%m%d}" == value[6:14]
    assert cid.sex == ("male" if int(value[16]) % 2 else "female")
    assert cid.age_on(cid.birth_date) == 0
    assert value[6:14] not in repr(cid)
    assert repr(cid) == str(cid) == f"CitizenId('{value[:6]}{'*' * 8}{value[-4:]}')"


@given(valid_credit_codes())
def test_generated_credit_codes_parse(value: str) -> None:
    code = CreditCode.parse(value)
    assert code.value == value
    assert code.registering_authority == value[0]
    assert code.organisation_type == value[1]
    assert code.region_code == value[2:8]
    assert repr(code) == str(code) == f"CreditCode('{value[:6]}{'*' * 8}{value[-4:]}')"


@given(valid_citizen_ids(sex="male"), valid_citizen_ids(sex="female"))
def test_sex_strategy_parameter(male: str, female: str) -> None:
    assert CitizenId.parse(male).sex == "male"
    assert CitizenId.parse(female).sex == "female"


@given(
    valid_citizen_ids(min_birth_date=date(2000, 1, 1), max_birth_date=date(2000, 12, 31)),
)
def test_birth_date_strategy_parameters(value: str) -> None:
    assert CitizenId.parse(value).birth_date.year == 2000


@given(
    st.one_of(valid_citizen_ids(), valid_credit_codes()),
    st.lists(st.booleans(), min_size=18, max_size=18),
    st.lists(st.booleans(), min_size=18, max_size=18),
    st.sampled_from(["", " ", "\t", "\n", "\u3000", " \u3000\t"]),
    st.sampled_from(["", " ", "\r\n", "\u3000"]),
)
def test_lower_case_full_width_and_outer_whitespace_are_normalised(
    value: str, lower: list[bool], wide: list[bool], before: str, after: str
) -> None:
    chars = []
    for c, low, w in zip(value, lower, wide, strict=True):
        c = c.lower() if low else c  # noqa: PLW2901 - one step of a small transform
        chars.append(chr(ord(c) + 0xFEE0) if w else c)
    text = before + "".join(chars) + after
    parsed = parse_identifier(text)
    assert parsed.value == value
    assert parsed == parse_identifier(value)


@given(valid_citizen_ids())
def test_whitespace_inside_is_rejected(value: str) -> None:
    for position in range(1, 18):
        with pytest.raises(InvalidIdentifier):
            CitizenId.parse(value[:position] + " " + value[position:])


@given(legacy_citizen_ids())
def test_legacy_numbers_upgrade(legacy: str) -> None:
    cid = CitizenId.parse(legacy)
    first17 = f"{legacy[:6]}19{legacy[6:]}"
    assert cid.value == first17 + reference_citizen_check(first17)
    assert cid.birth_date.year == 1900 + int(legacy[6:8])
    assert cid == CitizenId.parse(cid.value)


# --- check characters: cross-checks ----------------------------------------------------


@given(citizen_id_prefixes())
@example("11010519491231002")
def test_citizen_check_matches_stdnum(first17: str) -> None:
    # stdnum's calc_check_digit drops the last character (it expects the full number).
    assert CitizenId.compute_check_character(first17) == ric.calc_check_digit(first17 + "0")


@given(citizen_id_prefixes())
def test_citizen_check_matches_reference(first17: str) -> None:
    assert CitizenId.compute_check_character(first17) == reference_citizen_check(first17)


@given(credit_code_prefixes())
@example("91350100M000100Y4")
@example("A1110000600037341")
def test_credit_check_matches_stdnum(first17: str) -> None:
    assert CreditCode.compute_check_character(first17) == uscc.calc_check_digit(first17)


@given(credit_code_prefixes())
def test_credit_check_matches_reference(first17: str) -> None:
    assert CreditCode.compute_check_character(first17) == reference_credit_check(first17)


@given(valid_credit_codes(registering_authorities="123456789", organisation_types="0123456789"))
def test_stdnum_accepts_generated_credit_codes_with_digit_authority(value: str) -> None:
    # stdnum wants characters 1-8 all digits (so no A, N, Y authority and no letter
    # organisation type); only such codes are compared.
    assert uscc.is_valid(value)


# --- error detection: single substitutions and adjacent transpositions ------------------


def test_every_citizen_substitution_changes_the_sum() -> None:
    # MOD 11-2 proof: 11 is prime and no weight is 0 mod 11, so w * delta != 0 mod 11
    # for every digit difference delta; the check position itself changes trivially.
    for weight in CITIZEN_WEIGHTS:
        for delta in range(1, 10):
            assert weight * delta % 11 != 0


def test_every_credit_substitution_changes_the_sum() -> None:
    for weight in CREDIT_WEIGHTS:
        for delta in range(1, 31):
            assert weight * delta % 31 != 0


def test_every_adjacent_transposition_changes_the_sum() -> None:
    # Positions 1-17: swapping a != b changes S by (a - b)(w_i - w_{i+1}).
    for weights, modulus, top in ((CITIZEN_WEIGHTS, 11, 10), (CREDIT_WEIGHTS, 31, 31)):
        for w1, w2 in itertools.pairwise(weights):
            for delta in range(1, top):
                assert delta * (w1 - w2) % modulus != 0


def test_transposing_the_last_digit_with_the_check_is_caught_exhaustively() -> None:
    # Positions 17-18: for every partial sum of positions 1-16 and every character at 17.
    for partial in range(11):
        for d in range(10):
            check = (1 - (partial + 2 * d)) % 11  # MOD 11-2 with weight 2 at position 17
            if check < 10 and check != d:
                assert (1 - (partial + 2 * check)) % 11 != d
    for partial in range(31):
        for a in range(31):
            check = -(partial + 28 * a) % 31
            if check != a:
                assert -(partial + 28 * check) % 31 != a


@settings(max_examples=150)
@given(
    valid_citizen_ids(),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(SUBSTITUTES),
)
def test_single_substitution_of_citizen_id_rejected(value: str, position: int, char: str) -> None:
    assume(char != value[position])
    with pytest.raises(InvalidIdentifier):
        CitizenId.parse(substitute(value, position, char), today=FAR_FUTURE)


@settings(max_examples=150)
@given(
    valid_credit_codes(),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(SUBSTITUTES),
)
def test_single_substitution_of_credit_code_rejected(value: str, position: int, char: str) -> None:
    assume(char != value[position])
    with pytest.raises(InvalidIdentifier):
        CreditCode.parse(substitute(value, position, char))


@settings(max_examples=50)
@given(valid_citizen_ids())
def test_every_digit_substitution_of_a_citizen_id_rejected(value: str) -> None:
    # Exhaustive per generated number; dates may stay valid, the check never does.
    for position in range(18):
        for char in "0123456789X":
            if char != value[position]:
                with pytest.raises(InvalidIdentifier):
                    CitizenId.parse(substitute(value, position, char), today=FAR_FUTURE)


@settings(max_examples=50)
@given(valid_credit_codes())
def test_every_alphabet_substitution_of_a_credit_code_rejected(value: str) -> None:
    for position in range(18):
        for char in CREDIT_CODE_ALPHABET:
            if char != value[position]:
                with pytest.raises(InvalidIdentifier):
                    CreditCode.parse(substitute(value, position, char))


@given(valid_credit_codes(), st.integers(min_value=0, max_value=16))
def test_adjacent_transposition_of_credit_code_rejected(value: str, position: int) -> None:
    assume(value[position] != value[position + 1])
    with pytest.raises(InvalidIdentifier):
        CreditCode.parse(transpose(value, position))


@given(valid_citizen_ids(), st.integers(min_value=0, max_value=16))
def test_adjacent_transposition_of_citizen_id_rejected(value: str, position: int) -> None:
    assume(value[position] != value[position + 1])
    with pytest.raises(InvalidIdentifier):
        CitizenId.parse(transpose(value, position), today=FAR_FUTURE)


@given(valid_citizen_ids())
def test_citizen_substitution_that_keeps_a_valid_date_fails_on_the_check(value: str) -> None:
    # Day digit +/- 1 (within the month) is still a real date: the check must catch it.
    day = int(value[12:14])
    new_day = day + 1 if day < 28 else day - 1
    changed = f"{value[:12]}{new_day:02d}{value[14:]}"
    with pytest.raises(InvalidIdentifier, match="check character does not match"):
        CitizenId.parse(changed, today=FAR_FUTURE)


# --- dates and ages ------------------------------------------------------------------------


@given(valid_citizen_ids(), st.integers(min_value=1, max_value=3650))
def test_born_after_today_rejected(value: str, days: int) -> None:
    born = CitizenId.parse(value).birth_date
    with pytest.raises(InvalidIdentifier, match="birth date is in the future"):
        CitizenId.parse(value, today=born - timedelta(days=days))
    assert CitizenId.parse(value, today=born).birth_date == born


@given(valid_citizen_ids(), st.integers(min_value=0, max_value=120))
def test_age_on_birthdays(value: str, years: int) -> None:
    cid = CitizenId.parse(value)
    born = cid.birth_date
    year = born.year + years
    assume(year <= 9999)
    if (born.month, born.day) == (2, 29) and not (
        year % 4 == 0 and (year % 100 or year % 400 == 0)
    ):
        birthday = date(year, 3, 1)
    else:
        birthday = date(year, born.month, born.day)
    assert cid.age_on(birthday) == years
    if years:
        assert cid.age_on(birthday - timedelta(days=1)) == years - 1


@given(valid_citizen_ids(), st.dates(min_value=date(1850, 1, 1), max_value=date(2200, 1, 1)))
def test_age_is_monotonic(value: str, on: date) -> None:
    cid = CitizenId.parse(value)
    assume(on >= cid.birth_date)
    age = cid.age_on(on)
    assert age >= 0
    assert cid.age_on(on + timedelta(days=1)) in (age, age + 1)
    assert age <= on.year - cid.birth_date.year


# --- error messages never carry the input --------------------------------------------------

# Digits and upper-case letters only: lower-case words of the messages cannot collide.
_RANDOM = st.text(alphabet=SUBSTITUTES, max_size=24)
_NEAR_VALID = st.builds(
    substitute,
    st.one_of(valid_citizen_ids(), valid_credit_codes()),
    st.integers(min_value=0, max_value=17),
    st.sampled_from(SUBSTITUTES),
)
_TRUNCATED = st.one_of(valid_citizen_ids(), valid_credit_codes()).flatmap(
    lambda v: st.integers(min_value=0, max_value=17).map(lambda n: v[:n])
)


def assert_message_is_clean(err: InvalidIdentifier, text: str) -> None:
    """Neither the message nor the chain may show the input or a long digit run."""
    rendered = " ".join([str(err), repr(err), *map(str, err.args)])
    assert not re.search(r"\d{4}", rendered)
    for i in range(len(text) - 3):
        assert text[i : i + 4] not in rendered
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


@settings(max_examples=300)
@given(st.one_of(_RANDOM, _NEAR_VALID, _TRUNCATED))
def test_error_messages_never_contain_the_input(text: str) -> None:
    for parse in (CitizenId.parse, CreditCode.parse, parse_identifier):
        try:
            parse(text)
        except InvalidIdentifier as err:
            assert_message_is_clean(err, text)


@given(st.one_of(_RANDOM, _NEAR_VALID))
def test_error_messages_clean_for_full_width_input(text: str) -> None:
    wide = "".join(FULL_WIDTH[c] for c in text)
    for parse in (CitizenId.parse, CreditCode.parse, parse_identifier):
        try:
            parse(wide)
        except InvalidIdentifier as err:
            assert_message_is_clean(err, text)


@given(st.text(max_size=30))
def test_any_text_is_accepted_or_rejected_with_invalid_identifier(text: str) -> None:
    # No other exception type escapes, whatever the Unicode.
    for parse in (CitizenId.parse, CreditCode.parse, parse_identifier):
        try:
            result = parse(text)
        except InvalidIdentifier:
            continue
        assert len(result.value) == 18
        assert result.value.isascii()
