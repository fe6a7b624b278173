"""Purposes, roles and grants: who may read what, for which purpose (deny by default).

The policy is data (TOML). :meth:`Policy.authorize` is a pure function of the
policy, the actor, the purpose and the request; it returns an
:class:`AccessDecision` that says which categories and which field tiers the
access may see, or which rule refused it. The vault logs the decision either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Literal, cast

from credit_vault.domain._toml import (
    build_checked,
    load_toml_file,
    load_toml_text,
    packaged_text,
)
from credit_vault.domain.catalog import TIERS, Category, Tier, tier_rank
from credit_vault.domain.workflows import WorkflowSettings, parse_workflow_settings
from credit_vault.errors import (
    ConsentRequired,
    InvalidPolicy,
    PermissionDenied,
    TicketRequired,
    UnknownPurpose,
)

__all__ = [
    "AccessDecision",
    "Grant",
    "Policy",
    "Purpose",
    "ReviewThresholds",
    "ticket_well_formed",
]

PurposeKind = Literal["records", "answer", "metadata", "aggregate"]
Scope = Literal["disclosable", "retained"]

_SELECTOR = re.compile(r"^(\*|polarity:[a-z]+|severity:[a-z]+|domain:[a-z_]+|[a-z][a-z0-9_.]*)$")
_TICKET = re.compile(r"[\w\-/.:()（）〔〕\u4e00-\u9fff]{1,64}")


def ticket_well_formed(ticket: str) -> bool:
    """Whether ``ticket`` has the shape of a case or order number the policy accepts.

    1-64 characters: letters, digits, CJK, and ``- / . : ( ) （ ） 〔 〕``.
    """
    return isinstance(ticket, str) and _TICKET.fullmatch(ticket) is not None


@dataclass(frozen=True, slots=True)
class Purpose:
    """Why a reader asks: decides which records (scope) and what kind of answer it gets."""

    name: str
    kind: PurposeKind = "records"
    scope: Scope = "disclosable"
    consent: bool = False
    self_only: bool = False
    description: str = ""
    # GDPR Art 18: withhold records while their accuracy is contested (open objection).
    restrict_disputed: bool = False
    # Records whose disclosure ended early (repaired, revoked) reach a retained-scope
    # purpose only with this flag: repair ends publication, sharing and use (N1) and a
    # revoked decision is withdrawn (S5, N3); the subject's own view and the handlers
    # deciding objections and repairs keep seeing them.
    ended_records: bool = False
    # Only records the actor's own organisation pushed (its source code): the
    # handler at the source verifying a disputed record (Z6, S4), the listing unit
    # deciding a repair (N1). A reader without an organisation is refused.
    own_source: bool = False

    @property
    def sees_consent_only(self) -> bool:
        """Whether consent-only categories (V1) reach this purpose: one that needs the
        subject's consent, the subject's own view, and the handlers at the record's
        own source (who already hold it)."""
        return self.consent or self.self_only or self.own_source


@dataclass(frozen=True, slots=True)
class Grant:
    """Role ``role`` may use ``purpose`` on ``categories`` up to field tier ``max_tier``."""

    role: str
    purpose: str
    categories: tuple[str, ...]
    max_tier: Tier
    ticket: bool = False

    def covers(self, category: Category) -> bool:
        """Whether one of this grant's selectors matches the category."""
        return any(_matches(sel, category) for sel in self.categories)


def _matches(selector: str, category: Category) -> bool:
    if selector == "*":
        return True
    kind, _, value = selector.partition(":")
    if value:
        if kind == "polarity":
            return category.polarity == value
        if kind == "severity":
            return category.severity == value
        if kind == "domain":
            return category.domain == value
        return False
    return selector == category.code


@dataclass(frozen=True, slots=True)
class ReviewThresholds:
    """Thresholds of the access review (query registration and review)."""

    max_subjects_per_day: int = 50
    working_start: time = time(8, 0)
    working_end: time = time(18, 0)
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    denial_burst: int = 5
    denial_window_minutes: int = 10


