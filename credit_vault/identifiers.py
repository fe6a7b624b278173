"""GB 11643-1999 citizen ID numbers and GB 32100-2015 unified social credit codes.

Both kinds are validated and normalised on parse; the resulting objects never show
their full value in ``repr()`` or ``str()`` (only ``.value`` gives it), and every
rejection is an :class:`~credit_vault.errors.InvalidIdentifier` whose message names
the rule that was broken without echoing any part of the input.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, Self, final

from credit_vault.errors import InputError, InvalidIdentifier

__all__ = [
    "EARLIEST_BIRTH_DATE",
    "CitizenId",
    "CreditCode",
    "contains_identifier",
    "mask_identifiers",
    "parse_identifier",
]

EARLIEST_BIRTH_DATE: Final = date(1850, 1, 1)
"""Citizen ID numbers with a birth date before this day are rejected."""

_DIGITS: Final = frozenset("0123456789")

# Full-width ASCII (U+FF01..U+FF5E) maps onto ASCII and lower-case ASCII onto upper
# case. str.upper() is deliberately not used: it maps some non-ASCII letters onto
# ASCII ones ("ı" -> "I", "ﬀ" -> "FF"), which would let look-alikes through.
_NORMALISE: Final = {
    **{cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)},
    **{cp: cp - 0x20 for cp in range(ord("a"), ord("z") + 1)},
    **{cp: cp - 0xFEE0 - 0x20 for cp in range(0xFF41, 0xFF5B)},
}


def _normalise(text: object, kind: str) -> str:
    """Strip surrounding whitespace, fold full-width ASCII and upper-case ASCII letters."""
    if not isinstance(text, str):
        raise InvalidIdentifier(f"{kind} must be given as a str")
    # str.__str__ gives a plain str even for subclasses that override methods.
    return str.__str__(text).strip().translate(_NORMALISE)


def _fail(message: str) -> NoReturn:
    # `from None` keeps no chained exception around that might carry the input.
    raise InvalidIdentifier(message) from None


def _mask(value: str) -> str:
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


# --- GB 11643-1999 citizen ID number -------------------------------------------

_CITIZEN_KIND: Final = "citizen ID number"
_CITIZEN_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK: Final = "10X98765432"  # indexed by S mod 11


def _citizen_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _CITIZEN_WEIGHTS, strict=True))
    return _CITIZEN_CHECK[total % 11]


def _birth_date(year: int, month: int, day: int, today: date) -> date:
    if not (1 <= year <= 9999 and 1 <= month <= 12):
        _fail("birth date is not a real date")
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        _fail("birth date is not a real date")
    born = date(year, month, day)
    if born < EARLIEST_BIRTH_DATE:
        _fail("birth date is before the earliest accepted birth date")
    if born > today:
        _fail("birth date is in the future")
    return born


class _Identifier:
    """What both identifiers share: an immutable normalised value, compared by kind and
    value, masked in repr and str (the clear value only through ``.value``)."""

    __slots__ = ("_value",)

    _value: str

    if not TYPE_CHECKING:
        # Hidden from type checkers so they keep reporting assignments to properties
        # and unknown attributes, which a declared __setattr__ would silence.
        def __setattr__(self, name: str, value: object) -> NoReturn:
            raise AttributeError(f"{type(self).__name__} is immutable")

        def __delattr__(self, name: str) -> NoReturn:
            raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self), self._value))

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{_mask(self._value)}')"

    __str__ = __repr__

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self


@final
class CitizenId(_Identifier):
    """A validated GB 11643-1999 citizen ID number (公民身份号码), always 18 characters."""

    __slots__ = ("_birth_date",)

    _birth_date: date

    def __init__(self, text: str, /, *, today: date | None = None) -> None:
        """Validate and normalise ``text``; same as :meth:`CitizenId.parse`."""
        if today is None:
            today = date.today()
        elif isinstance(today, datetime):
            # A datetime would not compare with the birth date; its calendar day does.
            today = today.date()
        value, born = self._validate(text, today)
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_birth_date", born)

    @classmethod
    def parse(cls, text: str, *, today: date | None = None) -> CitizenId:
        """Parse an 18-character (or legacy 15-digit) number born no later than ``today``."""
        return cls(text, today=today)

    @staticmethod
    def compute_check_character(first17: str) -> str:
        """The ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for 17 ASCII digits."""
        if not isinstance(first17, str) or len(first17) != 17 or not set(first17) <= _DIGITS:
            _fail("check character needs exactly 17 ASCII digits")
        return _citizen_check(first17)

    @staticmethod
    def _validate(text: object, today: date) -> tuple[str, date]:
        s = _normalise(text, _CITIZEN_KIND)
        if len(s) == 15:
            if not set(s) <= _DIGITS:
                _fail("legacy citizen ID number contains characters outside the digits 0-9")
            year, month, day = 1900 + int(s[6:8]), int(s[8:10]), int(s[10:12])
            first17 = f"{s[:6]}19{s[6:]}"
            s = first17 + _citizen_check(first17)
        elif len(s) == 18:
            first17, check = s[:17], s[17]
            if not set(first17) <= _DIGITS or (check not in _DIGITS and check != "X"):
                _fail(
                    "citizen ID number contains characters outside the digits 0-9 "
                    "(and X as the final check character)"
                )
            year, month, day = int(s[6:10]), int(s[10:12]), int(s[12:14])
        else:
            _fail("citizen ID number must be 18 characters (or 15 for a legacy number)")
        if s[0] == "0":
            _fail("citizen ID number region code must not start with 0")
        born = _birth_date(year, month, day, today)
        if _citizen_check(s[:17]) != s[17]:
            _fail("citizen ID number check character does not match")
        return s, born

    @property
    def value(self) -> str:
        """The normalised 18-character number (the only way to see it in clear)."""
        return self._value

    @property
    def birth_date(self) -> date:
        """The date of birth (characters 7-14)."""
        return self._birth_date

    @property
    def sex(self) -> Literal["male", "female"]:
        """``"male"`` if the 17th character is odd, else ``"female"``."""
        return "male" if int(self._value[16]) % 2 else "female"

    @property
    def region_code(self) -> str:
        """The six-digit administrative division code at registration (characters 1-6)."""
        return self._value[:6]

    def age_on(self, on: date) -> int:
        """Completed years on ``on``; a 29 February birthday counts from 1 March in common years."""
        born = self._birth_date
        if (on.year, on.month, on.day) < (born.year, born.month, born.day):
            raise InputError("age asked for a date before the birth date")
        # Tuple comparison makes (2, 28) < (2, 29) <= (3, 1): exactly the 1 March rule.
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_restore_citizen_id, (self._value,))


def _restore_citizen_id(value: str) -> CitizenId:
    # Unpickling re-validates, but not against the local clock: the birth date was
    # checked when the object was first made.
    return CitizenId(value, today=date.max)


# --- GB 32100-2015 unified social credit code ------------------------------------

_CREDIT_KIND: Final = "unified social credit code"
_CREDIT_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_VALUES: Final = {c: i for i, c in enumerate(_CREDIT_ALPHABET)}
_CREDIT_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_AUTHORITIES: Final = frozenset("123456789ANY")
_CREDIT_ALPHABET_MESSAGE: Final = (
    "unified social credit code contains characters outside its alphabet "
    "(digits and letters other than I, O, S, V and Z)"
)


def _credit_check(first17: str) -> str:
    total = sum(_CREDIT_VALUES[c] * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


@final
class CreditCode(_Identifier):
    """A validated GB 32100-2015 unified social credit code (统一社会信用代码)."""

    __slots__ = ()

    def __init__(self, text: str, /) -> None:
        """Validate and normalise ``text``; same as :meth:`CreditCode.parse`."""
        object.__setattr__(self, "_value", self._validate(text))

    @classmethod
    def parse(cls, text: str) -> CreditCode:
        """Parse an 18-character code; accepts lower case, full-width ASCII and outer spaces."""
        return cls(text)

    @staticmethod
    def compute_check_character(first17: str) -> str:
        """The MOD 31 check character for 17 characters of the code's alphabet (upper case)."""
        if (
            not isinstance(first17, str)
            or len(first17) != 17
            or not set(first17) <= _CREDIT_VALUES.keys()
        ):
            _fail("check character needs exactly 17 characters of the credit code alphabet")
        return _credit_check(first17)

    @staticmethod
    def _validate(text: object) -> str:
        s = _normalise(text, _CREDIT_KIND)
        if len(s) != 18:
            _fail("unified social credit code must be 18 characters")
        if not set(s) <= _CREDIT_VALUES.keys():
            _fail(_CREDIT_ALPHABET_MESSAGE)
        if s[0] not in _CREDIT_AUTHORITIES:
            _fail("registering authority (first character) must be 1-9, A, N or Y")
        if not set(s[2:8]) <= _DIGITS:
            _fail("unified social credit code region code (characters 3-8) must be digits")
        if _credit_check(s[:17]) != s[17]:
            _fail("unified social credit code check character does not match")
        return s

    @property
    def value(self) -> str:
        """The normalised 18-character code (the only way to see it in clear)."""
        return self._value

    @property
    def registering_authority(self) -> str:
        """The registering authority code (character 1)."""
        return self._value[0]

    @property
    def organisation_type(self) -> str:
        """The organisation type code (character 2)."""
        return self._value[1]

    @property
    def region_code(self) -> str:
        """The six-digit administrative division code of the registering office (characters 3-8)."""
        return self._value[2:8]

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (CreditCode, (self._value,))


