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
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, cast

from credit_vault.domain._toml import load_toml_file, load_toml_text, packaged_text
from credit_vault.domain.periods import Period
from credit_vault.errors import InvalidCatalog, InvalidRecord, UnknownCategory

__all__ = [
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

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CODE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_MAX_INTEGER = 2**53 - 1  # exact in JSON and in every language's doubles

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
    """One field of a category: its name, type, disclosure tier and whether it is required."""

    name: str
    type: FieldType
    tier: Tier
    required: bool = False
    max_length: int | None = None

    def coerce(self, value: object) -> Any:
        """Check a JSON-compatible value against this field and return it in canonical form.

        Strings stay strings, integers ints, decimals become :class:`~decimal.Decimal`,
        dates :class:`~datetime.date`, booleans bool. Raises :class:`InvalidRecord`
        naming the field and the rule, never the value.
        """
        t = self.type
        if t == "string":
            if (
                type(value) is str
                and self.max_length is not None
                and len(value) <= self.max_length
                and "\x00" not in value
            ):
                return value
            if not isinstance(value, str):
                raise InvalidRecord(f"field '{self.name}' must be a string")
            if "\x00" in value:
                raise InvalidRecord(f"field '{self.name}' must not contain NUL characters")
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidRecord(
                    f"field '{self.name}' is longer than its limit of {self.max_length} characters"
                )
            return value
        if t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and re.fullmatch(r"-?\d{1,16}", value.strip()):
                    value = int(value.strip())
                else:
                    raise InvalidRecord(f"field '{self.name}' must be an integer")
            if abs(value) > _MAX_INTEGER:
                raise InvalidRecord(f"field '{self.name}' is outside the integer range")
            return value
        if t == "decimal":
            if isinstance(value, (bool, float)):
                # Floats cannot carry money exactly: callers send "1200.50" or an int.
                raise InvalidRecord(
                    f"field '{self.name}' must be a decimal given as a string or an integer"
                )
            if isinstance(value, int):
                return Decimal(value)
            if isinstance(value, Decimal):
                dec = value
            elif isinstance(value, str) and re.fullmatch(r"-?\d{1,18}(\.\d{1,8})?", value.strip()):
                try:
                    dec = Decimal(value.strip())
                except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
                    raise InvalidRecord(f"field '{self.name}' must be a decimal") from None
            else:
                raise InvalidRecord(
                    f"field '{self.name}' must be a decimal such as \"1200.50\" or an integer"
                )
            if not dec.is_finite():
                raise InvalidRecord(f"field '{self.name}' must be a finite decimal")
            return dec
        if t == "date":
            if isinstance(value, date):
                return value
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
        except KeyError:
            raise InvalidRecord(f"category '{self.code}' has no field '{_safe(name)}'") from None

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
        """Check facts against the fields; return them coerced. Errors name the field only."""
        if not isinstance(facts, Mapping):
            raise InvalidRecord("facts must be a mapping of field names to values")
        out: dict[str, Any] = {}
        for key, value in facts.items():
            spec = self._by_name.get(key)
            if spec is None:
                # Declared fields passed the Z1 check when the catalogue was loaded;
                # only undeclared names need it (and get the more precise message).
                if not isinstance(key, str):
                    raise InvalidRecord("field names must be strings")
                term = forbidden_field_term(key)
                if term is not None:
                    raise InvalidRecord(
                        f"field '{_safe(key)}' may not be collected: the law forbids collecting "
                        f"'{term}' data (征信业管理条例 Art 14)"
                    )
                raise InvalidRecord(f"category '{self.code}' has no field '{_safe(key)}'")
            if value is None:
                if spec.required:
                    raise InvalidRecord(f"required field '{key}' is missing")
                continue
            out[key] = spec.coerce(value)
        for name in self._required:
            if name not in out:
                raise InvalidRecord(f"required field '{name}' is missing")
        return out


def _safe(name: str) -> str:
    """A field name fit for an error message: names are schema, but cap and strip them."""
    cleaned = "".join(ch for ch in name if ch.isprintable())
    return cleaned[:64]


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
            raise UnknownCategory(
                f"category '{_safe(str(code))}' is not in the catalogue"
            ) from None

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
        """The Hubei-city profile of DOMAIN.md, shipped with the package."""
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
        """Build a catalogue from parsed TOML/JSON data."""
        templates = {
            name: tuple(_field_from(f, f"template '{name}'") for f in t.get("fields", []))
            for name, t in dict(data.get("templates", {})).items()
        }
        cats = [_category_from(c, templates) for c in data.get("category", [])]
        repair = dict(data.get("repair", {}))
        return cls(
            cats,
            profile=str(data.get("profile", "custom")),
            not_repairable_kinds=[str(k) for k in repair.get("not_repairable_kinds", [])],
        )


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
        "retention",
        "retention_from",
        "retention_mandatory",
        "min_age",
        "template",
        "fields",
        "extra_fields",
    }
)