@dataclass(frozen=True, slots=True)
class AccessDecision:
    """The outcome of :meth:`Policy.authorize`.

    When ``allowed`` is false, ``error`` is the exception class to raise and
    ``reason`` a stable reason code for the log. When allowed, ``grants`` are the
    grants in force for this access (tickets already checked).
    """

    allowed: bool
    purpose: Purpose | None
    reason: str
    message: str
    error: type[PermissionDenied] | type[UnknownPurpose] | None = None
    grants: tuple[Grant, ...] = field(default=())

    def max_tier(self, category: Category) -> Tier | None:
        """The highest tier this access may see in ``category``, or None if not granted."""
        best: int | None = None
        for g in self.grants:
            if g.covers(category):
                r = tier_rank(g.max_tier)
                best = r if best is None or r > best else best
        return None if best is None else TIERS[best]

    def visible_fields(self, category: Category) -> tuple[str, ...]:
        """The field names of ``category`` this access may see (empty when not granted)."""
        tier = self.max_tier(category)
        return () if tier is None else category.fields_up_to(tier)

    def raise_error(self) -> None:
        """Raise the error this decision carries (no-op when allowed)."""
        if not self.allowed and self.error is not None:
            raise self.error(self.message)

    @classmethod
    def deny(
        cls,
        purpose: Purpose | None,
        reason: str,
        message: str,
        error: type[PermissionDenied] | type[UnknownPurpose] = PermissionDenied,
    ) -> AccessDecision:
        """A refusal: ``reason`` is the log's reason code, ``error`` what the caller raises."""
        return cls(allowed=False, purpose=purpose, reason=reason, message=message, error=error)


