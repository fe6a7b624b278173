"""Input and output models at the vault's edge.

Inputs (:class:`Actor`, :class:`RecordIn`) are frozen pydantic models that forbid
extra keys. A validation failure becomes an :class:`~credit_vault.errors.InputError`
subclass naming the field and the rule, never the value (pydantic's own messages
echo input, so they are translated here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from credit_vault.errors import InputError, InvalidIdentifier, InvalidRecord
from credit_vault.identifiers import CitizenId, CreditCode, mask_identifiers

__all__ = [
    "Actor",
    "DisclosedRecord",
    "Disclosure",
    "RecordIn",
    "SubjectRef",
]

SubjectKind = Literal["person", "organisation"]


class SubjectRef:
    """Who a record is about: a person (citizen ID number) or an organisation (credit code).

    The identifier is validated and normalised on construction. ``repr`` and
    ``str`` mask it; the clear value is only available as :attr:`identifier`.
    """

    __slots__ = ("_hash", "_id", "_key", "_kind", "_name")

    def __init__(
        self, kind: SubjectKind, identifier: CitizenId | CreditCode, name: str | None = None
    ) -> None:
        if kind == "person" and not isinstance(identifier, CitizenId):
            raise InvalidIdentifier("a person is identified by a citizen ID number")
        if kind == "organisation" and not isinstance(identifier, CreditCode):
            raise InvalidIdentifier("an organisation is identified by a unified social credit code")
        if name is not None:
            if not isinstance(name, str) or not name.strip():
                raise InvalidRecord("subject name must be a non-empty string")
            if len(name) > 200 or "\x00" in name:
                raise InvalidRecord("subject name must be at most 200 characters, without NUL")
            if not _utf8_encodable(name):
                raise InvalidRecord("subject name must be valid Unicode text (no lone surrogates)")
            name = name.strip()
        self._kind: SubjectKind = kind
        self._id = identifier
        self._name = name
        # "kind:identifier": the equality key, and the input of the vault's blind
        # indexes (lookup, pseudonym). Personal data: never shown.
        self._key = f"{kind}:{identifier.value}"
        self._hash = hash(self._key)

    @classmethod
    def person(cls, id_number: str, name: str | None = None) -> SubjectRef:
        """A person, by GB 11643 citizen ID number (validated, normalised)."""
        return cls("person", CitizenId.parse(id_number), name)

    @classmethod
    def organisation(cls, credit_code: str, name: str | None = None) -> SubjectRef:
        """An organisation, by GB 32100 unified social credit code (validated, normalised)."""
        return cls("organisation", CreditCode.parse(credit_code), name)

    @property
    def kind(self) -> SubjectKind:
        """``"person"`` or ``"organisation"``."""
        return self._kind

    @property
    def identifier(self) -> str:
        """The normalised identifier, in clear. Handle with care."""
        return self._id.value

    @property
    def parsed(self) -> CitizenId | CreditCode:
        """The parsed identifier object."""
        return self._id

    @property
    def name(self) -> str | None:
        """The subject's name, if given. Handle with care."""
        return self._name

    @property
    def birth_date(self) -> date | None:
        """A person's birth date from the ID number; None for organisations."""
        return self._id.birth_date if isinstance(self._id, CitizenId) else None

    def same_subject(self, other: SubjectRef) -> bool:
        """Whether both refer to the same subject (names are not compared)."""
        return self is other or (self._hash == other._hash and self._key == other._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubjectRef) and self.same_subject(other)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"SubjectRef.{self._kind}({self._id!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # Pickling (multiprocessing) keeps the identifier; it never reaches a repr.
        return (SubjectRef, (self._kind, self._id, self._name))