def _field_from(raw: Mapping[str, Any], where: str) -> FieldSpec:
    if not isinstance(raw, Mapping):
        raise InvalidCatalog(f"{where}: each field must be a table")
    unknown = set(raw) - {"name", "type", "tier", "required", "max_length"}
    if unknown:
        raise InvalidCatalog(f"{where}: unknown field keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidCatalog(f"{where}: field names must match [a-z][a-z0-9_]*")
    term = forbidden_field_term(name)
    if term is not None:
        raise InvalidCatalog(
            f"{where}: field '{name}' may not be collected (征信业管理条例 Art 14: {term})"
        )
    ftype = raw.get("type")
    if ftype not in _FIELD_TYPES:
        raise InvalidCatalog(
            f"{where}: field '{name}' has unknown type; use one of {sorted(_FIELD_TYPES)}"
        )
    tier = raw.get("tier")
    if tier not in TIERS:
        raise InvalidCatalog(f"{where}: field '{name}' needs a tier among {list(TIERS)}")
    max_length = raw.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise InvalidCatalog(f"{where}: field '{name}' max_length must be a positive integer")
    return FieldSpec(
        name=name,
        type=cast("FieldType", ftype),
        tier=cast("Tier", tier),
        required=bool(raw.get("required", False)),
        max_length=max_length,
    )


def _period(raw: object, where: str, key: str) -> Period | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InvalidCatalog(f"{where}: '{key}' must be an ISO 8601 duration string")
    try:
        return Period.parse(raw)
    except ValueError:
        raise InvalidCatalog(f"{where}: '{key}' must be an ISO 8601 duration such as P1Y") from None


def _category_from(
    raw: Mapping[str, Any], templates: Mapping[str, tuple[FieldSpec, ...]]
) -> Category:
    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidCatalog("each category needs a code such as 'tax.major_violation'")
    where = f"category '{code}'"
    unknown = set(raw) - _CATEGORY_KEYS
    if unknown:
        raise InvalidCatalog(f"{where}: unknown keys {sorted(unknown)}")
    fields: list[FieldSpec] = []
    template = raw.get("template")
    if template is not None:
        if template not in templates:
            raise InvalidCatalog(f"{where}: unknown template '{template}'")
        fields.extend(templates[template])
    fields.extend(_field_from(f, where) for f in raw.get("fields", []))
    fields.extend(_field_from(f, where) for f in raw.get("extra_fields", []))
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise InvalidCatalog(f"{where}: a field name appears twice")
    if not fields:
        raise InvalidCatalog(f"{where}: a category needs at least one field")
    polarity = raw.get("polarity")
    if polarity not in {"positive", "neutral", "negative"}:
        raise InvalidCatalog(f"{where}: polarity must be positive, neutral or negative")
    severity = raw.get("severity")
    if severity is not None and severity not in {"minor", "general", "serious"}:
        raise InvalidCatalog(f"{where}: severity must be minor, general or serious")
    subjects = tuple(raw.get("subjects", ("person", "organisation")))
    if not subjects or any(s not in {"person", "organisation"} for s in subjects):
        raise InvalidCatalog(f"{where}: subjects must list person and/or organisation")
    bases = raw.get("legal_bases")
    if not isinstance(bases, list) or not bases or not all(isinstance(b, str) and b for b in bases):
        raise InvalidCatalog(
            f"{where}: at least one legal basis is required (no collection without one)"
        )
    disc_raw = raw.get("disclosure", "none")
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
    starts = raw.get("disclosure_starts", "decided_on")
    if starts not in {"decided_on", "occurred_on"}:
        raise InvalidCatalog(f"{where}: disclosure_starts must be decided_on or occurred_on")
    retention_from = raw.get("retention_from", "conduct_end")
    if retention_from not in {"conduct_end", "decided_on"}:
        raise InvalidCatalog(f"{where}: retention_from must be conduct_end or decided_on")
    retention = _period(raw.get("retention"), where, "retention")
    if retention is None and polarity == "negative":
        # Z2, S3: negative information is deleted five years after the conduct ended.
        retention = DEFAULT_NEGATIVE_RETENTION
    mandatory = raw.get("retention_mandatory")
    if mandatory is not None and not isinstance(mandatory, bool):
        raise InvalidCatalog(f"{where}: retention_mandatory must be true or false")
    min_age = raw.get("min_age")
    if min_age is not None and (not isinstance(min_age, int) or not 0 < min_age < 150):
        raise InvalidCatalog(f"{where}: min_age must be a whole number of years")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidCatalog(f"{where}: a category needs a name")
    return Category(
        code=code,
        name=name,
        domain=str(raw.get("domain", code.split(".")[0])),
        polarity=cast("Polarity", polarity),
        severity=cast("Severity | None", severity),
        fields=tuple(fields),
        legal_bases=tuple(bases),
        subjects=cast("tuple[SubjectKind, ...]", subjects),
        disclosure=disclosure,
        disclosure_starts=cast("Literal['decided_on', 'occurred_on']", starts),
        disclosure_max=disclosure_max,
        repair_after=_period(raw.get("repair_after"), where, "repair_after"),
        retention=retention,
        retention_from=cast("Literal['conduct_end', 'decided_on']", retention_from),
        min_age=min_age,
        retention_mandatory=mandatory,
    )
