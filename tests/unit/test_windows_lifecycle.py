"""Disclosure windows, purge dates and the lifecycle state machine (pure domain, no database)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from credit_vault import Catalog, Category, FieldSpec, Period
from credit_vault.domain.windows import (
    LIVE_STATES,
    RECORD_STATES,
    TRANSITIONS,
    Window,
    check_transition,
    compute_window,
    effective_state,
    expiry_due,
    is_visible,
    local_date,
    purge_due,
    retention_running,
    state_today,
)
from credit_vault.errors import (
    InvalidCatalog,
    InvalidPeriodOverride,
    InvalidRecord,
    InvalidTransition,
)

CAT = Catalog.default()
SHANGHAI = ZoneInfo("Asia/Shanghai")
D = date


def cat(code: str) -> Category:
    return CAT.get(code)


def custom(**kw: object) -> Category:
    base: dict[str, object] = {
        "code": "test.custom",
        "name": "custom",
        "domain": "test",
        "polarity": "negative",
        "fields": (FieldSpec("summary", "string", "public"),),
        "legal_bases": ("law",),
    }
    base.update(kw)
    return Category(**base)  # type: ignore[arg-type]


# --- windows from the catalogue ------------------------------------------------------------


def test_general_penalty_window_start_end_repair_purge() -> None:
    w = compute_window(cat("penalty.traffic"), decided_on=D(2025, 3, 1), occurred_on=D(2024, 12, 1))
    assert w.mode == "period"
    assert w.starts_on == D(2025, 3, 1)  # the decision date
    assert w.ends_on == D(2026, 3, 1)  # exclusive: last disclosed day is 2026-02-28
    assert w.repair_from == D(2025, 6, 1)  # 3 months (N1)
    assert w.purge_on == D(2029, 12, 1)  # 5 years from the conduct (Z2, S3)


def test_retention_runs_from_the_end_of_the_conduct() -> None:
    w = compute_window(
        cat("labour.wage_arrears"),
        decided_on=D(2025, 3, 1),
        occurred_on=D(2023, 1, 10),
        conduct_ended_on=D(2024, 11, 30),
    )
    assert w.purge_on == D(2029, 11, 30)


def test_retention_from_decision_for_positive_categories() -> None:
    w = compute_window(
        cat("honor.commendation"), decided_on=D(2024, 2, 29), occurred_on=D(2023, 1, 1)
    )
    assert w.ends_on == D(2027, 2, 28)  # 3 years, clamped to the month's last day
    assert w.purge_on == D(2029, 2, 28)


def test_categories_never_disclosed_or_consent_only() -> None:
    minor = compute_window(
        cat("penalty.minor"), decided_on=D(2025, 1, 5), occurred_on=D(2025, 1, 1)
    )
    assert (minor.mode, minor.starts_on, minor.ends_on) == ("none", None, None)
    assert minor.purge_on == D(2030, 1, 1)
    vol = compute_window(
        cat("volunteer.service"), decided_on=D(2025, 1, 5), occurred_on=D(2025, 1, 1)
    )
    assert vol.mode == "consent_only"
    assert vol.purge_on == D(2030, 1, 5)


def test_disclosure_may_start_at_the_conduct() -> None:
    c = custom(disclosure=Period(years=1), disclosure_starts="occurred_on")
    w = compute_window(c, decided_on=D(2025, 3, 1), occurred_on=D(2025, 1, 15))
    assert (w.starts_on, w.ends_on) == (D(2025, 1, 15), D(2026, 1, 15))


def test_window_never_outlives_retention() -> None:
    c = custom(
        disclosure=Period(years=3), retention=Period(years=1), disclosure_max=Period(years=3)
    )
    w = compute_window(c, decided_on=D(2025, 6, 1), occurred_on=D(2025, 1, 1))
    assert w.purge_on == D(2026, 1, 1)
    assert w.ends_on == D(2026, 1, 1)


def test_old_conduct_decided_late_is_never_open() -> None:
    w = compute_window(cat("penalty.traffic"), decided_on=D(2025, 3, 1), occurred_on=D(2019, 1, 1))
    assert w.purge_on == D(2024, 1, 1)
    assert w.ends_on == D(2024, 1, 1)
    # The end is clipped to the purge date, before the start: the window never opens.
    assert not any(w.open_on(D(2019, 1, 1) + timedelta(days=n)) for n in range(0, 2600, 7))


# --- per-record overrides within the category's limits -------------------------------------


def test_override_extends_within_the_maximum() -> None:
    # court.defaulter: 2 years, extendable (C1), at most 5 years from the start.
    w = compute_window(
        cat("court.defaulter"),
        decided_on=D(2025, 3, 1),
        occurred_on=D(2025, 1, 1),
        disclosure_until=D(2028, 3, 1),
    )
    assert w.ends_on == D(2028, 3, 1)
    at_max = compute_window(
        cat("court.defaulter"),
        decided_on=D(2025, 3, 1),
        occurred_on=D(2025, 1, 1),
        disclosure_until=D(2030, 1, 1),
    )
    assert at_max.ends_on == D(2030, 1, 1)  # also the purge date: never past it


@pytest.mark.parametrize(
    ("until", "repair_from"),
    [
        (None, D(2025, 6, 1)),  # general: 3 months (N1)
        (D(2026, 3, 1), D(2025, 6, 1)),  # "extended" to the default end: still general
        (D(2026, 3, 2), D(2026, 3, 1)),  # one day past the general maximum: serious, 1 year
        (D(2028, 3, 1), D(2026, 3, 1)),  # listed as serious for 3 years
    ],
)
def test_wage_arrears_listed_as_serious_have_the_serious_repair_minimum(
    until: date | None, repair_from: date
) -> None:
    # DOMAIN.md: labour.wage_arrears, general (serious when listed), 1 y / 3 y, 3 m / 1 y.
    w = compute_window(
        cat("labour.wage_arrears"),
        decided_on=D(2025, 3, 1),
        occurred_on=D(2025, 1, 1),
        disclosure_until=until,
    )
    assert w.repair_from == repair_from


def test_repair_after_extended_needs_a_period_to_extend() -> None:
    base = {
        "code": "test.x",
        "name": "x",
        "polarity": "negative",
        "legal_bases": ["law"],
        "fields": [{"name": "summary", "type": "string", "tier": "public"}],
        "disclosure": "P1Y",
        "repair_after": "P3M",
        "repair_after_extended": "P1Y",
    }
    with pytest.raises(InvalidCatalog, match="repair_after_extended needs"):
        Catalog.from_dict({"format": 1, "category": [base]})
    ok = Catalog.from_dict({"format": 1, "category": [{**base, "disclosure_max": "P3Y"}]})
    assert ok.get("test.x").repair_after_extended == Period.parse("P1Y")


@pytest.mark.parametrize(
    ("code", "until", "rule"),
    [
        ("court.defaulter", D(2030, 3, 2), "may not exceed"),
        ("court.defaulter", D(2026, 3, 1), "not shorten"),
        ("penalty.traffic", D(2026, 3, 2), "may not exceed"),  # max is the default (P1Y)
        ("penalty.minor", D(2026, 3, 1), "not disclosed publicly"),
        ("volunteer.service", D(2026, 3, 1), "not disclosed publicly"),
    ],
)
def test_override_outside_the_limits_is_refused(code: str, until: date, rule: str) -> None:
    with pytest.raises(InvalidPeriodOverride, match=rule):
        compute_window(
            cat(code), decided_on=D(2025, 3, 1), occurred_on=D(2025, 1, 1), disclosure_until=until
        )


def test_inconsistent_dates_are_refused() -> None:
    with pytest.raises(InvalidRecord, match="occurred_on"):
        compute_window(cat("penalty.traffic"), decided_on=D(2025, 1, 1), occurred_on=D(2025, 2, 1))
    with pytest.raises(InvalidRecord, match="conduct_ended_on"):
        compute_window(
            cat("penalty.traffic"),
            decided_on=D(2025, 3, 1),
            occurred_on=D(2025, 2, 1),
            conduct_ended_on=D(2025, 1, 1),
        )


# --- catalogue keys for the lifecycle ------------------------------------------------------


def _catalog(**extra: object) -> Catalog:
    raw: dict[str, object] = {
        "code": "test.thing",
        "name": "thing",
        "polarity": "negative",
        "legal_bases": ["law"],
        "disclosure": "P1Y",
        "fields": [{"name": "summary", "type": "string", "tier": "public"}],
    }
    raw.update(extra)
    return Catalog.from_dict({"category": [raw]})


def test_negative_category_without_retention_keeps_five_years() -> None:
    c = _catalog().get("test.thing")
    assert c.retention == Period(years=5)
    assert c.retention_from == "conduct_end"
    assert c.mandatory_retention is True
    positive = _catalog(polarity="positive").get("test.thing")
    assert positive.retention is None
    assert positive.mandatory_retention is False


def test_retention_mandatory_is_configurable() -> None:
    assert _catalog(retention_mandatory=False).get("test.thing").mandatory_retention is False
    assert (
        _catalog(polarity="neutral", retention_mandatory=True).get("test.thing").mandatory_retention
        is True
    )
    with pytest.raises(InvalidCatalog, match="retention_mandatory"):
        _catalog(retention_mandatory="yes")


def test_default_catalogue_mandatory_retention_follows_polarity() -> None:
    for c in CAT:
        assert c.mandatory_retention is (c.polarity == "negative"), c.code
        if c.polarity == "negative":
            assert c.retention is not None, c.code


# --- read-time visibility ------------------------------------------------------------------

WIN = Window(
    mode="period",
    starts_on=D(2025, 3, 1),
    ends_on=D(2026, 3, 1),
    purge_on=D(2029, 12, 1),
    repair_from=D(2025, 6, 1),
)


@pytest.mark.parametrize(
    ("today", "disclosable"),
    [
        (D(2025, 2, 28), False),
        (D(2025, 3, 1), True),  # start inclusive
        (D(2026, 2, 28), True),
        (D(2026, 3, 1), False),  # end exclusive
        (D(2029, 11, 30), False),
    ],
)
def test_window_boundaries(today: date, disclosable: bool) -> None:
    assert (
        is_visible(
            scope="disclosable", consent_purpose=False, state="active", window=WIN, today=today
        )
        is disclosable
    )
    assert WIN.open_on(today) is disclosable


def test_retained_scope_sees_until_the_purge_date_only() -> None:
    for state in LIVE_STATES:
        kw = {
            "scope": "retained",
            "consent_purpose": False,
            "state": state,
            "window": WIN,
            "ended_records": True,
        }
        assert is_visible(**kw, today=D(2029, 11, 30))  # type: ignore[arg-type]
        assert not is_visible(**kw, today=D(2029, 12, 1))  # type: ignore[arg-type]
    assert not is_visible(
        scope="retained", consent_purpose=False, state="purged", window=WIN, today=D(2025, 5, 1)
    )


@pytest.mark.parametrize("state", ["repaired", "revoked"])
def test_ended_states_reach_retained_purposes_only_with_ended_records(state: str) -> None:
    # N1: repair ends publication, sharing and use; S5/N3: a revoked decision is withdrawn.
    kw = {"scope": "retained", "consent_purpose": False, "state": state, "window": WIN}
    assert not is_visible(**kw, today=D(2025, 5, 1))  # type: ignore[arg-type]
    assert is_visible(**kw, today=D(2025, 5, 1), ended_records=True)  # type: ignore[arg-type]
    assert is_visible(  # an active record is not affected by the flag
        scope="retained", consent_purpose=False, state="active", window=WIN, today=D(2025, 5, 1)
    )


@pytest.mark.parametrize("state", ["repaired", "revoked", "purged"])
def test_ended_states_never_reach_disclosure_purposes(state: str) -> None:
    assert not is_visible(
        scope="disclosable", consent_purpose=True, state=state, window=WIN, today=D(2025, 5, 1)
    )


def test_stored_expired_follows_the_clock() -> None:
    # A sweep that ran "in the future" of a read (clock moved back) never hides a
    # record still inside its window: the window decides, not the sweep.
    assert is_visible(
        scope="disclosable", consent_purpose=False, state="expired", window=WIN, today=D(2025, 5, 1)
    )


def test_consent_only_needs_consent_and_ends_at_purge() -> None:
    w = Window("consent_only", None, None, D(2030, 1, 5), None)
    kw = {"scope": "disclosable", "state": "active", "window": w}
    assert not is_visible(consent_purpose=False, today=D(2026, 1, 1), **kw)  # type: ignore[arg-type]
    assert is_visible(consent_purpose=True, today=D(2026, 1, 1), **kw)  # type: ignore[arg-type]
    assert not is_visible(consent_purpose=True, today=D(2030, 1, 5), **kw)  # type: ignore[arg-type]


def test_local_date_at_the_shanghai_midnight() -> None:
    # 16:00 UTC is midnight in Shanghai (UTC+8, no daylight saving).
    assert local_date(datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), SHANGHAI) == D(2026, 2, 28)
    assert local_date(datetime(2026, 2, 28, 16, 0, tzinfo=UTC), SHANGHAI) == D(2026, 3, 1)
    assert local_date(datetime(2026, 2, 28, 16, 0, tzinfo=UTC), ZoneInfo("UTC")) == D(2026, 2, 28)


# --- lifecycle states ----------------------------------------------------------------------


def test_transition_table() -> None:
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert ("active", "expired") in allowed
    assert ("expired", "purged") in allowed
    assert ("revoked", "purged") in allowed
    for old, new in itertools.product(RECORD_STATES, RECORD_STATES):
        if (old, new) in allowed:
            assert check_transition(old, new) == new
        else:
            with pytest.raises(InvalidTransition, match=f"'{old}' to '{new}'"):
                check_transition(old, new)
    # Nothing comes back from purged, and everything live can be purged.
    assert TRANSITIONS["purged"] == frozenset()
    assert all("purged" in TRANSITIONS[s] for s in LIVE_STATES)
    with pytest.raises(InvalidTransition):
        check_transition("archived", "purged")


@pytest.mark.parametrize(
    ("stored", "today", "state", "exp_due", "purge"),
    [
        ("active", D(2026, 2, 28), "active", False, False),
        ("active", D(2026, 3, 1), "expired", True, False),
        ("expired", D(2026, 3, 1), "expired", False, False),
        ("expired", D(2025, 5, 1), "active", False, False),  # clock behind the sweep
        ("repaired", D(2025, 7, 1), "repaired", False, False),
        ("revoked", D(2025, 7, 1), "revoked", False, False),
        ("active", D(2029, 12, 1), "expired", True, True),
        ("repaired", D(2029, 12, 1), "repaired", False, True),
        ("purged", D(2030, 1, 1), "purged", False, False),
    ],
)
def test_effective_state_and_due_flags(
    stored: str, today: date, state: str, exp_due: bool, purge: bool
) -> None:
    assert effective_state(stored, WIN, today) == state
    assert expiry_due(stored, WIN, today) is exp_due
    assert purge_due(stored, WIN, today) is purge


def test_never_disclosed_records_stay_active_until_purged() -> None:
    w = Window("none", None, None, D(2030, 1, 1), None)
    assert effective_state("active", w, D(2029, 12, 31)) == "active"
    assert not expiry_due("active", w, D(2029, 12, 31))
    assert purge_due("active", w, D(2030, 1, 1))
    forever = Window("none", None, None, None, None)
    assert not purge_due("active", forever, D(2100, 1, 1))


def test_retention_running_blocks_only_mandatory_categories_before_purge() -> None:
    neg, pos = cat("penalty.traffic"), cat("honor.commendation")
    assert retention_running(neg, WIN, "active", D(2029, 11, 30))
    assert retention_running(neg, WIN, "repaired", D(2027, 1, 1))
    assert not retention_running(neg, WIN, "active", D(2029, 12, 1))
    assert not retention_running(neg, WIN, "purged", D(2027, 1, 1))
    assert not retention_running(pos, WIN, "active", D(2027, 1, 1))
    # A category no longer in the catalogue: nothing shows retention is optional.
    assert retention_running(None, WIN, "active", D(2027, 1, 1))
    endless = Window("none", None, None, None, None)
    assert retention_running(neg, endless, "active", D(2100, 1, 1))


def test_state_today_is_purged_from_the_purge_date_swept_or_not() -> None:
    for stored in ("active", "expired", "repaired", "revoked"):
        assert state_today(stored, WIN, D(2029, 11, 30)) == effective_state(
            stored, WIN, D(2029, 11, 30)
        )
        assert state_today(stored, WIN, D(2029, 12, 1)) == "purged"
    assert state_today("purged", WIN, D(2025, 5, 1)) == "purged"
