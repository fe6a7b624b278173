"""Hypothesis strategies for citizen ID numbers and unified social credit codes.

Check characters here come from ISO 7064's recursive formulation, written apart
from ``credit_vault.identifiers``, so tests that use these strategies are not
checking the implementation against itself.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from hypothesis import strategies as st

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_AUTHORITIES",
    "DEFAULT_MAX_BIRTH_DATE",
    "DEFAULT_MIN_BIRTH_DATE",
    "citizen_id_prefixes",
    "credit_code_prefixes",
    "legacy_citizen_ids",
    "reference_citizen_check",
    "reference_credit_check",
    "valid_citizen_ids",
    "valid_credit_codes",
]

DIGITS = "0123456789"
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_AUTHORITIES = "123456789ANY"
DEFAULT_MIN_BIRTH_DATE = date(1850, 1, 1)
# A fixed past bound keeps generated numbers valid whatever day the suite runs on.
DEFAULT_MAX_BIRTH_DATE = date(2020, 12, 31)


def reference_citizen_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character, computed the recursive way."""
    p = 0
    for c in first17:
        p = (p + int(c)) * 2 % 11
    value = (1 - p) % 11
    return "X" if value == 10 else str(value)


def reference_credit_check(first17: str) -> str:
    """GB 32100 MOD 31 check character; the weights are 3**i mod 31, so Horner's rule."""
    p = 0
    for c in reversed(first17):
        p = (p * 3 + CREDIT_CODE_ALPHABET.index(c)) % 31
    return CREDIT_CODE_ALPHABET[-p % 31]


def citizen_id_prefixes() -> st.SearchStrategy[str]:
    """Any 17 ASCII digits (not necessarily a valid region or date)."""
    return st.text(alphabet=DIGITS, min_size=17, max_size=17)


def credit_code_prefixes() -> st.SearchStrategy[str]:
    """Any 17 characters of the credit code alphabet (not necessarily a valid layout)."""
    return st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=17, max_size=17)


def _regions() -> st.SearchStrategy[str]:
    return st.builds(
        str.__add__,
        st.sampled_from("123456789"),
        st.text(alphabet=DIGITS, min_size=5, max_size=5),
    )


def _sequences(sex: Literal["male", "female"] | None) -> st.SearchStrategy[str]:
    numbers = st.integers(min_value=0, max_value=999)
    if sex == "male":
        numbers = numbers.filter(lambda n: n % 2 == 1)
    elif sex == "female":
        numbers = numbers.filter(lambda n: n % 2 == 0)
    return numbers.map(lambda n: f"{n:03d}")


def valid_citizen_ids(
    *,
    min_birth_date: date = DEFAULT_MIN_BIRTH_DATE,
    max_birth_date: date = DEFAULT_MAX_BIRTH_DATE,
    sex: Literal["male", "female"] | None = None,
) -> st.SearchStrategy[str]:
    """Normalised 18-character citizen ID numbers that ``CitizenId.parse`` accepts."""

    def build(region: str, born: date, sequence: str) -> str:
        first17 = f"{region}{born:%Y%m%d}{sequence}"
        return first17 + reference_citizen_check(first17)

    return st.builds(
        build,
        _regions(),
        st.dates(min_value=min_birth_date, max_value=max_birth_date),
        _sequences(sex),
    )


def legacy_citizen_ids() -> st.SearchStrategy[str]:
    """Valid 15-digit legacy numbers (born 1900-1999, no check character)."""
    return st.builds(
        lambda region, born, sequence: f"{region}{born:%y%m%d}{sequence}",
        _regions(),
        st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
        _sequences(None),
    )


def valid_credit_codes(
    *,
    registering_authorities: str = CREDIT_CODE_AUTHORITIES,
    organisation_types: str = CREDIT_CODE_ALPHABET,
) -> st.SearchStrategy[str]:
    """Normalised 18-character unified social credit codes that ``CreditCode.parse`` accepts."""

    def build(authority: str, kind: str, region: str, organisation: str) -> str:
        first17 = f"{authority}{kind}{region}{organisation}"
        return first17 + reference_credit_check(first17)

    return st.builds(
        build,
        st.sampled_from(registering_authorities),
        # GB 32100 puts no alphabet rule on character 2 beyond the code's own; real
        # codes use digits (1-3, 9), which callers can ask for.
        st.sampled_from(organisation_types),
        st.text(alphabet=DIGITS, min_size=6, max_size=6),
        st.text(alphabet=CREDIT_CODE_ALPHABET, min_size=9, max_size=9),
    )
