"""Disclosure windows and retention, computed from the catalogue and the record's dates.

Whether a record may be disclosed is decided at read time from the vault's clock,
so correctness never depends on a sweep having run. Dates are calendar dates in
the vault's time zone; a window that ends on a date ends at the start of that date
there (the end date is exclusive). The same holds for the purge date: from the
start of ``purge_on`` a record reaches no purpose at all, swept or not.

The lifecycle of a record (``active`` → ``expired`` | ``repaired`` | ``revoked`` →
``purged``) is a small state machine here; the sweep and the workflows only
record its transitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, cast
from zoneinfo import ZoneInfo

from credit_vault.domain.catalog import Category
from credit_vault.domain.periods import add_period
from credit_vault.errors import InvalidPeriodOverride, InvalidRecord, InvalidTransition

__all__ = [
    "DISCLOSURE_ENDED_STATES",
    "LIVE_STATES",
    "RECORD_STATES",
    "TRANSITIONS",
    "RecordState",
    "Window",
    "check_transition",
    "compute_window",
    "effective_state",
    "expiry_due",
    "is_visible",
    "local_date",
    "purge_due",
    "retention_running",
    "state_today",
]

RecordState = Literal["active", "expired", "repaired", "revoked", "purged"]
RECORD_STATES: tuple[RecordState, ...] = ("active", "expired", "repaired", "revoked", "purged")
# States in which a record never reaches a disclosure purpose again.
DISCLOSURE_ENDED_STATES: frozenset[str] = frozenset({"repaired", "revoked", "purged"})
# States whose record still holds its data key and ciphertexts.
LIVE_STATES: tuple[RecordState, ...] = ("active", "expired", "repaired", "revoked")

TRANSITIONS: dict[RecordState, frozenset[RecordState]] = {
    "active": frozenset({"expired", "repaired", "revoked", "purged"}),
    # A decision withdrawn after the window ended still turns the record into
    # "revoked", and a repair can still be granted (it lifts measures too).
    "expired": frozenset({"repaired", "revoked", "purged"}),
    "repaired": frozenset({"revoked", "purged"}),
    "revoked": frozenset({"purged"}),
    "purged": frozenset(),
}
"""The lifecycle: which stored state may follow which. Nothing leaves ``purged``."""


def check_transition(old: str, new: str) -> RecordState:
    """Return ``new`` if the lifecycle allows ``old`` → ``new``; else raise InvalidTransition."""
    if old not in TRANSITIONS or new not in TRANSITIONS:
        raise InvalidTransition("record states are active, expired, repaired, revoked, purged")
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"a record cannot go from '{old}' to '{new}'")
    return new


@dataclass(frozen=True, slots=True)
class Window:
    """When a record may be disclosed and when it must be purged.

    ``ends_on`` is exclusive and None when the category is never disclosed to
    disclosure purposes (``mode`` tells why). ``purge_on`` is None when the
    category sets no retention period.
    """

    mode: Literal["period", "none", "consent_only"]
    starts_on: date | None
    ends_on: date | None
    purge_on: date | None
    repair_from: date | None

    def open_on(self, today: date) -> bool:
        """Whether the window is open on ``today`` (start inclusive, end exclusive)."""
        if self.mode != "period" or self.starts_on is None or self.ends_on is None:
            return False
        return self.starts_on <= today < self.ends_on


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of ``instant`` in ``tz``."""
    return instant.astimezone(tz).date()