def _utf8_encodable(text: str) -> bool:
    # A flag, not the UnicodeEncodeError: that error carries the whole string.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Strict(BaseModel):
    """Frozen, no extra keys, errors translated to credit_vault errors."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,
    )
    _error: ClassVar[type[InputError]] = InputError

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self._error(_describe(type(self).__name__, exc)) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Any:
        """Build from a JSON-like mapping (for imports)."""
        if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
            raise cls._error(f"{cls.__name__} must be built from a mapping with string keys")
        return cls(**dict(data))


def _describe(model: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(_loc_part(p) for p in err["loc"]) or model
        kind = err["type"]
        msg = err["msg"] if kind not in {"value_error", "assertion_error"} else "is not valid"
        # Custom validators put only rule text in their messages; built-in
        # messages ("Input should be a valid date") never contain the input.
        parts.append(f"{loc}: {msg}")
    return f"{model} is not valid: " + "; ".join(parts)


_LOC_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}|\[key\]")


def _loc_part(part: str | int) -> str:
    """One step of an error location, unless it is caller text that is not a name.

    Locations hold dict keys (an extra key, a fact's key): a mis-mapped import can
    put an ID number or a person's name there, so only name-shaped keys and small
    positions are repeated.
    """
    if isinstance(part, str) and _LOC_NAME.fullmatch(part):
        return part
    if isinstance(part, int) and not isinstance(part, bool) and 0 <= part < 1000:
        return str(part)
    return "(key not shown)"


class Actor(_Strict):
    """Who is acting: an id, a role of the policy, an organisation and, for subjects, who they are.

    The embedding application authenticates people and maps them to actors; the
    vault authorises.
    """

    id: str = Field(min_length=1, max_length=128)
    role: str = Field(min_length=1, max_length=64)
    organisation: str | None = Field(default=None, min_length=1, max_length=128)
    subject: SubjectRef | None = None

    @field_validator("id", "role", "organisation")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        if v is not None and (not v.isprintable() or v != v.strip()):
            raise ValueError("must be printable without surrounding spaces")
        return v

    def __repr_args__(self) -> Any:
        """The repr masks ID and card numbers in the id, role and organisation, as the
        access log does (an application may name a portal account by its owner's ID
        number); the subject shows masked as always."""
        for name, value in super().__repr_args__():
            if name in ("id", "role", "organisation") and isinstance(value, str):
                yield name, mask_identifiers(value, credit_codes=name != "organisation")
            else:
                yield name, value


class RecordIn(_Strict):
    """A record as a source pushes it: subject, category, legal basis, dates and facts.

    ``facts`` hold JSON-compatible values (as from a JSON or CSV import) and are
    checked against the category's fields at ingest. ``disclosure_until`` lets a
    source set a longer statutory period within the category's limits.
    """

    _error: ClassVar[type[InputError]] = InvalidRecord

    subject: SubjectRef
    category: str = Field(min_length=1, max_length=64)
    legal_basis: str = Field(min_length=1, max_length=200)
    decided_on: date
    occurred_on: date
    conduct_ended_on: date | None = None
    disclosure_until: date | None = None
    facts: dict[str, Any] = Field(default_factory=dict, repr=False)
    source_ref: str | None = Field(default=None, max_length=128, repr=False)

    @field_validator(
        "decided_on", "occurred_on", "conduct_ended_on", "disclosure_until", mode="before"
    )
    @classmethod
    def _dates(cls, v: object) -> object:
        if isinstance(v, datetime):
            raise ValueError("must be a date, not a datetime")
        return v


class DisclosedRecord(BaseModel):
    """One record as a permitted reader sees it: only the fields the purpose may see.

    ``facts`` and ``statement`` are personal data; they are left out of ``repr``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    category: str
    category_name: str
    polarity: str
    source: str
    version: int
    state: str
    decided_on: date
    occurred_on: date
    disclosure_starts_on: date | None
    disclosure_ends_on: date | None
    disclosable: bool
    facts: dict[str, Any] = Field(repr=False)
    withheld_fields: tuple[str, ...] = ()
    disputed: bool = False
    statement: str | None = Field(default=None, repr=False)


class Disclosure(BaseModel):
    """The answer to a query: the records the purpose may see, and the log entry of the read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    purpose: str
    subject_pseudonym: str
    records: tuple[DisclosedRecord, ...]
    access_seq: int
    request_id: str
    as_of: datetime
    subject_name: str | None = Field(default=None, repr=False)