class Policy:
    """Purposes, roles and grants, loaded from TOML; immutable."""

    __slots__ = ("_grants", "_purposes", "_roles", "review", "workflows")

    def __init__(
        self,
        purposes: Iterable[Purpose],
        roles: Iterable[str],
        grants: Iterable[Grant],
        *,
        review: ReviewThresholds | None = None,
        workflows: WorkflowSettings | None = None,
    ) -> None:
        self._purposes = {p.name: p for p in purposes}
        self._roles = frozenset(roles)
        gs = tuple(grants)
        for g in gs:
            if g.role not in self._roles:
                raise InvalidPolicy(f"grant names unknown role '{g.role}'")
            if g.purpose not in self._purposes:
                raise InvalidPolicy(f"grant names unknown purpose '{g.purpose}'")
            # Grants built in code meet the file's rules too: a mistyped selector
            # ("domian:tax") must not quietly match nothing, nor anything.
            categories: object = g.categories  # typed as a tuple; code may pass anything
            if isinstance(categories, str) or not g.categories:
                raise InvalidPolicy("grant: categories must be a non-empty tuple of selectors")
            _check_selectors(g.categories)
            if g.max_tier not in TIERS:
                raise InvalidPolicy(f"grant: max_tier must be one of {list(TIERS)}")
        self._grants = gs
        self.review = review or ReviewThresholds()
        self.workflows = workflows if workflows is not None else WorkflowSettings()

    @property
    def purposes(self) -> tuple[Purpose, ...]:
        """All purposes."""
        return tuple(self._purposes.values())

    @property
    def roles(self) -> frozenset[str]:
        """All role names."""
        return self._roles

    @property
    def grants(self) -> tuple[Grant, ...]:
        """All grants."""
        return self._grants

    def purpose(self, name: str) -> Purpose:
        """The purpose named ``name``; :class:`UnknownPurpose` otherwise."""
        p = self._purposes.get(name) if isinstance(name, str) else None
        if p is None:
            raise UnknownPurpose("purpose is not defined by the policy")
        return p

    def has_purpose(self, name: str) -> bool:
        """Whether the policy defines this purpose."""
        return name in self._purposes

    def grants_for(self, role: str, purpose: str) -> tuple[Grant, ...]:
        """The grants naming this role and purpose."""
        return tuple(g for g in self._grants if g.role == role and g.purpose == purpose)

    def check_categories(
        self, decision: AccessDecision, categories: Sequence[Category]
    ) -> AccessDecision:
        """Refuse the decision when an explicitly requested category is not granted."""
        if not decision.allowed:
            return decision
        for c in categories:
            if decision.max_tier(c) is None:
                return AccessDecision.deny(
                    decision.purpose,
                    "category_not_granted",
                    f"the policy does not grant this purpose category '{c.code}'",
                    PermissionDenied,
                )
        return decision

    def authorize(
        self,
        *,
        role: str,
        purpose: str,
        ticket: str | None,
        is_self: bool,
        has_consent: bool,
    ) -> AccessDecision:
        """Decide an access before anything is read.

        Order of checks (each failure names its rule): purpose defined → role has a
        grant for the purpose → ticket given where the grants need one → for
        self-only purposes the actor is the subject → consent where the purpose
        needs the subject's authorisation.
        """
        p = self._purposes.get(purpose) if isinstance(purpose, str) else None
        if p is None:
            return AccessDecision.deny(
                None,
                "unknown_purpose",
                "purpose is not defined by the policy",
                UnknownPurpose,
            )
        grants = self.grants_for(role, purpose)
        if not grants:
            return AccessDecision.deny(
                p,
                "role_not_granted",
                f"{self.role_ref(role)} may not use purpose '{purpose}'",
                PermissionDenied,
            )
        ticket_ok = ticket is not None and ticket_well_formed(ticket)
        if ticket is not None and not ticket_ok:
            return AccessDecision.deny(
                p,
                "ticket_malformed",
                "ticket must be 1-64 characters of letters, digits and - / . : ( )",
                TicketRequired,
            )
        usable = tuple(g for g in grants if ticket_ok or not g.ticket)
        if not usable:
            return AccessDecision.deny(
                p,
                "ticket_required",
                f"purpose '{purpose}' needs a ticket (case or order number)",
                TicketRequired,
            )
        if p.self_only and not is_self:
            return AccessDecision.deny(
                p,
                "not_self",
                f"purpose '{purpose}' is only for the subject themself",
                PermissionDenied,
            )
        if p.consent and not has_consent:
            return AccessDecision.deny(
                p,
                "consent_required",
                f"purpose '{purpose}' needs the subject's authorisation",
                ConsentRequired,
            )
        return AccessDecision(allowed=True, purpose=p, reason="granted", message="", grants=usable)

    def role_ref(self, role: object) -> str:
        """``role 'x'`` for a role the policy defines, else a phrase that repeats nothing.

        For messages: the caller's text may be anything, personal data included.
        """
        return f"role '{role}'" if role in self._roles else "a role the policy does not define"

    def __repr__(self) -> str:
        return (
            f"Policy(purposes={len(self._purposes)}, roles={len(self._roles)}, "
            f"grants={len(self._grants)})"
        )

    @classmethod
    def default(cls) -> Policy:
        """The default policy (rule codes in docs/rules.md), shipped with the package."""
        return cls.from_toml(packaged_text("policy_default.toml"))

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        """Load a policy from a TOML file (same shape as the default policy)."""
        return cls.from_dict(load_toml_file(path, InvalidPolicy, "policy"))

    @classmethod
    def from_toml(cls, text: str) -> Policy:
        """Load a policy from TOML text."""
        return cls.from_dict(load_toml_text(text, InvalidPolicy, "policy"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build a policy from parsed TOML/JSON data.

        Every malformed part (a wrong type, an unknown key, a value out of range)
        raises :class:`InvalidPolicy` naming the key; ``true`` is not taken for a
        number, nor a string for a boolean.
        """
        return build_checked(lambda: cls._from_dict(data), InvalidPolicy, "policy")

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> Policy:
        data = _table(data, "the policy")
        purposes = [
            _purpose_from(n, raw) for n, raw in _table(data.get("purposes", {}), "purposes").items()
        ]
        roles = data.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            raise InvalidPolicy("roles must be a list of names")
        grants_raw = data.get("grants", [])
        if not isinstance(grants_raw, list):
            raise InvalidPolicy("grants must be a list of tables")
        grants = [_grant_from(g) for g in grants_raw]
        return cls(
            purposes,
            roles,
            grants,
            review=_review_from(data.get("review", {})),
            workflows=parse_workflow_settings(data.get("workflows", {})),
        )


def _table(raw: object, what: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidPolicy(f"{what} must be a table")
    if not all(isinstance(k, str) for k in raw):
        raise InvalidPolicy(f"{what}: keys must be strings")
    return raw


def _keys(keys: Iterable[object]) -> list[str]:
    """Unknown configuration keys for a message (a few, each shortened)."""
    return sorted(_short(str(k)) for k in keys)[:10]


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise InvalidPolicy(f"{where}: {key} must be true or false")
    return value


def _count(raw: Mapping[str, Any], key: str, default: int) -> int:
    value = raw.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidPolicy(f"review.{key} must be a positive whole number")
    return value


def _short(text: str) -> str:
    return "".join(ch for ch in str(text) if ch.isprintable())[:64]


def _purpose_from(name: str, raw: object) -> Purpose:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise InvalidPolicy("purpose names must match [a-z][a-z0-9_]*")
    where = f"purpose '{name}'"
    raw = _table(raw, where)
    unknown = set(raw) - {
        "description",
        "kind",
        "scope",
        "consent",
        "self_only",
        "restrict_disputed",
        "ended_records",
        "own_source",
    }
    if unknown:
        raise InvalidPolicy(f"{where}: unknown keys {_keys(unknown)}")
    kind = raw.get("kind", "records")
    if not isinstance(kind, str) or kind not in {"records", "answer", "metadata", "aggregate"}:
        raise InvalidPolicy(f"{where}: kind must be records, answer, metadata or aggregate")
    scope = raw.get("scope", "disclosable")
    if not isinstance(scope, str) or scope not in {"disclosable", "retained"}:
        raise InvalidPolicy(f"{where}: scope must be disclosable or retained")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise InvalidPolicy(f"{where}: description must be text")
    return Purpose(
        name=name,
        kind=cast("PurposeKind", kind),
        scope=cast("Scope", scope),
        consent=_flag(raw, "consent", where),
        self_only=_flag(raw, "self_only", where),
        description=description,
        restrict_disputed=_flag(raw, "restrict_disputed", where),
        ended_records=_flag(raw, "ended_records", where),
        own_source=_flag(raw, "own_source", where),
    )


def _check_selectors(selectors: Iterable[object]) -> None:
    for sel in selectors:
        if not isinstance(sel, str) or not _SELECTOR.fullmatch(sel):
            raise InvalidPolicy(
                "grant: category selectors are '*', 'polarity:X', 'severity:X', 'domain:X' "
                "or a category code"
            )


def _grant_from(raw: object) -> Grant:
    raw = _table(raw, "each grant")
    unknown = set(raw) - {"role", "purpose", "categories", "max_tier", "ticket"}
    if unknown:
        raise InvalidPolicy(f"grant: unknown keys {_keys(unknown)}")
    role, purpose = raw.get("role"), raw.get("purpose")
    if not isinstance(role, str) or not role:
        raise InvalidPolicy("grant: role must be a role name")
    if not isinstance(purpose, str) or not purpose:
        raise InvalidPolicy("grant: purpose must be a purpose name")
    cats = raw.get("categories")
    if not isinstance(cats, list) or not cats:
        raise InvalidPolicy("grant: categories must be a non-empty list of selectors")
    _check_selectors(cats)
    tier = raw.get("max_tier")
    if not isinstance(tier, str) or tier not in TIERS:
        raise InvalidPolicy(f"grant: max_tier must be one of {list(TIERS)}")
    return Grant(
        role=role,
        purpose=purpose,
        categories=tuple(cats),
        max_tier=tier,
        ticket=_flag(raw, "ticket", "grant"),
    )


_REVIEW_KEYS = frozenset(
    {
        "max_subjects_per_day",
        "working_hours",
        "working_days",
        "denial_burst",
        "denial_window_minutes",
    }
)


def _review_from(raw: object) -> ReviewThresholds:
    raw = _table(raw, "review")
    unknown = set(raw) - _REVIEW_KEYS
    if unknown:
        raise InvalidPolicy(f"review: unknown keys {_keys(unknown)}")
    base = ReviewThresholds()
    hours = raw.get("working_hours")
    start, end = base.working_start, base.working_end
    if hours is not None:
        m = None
        if isinstance(hours, str):
            m = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", hours)
        if m is None:
            raise InvalidPolicy("review.working_hours must look like 08:00-18:00")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        try:
            start, end = time(h1, m1), time(h2, m2)
        except ValueError:
            raise InvalidPolicy("review.working_hours must be valid times") from None
    days_raw = raw.get("working_days", list(base.working_days))
    if not isinstance(days_raw, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 7 for d in days_raw
    ):
        raise InvalidPolicy("review.working_days are ISO weekdays 1-7")
    return ReviewThresholds(
        max_subjects_per_day=_count(raw, "max_subjects_per_day", base.max_subjects_per_day),
        working_start=start,
        working_end=end,
        working_days=tuple(days_raw),
        denial_burst=_count(raw, "denial_burst", base.denial_burst),
        denial_window_minutes=_count(raw, "denial_window_minutes", base.denial_window_minutes),
    )