def parse_identifier(text: str, *, today: date | None = None) -> CitizenId | CreditCode:
    """Parse ``text`` as a citizen ID number if it is one, else as a unified social credit code."""
    try:
        return CitizenId.parse(text, today=today)
    except InvalidIdentifier:
        pass
    try:
        return CreditCode.parse(text)
    except InvalidIdentifier:
        pass
    _fail("not a valid citizen ID number or unified social credit code")


# --- identifiers inside free text ----------------------------------------------

#: What replaces an identifier found inside free text.
IDENTIFIER_MASK: Final = "[id]"

# Candidate runs: digits, singly grouped by spaces or hyphens as ID and card numbers
# are often written, the last one possibly X. Full-width ASCII and lower case fold
# onto ASCII upper case first, one character for one, so positions in the folded
# text are positions in the original.
_DIGIT_RUN: Final = re.compile(r"(?<![0-9])[0-9](?:[ \-]?[0-9])*(?:[ \-]?X)?(?![0-9])")
_CODE_RUN: Final = re.compile(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])")
_REGION_FIRST: Final = frozenset("12345678")  # 1x North ... 8x Hong Kong, Macao


def _real_date(year: int, month: int, day: int) -> bool:
    if not (EARLIEST_BIRTH_DATE.year <= year <= date.today().year and 1 <= month <= 12):
        return False
    return 1 <= day <= calendar.monthrange(year, month)[1]


