"""The catalogue (信息目录): record categories, their fields, periods and legal bases.

A catalogue is data, not code: :meth:`Catalog.default` loads the Hubei-city profile
shipped with the package, :meth:`Catalog.from_file` loads a deployment's own TOML.
Validation of a record's facts against its category lives here too, so that it can
be tested without a database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast

from credit_vault.domain._toml import (
    build_checked,
    load_toml_file,
    load_toml_text,
    packaged_text,
)
from credit_vault.domain.periods import Period
from credit_vault.errors import InvalidCatalog, InvalidRecord, UnknownCategory

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_NEGATIVE_RETENTION",
    "FORBIDDEN_FIELD_TERMS",
    "TIERS",
    "Catalog",
    "Category",
    "FieldSpec",
    "FieldType",
    "Tier",
    "forbidden_field_term",
    "tier_rank",
]

FieldType = Literal["string", "integer", "decimal", "date", "boolean"]
Tier = Literal["public", "restricted", "confidential"]
Polarity = Literal["positive", "neutral", "negative"]
Severity = Literal["minor", "general", "serious"]
SubjectKind = Literal["person", "organisation"]

TIERS: tuple[Tier, ...] = ("public", "restricted", "confidential")
_FIELD_TYPES: frozenset[str] = frozenset({"string", "integer", "decimal", "date", "boolean"})

# Z1 (征信业管理条例 Art 14): never collected, whatever a category declares.
FORBIDDEN_FIELD_TERMS: tuple[str, ...] = (
    "religion",
    "religious",
    "faith",
    "gene",
    "genetic",
    "genome",
    "dna",
    "fingerprint",
    "blood_type",
    "bloodtype",
    "blood_group",
    "disease",
    "illness",
    "medical_history",
    "medical_record",
    "diagnosis",
    "宗教",
    "信仰",
    "基因",
    "指纹",
    "血型",
    "疾病",
    "病史",
    "病历",
)

# Used with fullmatch: "$" would also accept a trailing newline.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_CODE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_MAX_CODE_LENGTH = 64
_MAX_INTEGER = 2**53 - 1  # exact in JSON and in every language's doubles
_DECIMAL_DIGITS = 18  # before the point
_DECIMAL_SCALE = 8  # after the point
_DECIMAL_INT_LIMIT = 10**_DECIMAL_DIGITS
_DECIMAL_TEXT = re.compile(rf"-?\d{{1,{_DECIMAL_DIGITS}}}(\.\d{{1,{_DECIMAL_SCALE}}})?")

DEFAULT_MAX_LENGTH = 8000
"""Length cap, in characters, of a string field whose catalogue entry sets no ``max_length``."""

DEFAULT_NEGATIVE_RETENTION = Period(years=5)
"""Retention of a negative category that states none: 5 years from the conduct's end (Z2, S3)."""


def tier_rank(tier: str) -> int:
    """0 for public, 1 for restricted, 2 for confidential."""
    return TIERS.index(cast("Tier", tier))