def compute_window(
    category: Category,
    *,
    decided_on: date,
    occurred_on: date,
    conduct_ended_on: date | None = None,
    disclosure_until: date | None = None,
) -> Window:
    """The window and purge date of a record; refuses inconsistent dates and bad overrides."""
    if occurred_on > decided_on:
        raise InvalidRecord("occurred_on must not be after decided_on")
    if conduct_ended_on is not None and conduct_ended_on < occurred_on:
        raise InvalidRecord("conduct_ended_on must not be before occurred_on")
    conduct_end = conduct_ended_on or occurred_on
    retention_base = conduct_end if category.retention_from == "conduct_end" else decided_on
    purge_on = add_period(retention_base, category.retention) if category.retention else None
    start = decided_on if category.disclosure_starts == "decided_on" else occurred_on

    period = category.disclosure_period
    if period is None:
        if disclosure_until is not None:
            raise InvalidPeriodOverride(
                f"category '{category.code}' is not disclosed publicly; no period can be set"
            )
        mode: Literal["none", "consent_only"] = (
            "consent_only" if category.disclosure == "consent_only" else "none"
        )
        return Window(mode=mode, starts_on=None, ends_on=None, purge_on=purge_on, repair_from=None)

    end = add_period(start, period)
    extended = disclosure_until is not None and disclosure_until > end
    if disclosure_until is not None:
        limit = add_period(start, category.disclosure_max or period)
        if disclosure_until < end:
            raise InvalidPeriodOverride(
                f"a per-record period may only extend category '{category.code}'s default "
                f"({period}), not shorten it"
            )
        if disclosure_until > limit:
            raise InvalidPeriodOverride(
                f"a per-record period for category '{category.code}' may not exceed "
                f"{category.disclosure_max or period} from the start of disclosure"
            )
        end = disclosure_until
    if purge_on is not None and end > purge_on:
        # Nothing is disclosed after it must be deleted (Z2, S3).
        end = purge_on
    repair_after = category.repair_after
    if category.repair_after_extended is not None and extended:
        # A source extended the period: the record is listed as serious (e.g. wage
        # arrears, 1 y general / 3 y serious), with the longer repair minimum (N1).
        repair_after = category.repair_after_extended
    repair_from = add_period(start, repair_after) if repair_after else None
    return Window(
        mode="period", starts_on=start, ends_on=end, purge_on=purge_on, repair_from=repair_from
    )


def is_visible(
    *,
    scope: Literal["disclosable", "retained"],
    consent_purpose: bool,
    state: str,
    window: Window,
    today: date,
    ended_records: bool = False,
) -> bool:
    """Whether a record reaches a purpose today.

    Disclosable-scope purposes see a record only while its window is open and its
    disclosure has not ended early (repair, revocation). Retained-scope purposes see
    every record not yet purged, except records whose disclosure ended early, which
    only purposes with ``ended_records`` see (the subject's own view, the handlers
    of objections and repairs): repair ends sharing and use (N1), a revoked decision
    is withdrawn (S5, N3). A consent-only category (V1) reaches a purpose of either
    scope only when ``consent_purpose`` says it may: the caller passes true for a
    purpose that needs the subject's consent, the subject's own view, and the
    handlers at the record's own source, who already hold it. From the start of its
    purge date a record reaches no purpose, whether or not a sweep has shredded it
    yet (Z2, S3).
    """
    if state == "purged":
        return False
    if window.purge_on is not None and today >= window.purge_on:
        return False
    if window.mode == "consent_only" and not consent_purpose:
        return False
    if state in DISCLOSURE_ENDED_STATES:
        return scope == "retained" and ended_records
    if scope == "retained" or window.mode == "consent_only":
        return True
    return window.open_on(today)


def effective_state(stored: str, window: Window, today: date) -> RecordState:
    """The state a record is in today, whatever the sweep has recorded so far.

    Repaired, revoked and purged are recorded facts. Between ``active`` and
    ``expired`` the clock decides: a window that has ended makes the record expired
    even before a sweep marks it, and a stored ``expired`` follows the clock too (so
    a read never depends on when the sweep ran). Records of categories never
    disclosed stay ``active`` (retained) until purged.
    """
    if stored in ("repaired", "revoked", "purged"):
        return cast("RecordState", stored)
    if window.mode == "period" and window.ends_on is not None and window.ends_on <= today:
        return "expired"
    if window.mode == "consent_only" and window.purge_on is not None and window.purge_on <= today:
        return "expired"
    return "active"


def state_today(stored: str, window: Window, today: date) -> RecordState:
    """The state as reads and workflow steps judge it today: :func:`effective_state`,
    and ``purged`` from the purge date on, whether or not a sweep has shredded it yet."""
    if purge_due(stored, window, today):
        return "purged"
    return effective_state(stored, window, today)


def expiry_due(stored: str, window: Window, today: date) -> bool:
    """Whether a sweep should record ``active`` → ``expired`` today."""
    return stored == "active" and effective_state(stored, window, today) == "expired"


def purge_due(stored: str, window: Window, today: date) -> bool:
    """Whether a sweep should purge the record today (its retention is over)."""
    return stored != "purged" and window.purge_on is not None and window.purge_on <= today


def retention_running(category: Category | None, window: Window, stored: str, today: date) -> bool:
    """Whether the law still requires keeping this record (so a subject's erasure is refused).

    True while a category with mandatory retention (negative records by default,
    Z2) has not reached its purge date; a record of a category no longer in the
    catalogue counts as mandatory, since nothing shows that it is not.
    """
    if stored == "purged":
        return False
    if category is not None and not category.mandatory_retention:
        return False
    return window.purge_on is None or today < window.purge_on