def _looks_like_citizen_id(d: str) -> bool:
    """18 characters (17 digits, then a digit or X) or 15 digits, with a region's first
    digit and a real birth date. The check character is not required: a mistyped
    number is still one person's number."""
    if d[0] not in _REGION_FIRST:
        return False
    if len(d) == 18 and d[:17].isdigit():
        return _real_date(int(d[6:10]), int(d[10:12]), int(d[12:14]))
    if len(d) == 15 and d.isdigit():
        return _real_date(1900 + int(d[6:8]), int(d[8:10]), int(d[10:12]))
    return False


def _luhn(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        n = int(c)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _checked_citizen_id(d: str) -> bool:
    return len(d) == 18 and _looks_like_citizen_id(d) and _citizen_check(d[:17]) == d[17]


def _identifier_spans(
    text: str, *, strict: bool, credit_codes: bool = True
) -> list[tuple[int, int]]:
    if len(text) < 15:
        # Nothing shorter than a legacy ID number is recognised; most of what the
        # log is given (actor ids, roles, tickets) ends here.
        return []
    folded = str.__str__(text).translate(_NORMALISE)
    spans: list[tuple[int, int]] = []
    for m in _DIGIT_RUN.finditer(folded):
        at = [i for i in range(m.start(), m.end()) if folded[i] not in " -"]
        d = "".join(folded[i] for i in at)
        if len(d) < 15:
            continue
        if strict:
            if _checked_citizen_id(d):
                spans.append(m.span())
        elif _looks_like_citizen_id(d) or (d.isdigit() and 16 <= len(d) <= 19 and _luhn(d)):
            spans.append(m.span())
        elif len(d) > 19:
            # Numbers run together: every 18-character ID-number-shaped window
            # (15-digit windows would match too many serials by chance).
            spans.extend(
                (at[k], at[k + 17] + 1)
                for k in range(len(d) - 17)
                if _looks_like_citizen_id(d[k : k + 18])
            )
    for m in _CODE_RUN.finditer(folded) if credit_codes else ():
        try:
            CreditCode._validate(m.group())
        except InvalidIdentifier:
            continue
        spans.append(m.span())
    return sorted(set(spans))


def contains_identifier(text: str, *, strict: bool = False, credit_codes: bool = True) -> bool:
    """Whether ``text`` holds what looks like an ID number, a card number or a credit code.

    Recognised, standing apart from other digits (and, for credit codes, letters),
    with single spaces or hyphens allowed between digits, full-width forms counted
    as ASCII:

    * a citizen ID number: 18 characters (17 digits, then a digit or ``X``) or 15
      digits, with a region's first digit and a real birth date; the check character
      is not required, since a mistyped number is still one person's;
    * a bank card number: 16-19 digits passing the Luhn check;
    * a unified social credit code with a valid check character.

    ``strict`` recognises only 18-character ID numbers whose check character
    matches, and credit codes: for tokens such as trace ids, where random digit
    runs are common and a false match must be all but impossible. Without
    ``credit_codes``, credit codes do not count (an organisation's own code).
    """
    return bool(_identifier_spans(text, strict=strict, credit_codes=credit_codes))


def mask_identifiers(text: str, *, strict: bool = False, credit_codes: bool = True) -> str:
    """``text`` with everything :func:`contains_identifier` finds replaced by ``[id]``.

    For free text the vault keeps in clear (tickets, legal bases, actor ids and
    request ids in the access log): an ID number typed into a case number does not
    reach the log, and other numbers (dates, serials) stay as they are. Names
    cannot be recognised this way; keep them out of such text. ``strict`` as for
    :func:`contains_identifier`; without ``credit_codes``, credit codes are kept
    (an organisation's code where organisations are named).
    """
    spans = _identifier_spans(text, strict=strict, credit_codes=credit_codes)
    if not spans:
        return text
    out: list[str] = []
    at = 0
    for start, end in spans:
        if start < at:
            at = max(at, end)  # overlapping runs are one run, masked to its end
            continue
        out.append(text[at:start])
        out.append(IDENTIFIER_MASK)
        at = end
    out.append(text[at:])
    return "".join(out)