def forbidden_field_term(name: str) -> str | None:
    """The Z1 term a field name matches (religion, genes, ...), or None when it is allowed."""
    norm = unicodedata.normalize("NFKC", name).lower().replace("-", "_").replace(" ", "_")
    compact = norm.replace("_", "")
    for term in FORBIDDEN_FIELD_TERMS:
        if term in norm or term.replace("_", "") in compact:
            if term in {"gene", "dna"}:
                # "gene" and "dna" are forbidden as words, not as letters inside
                # unrelated names such as "general" or "dnat".
                words = re.split(r"[^a-z0-9\u4e00-\u9fff]+|_", norm)
                if not any(w in {"gene", "genes", "dna"} for w in words):
                    continue
            return term
    return None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a category: its name, type, disclosure tier and whether it is required.

    ``max_length`` caps a string field's length in characters; a string field that
    declares none is capped at :data:`DEFAULT_MAX_LENGTH` all the same, so that no
    catalogue lets unbounded text into the vault.
    """

    name: str
    type: FieldType
    tier: Tier
    required: bool = False
    max_length: int | None = None

    @property
    def length_limit(self) -> int:
        """The string length limit in force: ``max_length``, or :data:`DEFAULT_MAX_LENGTH`."""
        return self.max_length if self.max_length is not None else DEFAULT_MAX_LENGTH

    def coerce(self, value: object) -> Any:
        """Check a JSON-compatible value against this field and return it in canonical form.

        Strings stay strings, integers ints, decimals become :class:`~decimal.Decimal`,
        dates :class:`~datetime.date`, booleans bool; subclasses of these types are
        converted to the plain type, and a :class:`~datetime.datetime` is refused for a
        date field. Strings must be valid Unicode (no lone surrogates), without NUL and
        within :attr:`length_limit`. Decimals, in every form (text, ``int`` or
        :class:`~decimal.Decimal`), have at most 18 digits before the point and 8
        after it. Raises :class:`InvalidRecord` naming the field and the rule, never
        the value.
        """
        t = self.type
        if t == "string":
            limit = self.length_limit
            if (
                type(value) is str
                and len(value) <= limit
                and "\x00" not in value
                and (value.isascii() or _utf8_encodable(value))
            ):
                return value
            if not isinstance(value, str):
                raise InvalidRecord(f"field '{self.name}' must be a string")
            if "\x00" in value:
                raise InvalidRecord(f"field '{self.name}' must not contain NUL characters")
            if len(value) > limit:
                raise InvalidRecord(
                    f"field '{self.name}' is longer than its limit of {limit} characters"
                )
            if not _utf8_encodable(value):
                raise InvalidRecord(
                    f"field '{self.name}' must be valid Unicode text (no lone surrogates)"
                )
            return str.__str__(value)  # a plain str, whatever subclass came in
        if t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and re.fullmatch(r"-?\d{1,16}", value.strip()):
                    value = int(value.strip())
                else:
                    raise InvalidRecord(f"field '{self.name}' must be an integer")
            if abs(value) > _MAX_INTEGER:
                raise InvalidRecord(f"field '{self.name}' is outside the integer range")
            return int.__index__(value)  # a plain int, whatever subclass came in
        if t == "decimal":
            return self._coerce_decimal(value)
        if t == "date":
            if isinstance(value, datetime):
                # A datetime is a date subclass, but its ISO text is not a date's.
                raise InvalidRecord(f"field '{self.name}' must be a date, not a datetime")
            if isinstance(value, date):
                return value if type(value) is date else date(value.year, value.month, value.day)
            if isinstance(value, str):
                try:
                    return date.fromisoformat(value.strip())
                except ValueError:
                    raise InvalidRecord(
                        f"field '{self.name}' must be an ISO date (YYYY-MM-DD)"
                    ) from None
            raise InvalidRecord(f"field '{self.name}' must be an ISO date (YYYY-MM-DD)")
        if t == "boolean":
            if isinstance(value, bool):
                return value
            raise InvalidRecord(f"field '{self.name}' must be a boolean")
        raise InvalidRecord(f"field '{self.name}' has an unknown type")  # pragma: no cover

    def _decimal_too_big(self) -> InvalidRecord:
        return InvalidRecord(
            f"field '{self.name}' must have at most {_DECIMAL_DIGITS} digits before the "
            f"point and {_DECIMAL_SCALE} after it"
        )

    def _coerce_decimal(self, value: object) -> Decimal:
        if isinstance(value, (bool, float)):
            # Floats cannot carry money exactly: callers send "1200.50" or an int.
            raise InvalidRecord(
                f"field '{self.name}' must be a decimal given as a string or an integer"
            )
        if isinstance(value, int):
            # Checked on the magnitude: str() of a huge int is itself the cost to avoid.
            if abs(value) >= _DECIMAL_INT_LIMIT:
                raise self._decimal_too_big()
            return Decimal(int.__index__(value))
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise InvalidRecord(f"field '{self.name}' must be a finite decimal")
            # Judged on the tuple form, never formatted first: 1E+200000000 is a few
            # bytes as a Decimal and 200 MB as plain text.
            if value.adjusted() >= _DECIMAL_DIGITS:
                raise self._decimal_too_big()
            exponent = value.as_tuple().exponent
            if not isinstance(exponent, int) or exponent < -_DECIMAL_SCALE:
                raise self._decimal_too_big()
            return value if type(value) is Decimal else Decimal(value)
        if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
            try:
                return Decimal(value.strip())
            except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
                raise InvalidRecord(f"field '{self.name}' must be a decimal") from None
        raise InvalidRecord(
            f"field '{self.name}' must be a decimal such as \"1200.50\" or an integer"
        )


def _utf8_encodable(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (it fails on lone surrogates).

    Returns a flag rather than letting :class:`UnicodeEncodeError` out: that error
    carries the whole string, which is personal data, in its ``object``.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Category:
    """A record category: what it records, who may be its subject, its periods and legal bases."""

    code: str
    name: str
    domain: str
    polarity: Polarity
    fields: tuple[FieldSpec, ...]
    legal_bases: tuple[str, ...]
    subjects: tuple[SubjectKind, ...] = ("person", "organisation")
    severity: Severity | None = None
    disclosure: Period | Literal["none", "consent_only"] = "none"
    disclosure_starts: Literal["decided_on", "occurred_on"] = "decided_on"
    disclosure_max: Period | None = None
    repair_after: Period | None = None
    # The repair minimum of a record whose disclosure a source extended beyond the
    # default period (listed as serious: N1 gives serious dishonesty 1 year minimum
    # where general gets 3 months); None: ``repair_after`` applies to every record.
    repair_after_extended: Period | None = None
    retention: Period | None = None
    retention_from: Literal["conduct_end", "decided_on"] = "conduct_end"
    min_age: int | None = None
    # None: mandatory for negative categories (Z2, S3), not for the others.
    retention_mandatory: bool | None = None
    _by_name: Mapping[str, FieldSpec] = field(default_factory=dict, repr=False, compare=False)
    _required: tuple[str, ...] = field(default=(), repr=False, compare=False)
    _up_to: Mapping[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in self.fields})
        object.__setattr__(self, "_required", tuple(f.name for f in self.fields if f.required))
        # Every read asks which fields a tier reaches: answer from a table built once.
        up_to = {
            t: tuple(f.name for f in self.fields if tier_rank(f.tier) <= rank)
            for rank, t in enumerate(TIERS)
        }
        object.__setattr__(self, "_up_to", up_to)

    @property
    def disclosure_period(self) -> Period | None:
        """The default disclosure period, or None when the category is never disclosed publicly."""
        return self.disclosure if isinstance(self.disclosure, Period) else None

    @property
    def mandatory_retention(self) -> bool:
        """Whether the law requires keeping records until their purge date (blocks erasure)."""
        if self.retention_mandatory is not None:
            return self.retention_mandatory
        return self.polarity == "negative"

    @property
    def repairable(self) -> bool:
        """Whether credit repair can end this category's disclosure early."""
        return self.repair_after is not None

    def field_spec(self, name: str) -> FieldSpec:
        """The field named ``name``; :class:`InvalidRecord` if the category has none."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise InvalidRecord(_no_field(self.code, name)) from None

    def has_field(self, name: str) -> bool:
        """Whether the category declares a field named ``name``."""
        return name in self._by_name

    def fields_up_to(self, tier: str) -> tuple[str, ...]:
        """Names of the fields whose tier is at most ``tier``, in catalogue order."""
        names = self._up_to.get(tier)
        if names is None:
            tier_rank(tier)  # raises ValueError for an unknown tier
            return ()
        return names

    def validate_facts(self, facts: Mapping[str, object]) -> dict[str, Any]:
        """Check facts against the fields; return them coerced.

        Errors name the field only, and an undeclared field only when its name has
        the shape of a field name: a mis-mapped import can put an ID number or a
        person's name where a field name belongs, and messages end up in logs.
        """
        if not isinstance(facts, Mapping):
            raise InvalidRecord("facts must be a mapping of field names to values")
        out: dict[str, Any] = {}
        for key, value in facts.items():
            spec = self._by_name.get(key) if isinstance(key, str) else None
            if spec is None:
                # Declared fields passed the Z1 check when the catalogue was loaded;
                # only undeclared names need it (and get the more precise message).
                if not isinstance(key, str):
                    raise InvalidRecord("field names must be strings")
                term = forbidden_field_term(key)
                if term is not None:
                    shown = _shown_field(key)
                    ref = "an undeclared field" if shown is None else f"field '{shown}'"
                    raise InvalidRecord(
                        f"{ref} may not be collected: the law forbids collecting "
                        f"'{term}' data (征信业管理条例 Art 14)"
                    )
                raise InvalidRecord(_no_field(self.code, key))
            if value is None:
                if spec.required:
                    raise InvalidRecord(f"required field '{key}' is missing")
                continue
            out[key] = spec.coerce(value)
        for name in self._required:
            if name not in out:
                raise InvalidRecord(f"required field '{name}' is missing")
        return out


def _shown_field(name: object) -> str | None:
    """A caller-given field name fit to repeat in a message, or None.

    Only a name with the shape of a schema field name is repeated; anything else
    may be a value that landed in the key's place (an ID number, a person's name).
    """
    if isinstance(name, str) and _NAME.fullmatch(name):
        return name
    return None


def _no_field(code: str, name: object) -> str:
    shown = _shown_field(name)
    if shown is None:
        return f"category '{code}' has no such field (an undeclared field)"
    return f"category '{code}' has no field '{shown}'"


def _code_ref(code: object) -> str:
    """How a message refers to a caller-given category code (see :func:`_field_ref`)."""
    if isinstance(code, str) and len(code) <= _MAX_CODE_LENGTH and _CODE.fullmatch(code):
        return f"category '{code}'"
    return "an unknown category"


class Catalog:
    """An immutable set of categories, looked up by code."""

    __slots__ = ("_by_code", "not_repairable_kinds", "profile")

    def __init__(
        self,
        categories: Iterable[Category],
        *,
        profile: str = "custom",
        not_repairable_kinds: Iterable[str] = (),
    ) -> None:
        cats = tuple(categories)
        by_code: dict[str, Category] = {}
        for c in cats:
            if c.code in by_code:
                raise InvalidCatalog(f"category '{c.code}' is defined twice")
            by_code[c.code] = c
        if not by_code:
            raise InvalidCatalog("a catalogue needs at least one category")
        self._by_code = by_code
        self.profile = profile
        self.not_repairable_kinds = frozenset(not_repairable_kinds)

    @property
    def categories(self) -> tuple[Category, ...]:
        """All categories, in catalogue order."""
        return tuple(self._by_code.values())

    @property
    def codes(self) -> tuple[str, ...]:
        """All category codes, in catalogue order."""
        return tuple(self._by_code)

    def get(self, code: str) -> Category:
        """The category with this code; :class:`UnknownCategory` otherwise."""
        try:
            return self._by_code[code]
        except (KeyError, TypeError):
            raise UnknownCategory(f"{_code_ref(code)} is not in the catalogue") from None

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Any:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"Catalog(profile={self.profile!r}, categories={len(self)})"

    @classmethod
    def default(cls) -> Catalog:
        """The Hubei-city profile (docs/rules.md), shipped with the package."""
        return cls.from_toml(packaged_text("catalog_default.toml"))

    @classmethod
    def from_file(cls, path: str | Path) -> Catalog:
        """Load a catalogue from a TOML file (same shape as the default profile)."""
        return cls.from_dict(load_toml_file(path, InvalidCatalog, "catalogue"))

    @classmethod
    def from_toml(cls, text: str) -> Catalog:
        """Load a catalogue from TOML text."""
        return cls.from_dict(load_toml_text(text, InvalidCatalog, "catalogue"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        """Build a catalogue from parsed TOML/JSON data.

        Every malformed part (a wrong type, an unknown key, a value out of range)
        raises :class:`InvalidCatalog` naming the key; ``true`` is not taken for a
        number, nor a string for a boolean.
        """
        return build_checked(lambda: cls._from_dict(data), InvalidCatalog, "catalogue")

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        data = _table(data, "the catalogue")
        templates: dict[str, tuple[FieldSpec, ...]] = {}
        for name, t in _table(data.get("templates", {}), "templates").items():
            where = f"template '{_cfg(name)}'"
            table = _table(t, where)
            unknown = set(table) - {"fields"}
            if unknown:
                raise InvalidCatalog(f"{where}: unknown keys {_keys(unknown)}")
            fields = _list(table.get("fields", []), f"{where}: fields")
            templates[name] = tuple(_field_from(f, where) for f in fields)
        cats = [_category_from(c, templates) for c in _list(data.get("category", []), "category")]
        repair = _table(data.get("repair", {}), "repair")
        kinds = _list(repair.get("not_repairable_kinds", []), "repair.not_repairable_kinds")
        if not all(isinstance(k, str) and k for k in kinds):
            raise InvalidCatalog("repair.not_repairable_kinds must be a list of names")
        profile = data.get("profile", "custom")
        if not isinstance(profile, str) or not profile:
            raise InvalidCatalog("profile must be a name")
        return cls(cats, profile=profile, not_repairable_kinds=kinds)


def _cfg(text: object) -> str:
    """A configuration key or value fit for a message: printable and short."""
    return "".join(ch for ch in str(text) if ch.isprintable())[:64]


def _keys(keys: Iterable[object]) -> list[str]:
    """Unknown configuration keys for a message (a few, each shortened)."""
    return sorted(_cfg(k) for k in keys)[:10]


def _table(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidCatalog(f"{what} must be a table")
    if not all(isinstance(k, str) for k in raw):
        raise InvalidCatalog(f"{what}: keys must be strings")
    return raw


def _list(raw: object, what: str) -> list[Any]:
    if not isinstance(raw, (list, tuple)):
        raise InvalidCatalog(f"{what} must be a list")
    return list(raw)


def _choice(raw: object, allowed: Iterable[str], message: str) -> str:
    """``raw`` when it is one of the ``allowed`` strings; InvalidCatalog(message) otherwise."""
    if not isinstance(raw, str) or raw not in allowed:
        raise InvalidCatalog(message)
    return raw


_CATEGORY_KEYS = frozenset(
    {
        "code",
        "name",
        "domain",
        "polarity",
        "severity",
        "subjects",
        "legal_bases",
        "disclosure",
        "disclosure_starts",
        "disclosure_max",
        "repair_after",
        "repair_after_extended",
        "retention",
        "retention_from",
        "retention_mandatory",
        "min_age",
        "template",
        "fields",
        "extra_fields",
    }
)


def _field_from(raw: object, where: str) -> FieldSpec:
    if not isinstance(raw, Mapping):
        raise InvalidCatalog(f"{where}: each field must be a table")
    unknown = set(raw) - {"name", "type", "tier", "required", "max_length"}
    if unknown:
        raise InvalidCatalog(f"{where}: unknown field keys {_keys(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidCatalog(f"{where}: field names must match [a-z][a-z0-9_]*")
    term = forbidden_field_term(name)
    if term is not None:
        raise InvalidCatalog(
            f"{where}: field '{name}' may not be collected (征信业管理条例 Art 14: {term})"
        )
    ftype = _choice(
        raw.get("type"),
        _FIELD_TYPES,
        f"{where}: field '{name}' has unknown type; use one of {sorted(_FIELD_TYPES)}",
    )
    tier = _choice(
        raw.get("tier"), TIERS, f"{where}: field '{name}' needs a tier among {list(TIERS)}"
    )
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise InvalidCatalog(f"{where}: field '{name}' required must be true or false")
    max_length = raw.get("max_length")
    if max_length is not None and not _positive_int(max_length):
        raise InvalidCatalog(f"{where}: field '{name}' max_length must be a positive integer")
    return FieldSpec(
        name=name,
        type=cast("FieldType", ftype),
        tier=cast("Tier", tier),
        required=required,
        max_length=max_length,
    )


def _positive_int(value: object) -> bool:
    """Whether ``value`` is an int above zero (``true`` is not a number here)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


_MAX_PERIOD_DAYS = 1000 * 366  # a bound past any legal period; keeps date arithmetic in range


def _period(raw: object, where: str, key: str) -> Period | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidCatalog(f"{where}: '{key}' must be an ISO 8601 duration string")
    try:
        period = Period.parse(raw)
    except ValueError:
        raise InvalidCatalog(f"{where}: '{key}' must be an ISO 8601 duration such as P1Y") from None
    if period.approx_days() > _MAX_PERIOD_DAYS:
        raise InvalidCatalog(f"{where}: '{key}' must be at most 1000 years")
    return period


def _category_from(raw: object, templates: Mapping[str, tuple[FieldSpec, ...]]) -> Category:
    if not isinstance(raw, Mapping):
        raise InvalidCatalog("each category must be a table")
    code = raw.get("code")
    if not isinstance(code, str) or len(code) > _MAX_CODE_LENGTH or not _CODE.fullmatch(code):
        raise InvalidCatalog("each category needs a code such as 'tax.major_violation'")
    where = f"category '{code}'"
    unknown = set(raw) - _CATEGORY_KEYS
    if unknown:
        raise InvalidCatalog(f"{where}: unknown keys {_keys(unknown)}")
    fields: list[FieldSpec] = []
    template = raw.get("template")
    if template is not None:
        if not isinstance(template, str):
            raise InvalidCatalog(f"{where}: template must be the name of a template")
        if template not in templates:
            raise InvalidCatalog(f"{where}: unknown template '{_cfg(template)}'")
        fields.extend(templates[template])
    for key in ("fields", "extra_fields"):
        fields.extend(_field_from(f, where) for f in _list(raw.get(key, []), f"{where}: {key}"))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise InvalidCatalog(f"{where}: a field name appears twice")
    if not fields:
        raise InvalidCatalog(f"{where}: a category needs at least one field")
    polarity = _choice(
        raw.get("polarity"),
        ("positive", "neutral", "negative"),
        f"{where}: polarity must be positive, neutral or negative",
    )
    severity = raw.get("severity")
    if severity is not None:
        _choice(
            severity,
            ("minor", "general", "serious"),
            f"{where}: severity must be minor, general or serious",
        )
    subjects_raw = raw.get("subjects", ["person", "organisation"])
    if (
        not isinstance(subjects_raw, (list, tuple))
        or not subjects_raw
        or not all(isinstance(s, str) and s in {"person", "organisation"} for s in subjects_raw)
        or len(set(subjects_raw)) != len(subjects_raw)
    ):
        raise InvalidCatalog(f"{where}: subjects must list person and/or organisation")
    subjects = tuple(subjects_raw)
    bases = raw.get("legal_bases")
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) and b for b in bases):
        raise InvalidCatalog(
            f"{where}: at least one legal basis is required (no collection without one)"
        )
    if len(set(bases)) != len(bases):
        raise InvalidCatalog(f"{where}: legal_bases lists a basis twice")
    disc_raw = raw.get("disclosure", "none")
    if not isinstance(disc_raw, str):
        raise InvalidCatalog(
            f"{where}: 'disclosure' must be none, consent_only or an ISO 8601 duration"
        )
    disclosure: Period | Literal["none", "consent_only"]
    if disc_raw in {"none", "consent_only"}:
        disclosure = cast("Literal['none', 'consent_only']", disc_raw)
    else:
        p = _period(disc_raw, where, "disclosure")
        assert p is not None  # noqa: S101 - _period returns None only for None input
        disclosure = p
    disclosure_max = _period(raw.get("disclosure_max"), where, "disclosure_max")
    if (
        isinstance(disclosure, Period)
        and disclosure_max is not None
        and disclosure_max.approx_days() < disclosure.approx_days()
    ):
        raise InvalidCatalog(f"{where}: disclosure_max is shorter than the default disclosure")
    repair_after = _period(raw.get("repair_after"), where, "repair_after")
    repair_after_extended = _period(
        raw.get("repair_after_extended"), where, "repair_after_extended"
    )
    if repair_after_extended is not None and (
        repair_after is None or disclosure_max is None or not isinstance(disclosure, Period)
    ):
        raise InvalidCatalog(
            f"{where}: repair_after_extended needs repair_after, a disclosure period "
            "and a disclosure_max to extend it to"
        )
    starts = _choice(
        raw.get("disclosure_starts", "decided_on"),
        ("decided_on", "occurred_on"),
        f"{where}: disclosure_starts must be decided_on or occurred_on",
    )
    retention_from = _choice(
        raw.get("retention_from", "conduct_end"),
        ("conduct_end", "decided_on"),
        f"{where}: retention_from must be conduct_end or decided_on",
    )
    retention = _period(raw.get("retention"), where, "retention")
    if retention is None and polarity == "negative":
        # Z2, S3: negative information is deleted five years after the conduct ended.
        retention = DEFAULT_NEGATIVE_RETENTION
    mandatory = raw.get("retention_mandatory")
    if mandatory is not None and not isinstance(mandatory, bool):
        raise InvalidCatalog(f"{where}: retention_mandatory must be true or false")
    min_age = raw.get("min_age")
    if min_age is not None and (not _positive_int(min_age) or min_age >= 150):
        raise InvalidCatalog(f"{where}: min_age must be a whole number of years")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidCatalog(f"{where}: a category needs a name")
    domain = raw.get("domain", code.split(".")[0])
    if not isinstance(domain, str) or not domain:
        raise InvalidCatalog(f"{where}: domain must be a name")
    return Category(
        code=code,
        name=name,
        domain=domain,
        polarity=cast("Polarity", polarity),
        severity=cast("Severity | None", severity),
        fields=tuple(fields),
        legal_bases=tuple(bases),
        subjects=cast("tuple[SubjectKind, ...]", subjects),
        disclosure=disclosure,
        disclosure_starts=cast("Literal['decided_on', 'occurred_on']", starts),
        disclosure_max=disclosure_max,
        repair_after=repair_after,
        repair_after_extended=repair_after_extended,
        retention=retention,
        retention_from=cast("Literal['conduct_end', 'decided_on']", retention_from),
        min_age=min_age,
        retention_mandatory=mandatory,
    )
