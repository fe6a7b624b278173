"""Working days in mainland China: weekends, public holidays and adjusted working weekends (调休).

Every year the General Office of the State Council publishes the next year's
holiday schedule (国务院办公厅关于 YYYY 年部分节假日安排的通知). It moves days
off next to the festivals and makes some Saturdays and Sundays working days in
exchange, so "5 working days" cannot be computed from weekdays alone.

:meth:`WorkdayCalendar.china` starts from the schedules maintained in the
``chinesecalendar`` package (both the days off and the make-up working days, one
release per published notice) and lets a deployment add or correct a year by
configuration (:meth:`WorkdayCalendar.with_year`, :meth:`WorkdayCalendar.with_toml`)
without waiting for a release. For a year no schedule covers, ``beyond`` decides:
``"weekends"`` counts Monday to Friday only, ``"error"`` refuses.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from credit_vault.errors import ConfigurationError

__all__ = ["Beyond", "WorkdayCalendar", "parse_schedule"]

Beyond = Literal["weekends", "error"]

_ONE_DAY = timedelta(days=1)
# Deadlines are days or weeks away; this only stops a runaway loop on bad input.
_MAX_STEPS = 20_000


class WorkdayCalendar:
    """Which dates are working days; immutable. Build with :meth:`china` or :meth:`with_year`."""

    __slots__ = ("_holidays", "_workdays", "_years", "beyond")

    _holidays: frozenset[date]
    _workdays: frozenset[date]
    _years: frozenset[int]
    beyond: Beyond

    def __init__(
        self,
        *,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        years: Iterable[int] = (),
        beyond: Beyond = "weekends",
    ) -> None:
        if beyond not in ("weekends", "error"):
            raise ConfigurationError("calendar.beyond_schedule must be 'weekends' or 'error'")
        hol = frozenset(holidays)
        work = frozenset(workdays)
        yrs = frozenset(years)
        both = hol & work
        if both:
            raise ConfigurationError(
                f"{min(both).isoformat()} is listed both as a holiday and as a working day"
            )
        stray = sorted(d for d in hol | work if d.year not in yrs)
        if stray:
            raise ConfigurationError(
                f"{stray[0].isoformat()} lies in a year the calendar does not declare"
            )
        self._holidays = hol
        self._workdays = work
        self._years = yrs
        self.beyond = beyond

    # -------------------------------------------------------------- construction

    @classmethod
    def china(cls, *, beyond: Beyond = "weekends") -> WorkdayCalendar:
        """Mainland China's official schedules as maintained in the ``chinesecalendar`` package."""
        holidays, workdays, years = _chinese_calendar_data()
        return cls(holidays=holidays, workdays=workdays, years=years, beyond=beyond)

    @classmethod
    def weekends_only(cls) -> WorkdayCalendar:
        """Monday to Friday, every year, no holidays (for tests and other jurisdictions)."""
        return cls(beyond="weekends")

    def with_year(
        self,
        year: int,
        *,
        holidays: Iterable[date],
        workdays: Iterable[date] = (),
    ) -> WorkdayCalendar:
        """A copy where ``year`` follows exactly this schedule (replacing any schedule it had)."""
        if not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2200:
            raise ConfigurationError("a schedule's year must be a whole year such as 2027")
        hol = frozenset(holidays)
        work = frozenset(workdays)
        for d in hol | work:
            if not isinstance(d, date) or d.year != year:
                raise ConfigurationError(f"every date of the {year} schedule must lie in {year}")
        weekday_workdays = sorted(d for d in work if d.weekday() < 5)
        if weekday_workdays:
            raise ConfigurationError(
                f"{weekday_workdays[0].isoformat()} is a weekday; make-up working days are "
                "Saturdays or Sundays"
            )
        return WorkdayCalendar(
            holidays={d for d in self._holidays if d.year != year} | hol,
            workdays={d for d in self._workdays if d.year != year} | work,
            years=self._years | {year},
            beyond=self.beyond,
        )

    def with_schedule(self, schedule: Mapping[str, Any]) -> WorkdayCalendar:
        """A copy with every year of a parsed schedule (the ``years`` table of the TOML form)."""
        cal = self
        for year, holidays, workdays in parse_schedule(schedule):
            cal = cal.with_year(year, holidays=holidays, workdays=workdays)
        return cal

    def with_toml(self, text: str) -> WorkdayCalendar:
        """A copy with the years of a schedule file's text (see docs/workflows.md)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"holiday schedule is not valid TOML: {exc}") from None
        return self.with_schedule(data)

    def with_file(self, path: str | Path) -> WorkdayCalendar:
        """A copy with the years of a schedule file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"holiday schedule cannot be read: {exc.strerror}") from None
        return self.with_toml(text)

    # -------------------------------------------------------------- queries

    @property
    def years(self) -> tuple[int, ...]:
        """The years an official schedule covers, in order."""
        return tuple(sorted(self._years))

    def covers(self, year: int) -> bool:
        """Whether an official schedule covers ``year``."""
        return year in self._years

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (make-up weekends count, holidays do not)."""
        if day.year in self._years:
            if day in self._workdays:
                return True
            if day in self._holidays:
                return False
        elif self.beyond == "error":
            raise ConfigurationError(
                f"no official holiday schedule for {day.year}; add the year's schedule by "
                "configuration (see docs/workflows.md)"
            )
        return day.weekday() < 5

    def next_workday(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first working day after it."""
        for d in _days_from(day):
            if self.is_workday(d):
                return d
        raise ConfigurationError("no working day found")  # pragma: no cover

    def add_workdays(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted).

        With ``n == 0`` the answer is ``start``. This is how "within n working days
        of receipt" is counted: a filing on a Friday before a holiday week has its
        first working day after the holiday.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        if n == 0:
            return start
        counted = 0
        for day in _days_from(start + _ONE_DAY):
            if self.is_workday(day):
                counted += 1
                if counted == n:
                    return day
        raise ConfigurationError("no working day found")  # pragma: no cover

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]`` (0 when ``end <= start``)."""
        count = 0
        day = start + _ONE_DAY
        while day <= end:
            if self.is_workday(day):
                count += 1
            day += _ONE_DAY
        return count

    def __repr__(self) -> str:
        span = f"{min(self._years)}-{max(self._years)}" if self._years else "none"
        return f"WorkdayCalendar(years={span}, beyond={self.beyond!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WorkdayCalendar)
            and self._holidays == other._holidays
            and self._workdays == other._workdays
            and self._years == other._years
            and self.beyond == other.beyond
        )

    def __hash__(self) -> int:
        return hash((self._holidays, self._workdays, self._years, self.beyond))


def _days_from(day: date) -> Iterator[date]:
    for _ in range(_MAX_STEPS):
        yield day
        day += _ONE_DAY
    raise ConfigurationError("the calendar has no working day within 50 years")


@functools.cache
def _chinese_calendar_data() -> tuple[frozenset[date], frozenset[date], frozenset[int]]:
    try:
        from chinese_calendar import constants
    except ImportError:  # pragma: no cover - a declared dependency
        raise ConfigurationError(
            "the chinesecalendar package is needed for mainland China working days"
        ) from None
    holidays = frozenset(d for d in constants.holidays if isinstance(d, date))
    workdays = frozenset(d for d in constants.workdays if isinstance(d, date))
    years = frozenset(d.year for d in holidays)
    return holidays, workdays, years


_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:/(\d{4}-\d{2}-\d{2}))?$")


def _dates(raw: object, where: str) -> list[date]:
    if not isinstance(raw, list):
        raise ConfigurationError(f"{where} must be a list of dates or date ranges")
    out: list[date] = []
    for item in raw:
        if isinstance(item, date):
            out.append(item)
            continue
        m = _RANGE.match(item) if isinstance(item, str) else None
        if m is None:
            raise ConfigurationError(
                f"{where}: use ISO dates (2027-02-06) or ranges (2027-02-06/2027-02-12)"
            )
        try:
            first = date.fromisoformat(m.group(1))
            last = date.fromisoformat(m.group(2)) if m.group(2) else first
        except ValueError:
            raise ConfigurationError(f"{where}: not a calendar date") from None
        if last < first or (last - first).days > 366:
            raise ConfigurationError(f"{where}: a range must run forwards, within a year")
        day = first
        while day <= last:
            out.append(day)
            day += _ONE_DAY
    return out


def parse_schedule(data: Mapping[str, Any]) -> list[tuple[int, list[date], list[date]]]:
    """The (year, holidays, make-up working days) of a schedule mapping with a ``years`` table.

    Shape (TOML)::

        [years.2027]
        source = "国办发明电〔2026〕…号"      # optional, for the reader
        holidays = ["2027-01-01", "2027-02-06/2027-02-12"]
        workdays = ["2027-02-14"]
    """
    if not isinstance(data, Mapping):
        raise ConfigurationError("a holiday schedule is a table")
    unknown = set(data) - {"years", "format"}
    if unknown:
        raise ConfigurationError(f"holiday schedule: unknown keys {sorted(unknown)}")
    years = data.get("years", {})
    if not isinstance(years, Mapping):
        raise ConfigurationError("holiday schedule: 'years' must be a table of years")
    out: list[tuple[int, list[date], list[date]]] = []
    for key, raw in years.items():
        if not re.fullmatch(r"\d{4}", str(key)):
            raise ConfigurationError("holiday schedule: years are four-digit keys such as 2027")
        where = f"holiday schedule {key}"
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{where} must be a table")
        extra = set(raw) - {"holidays", "workdays", "source"}
        if extra:
            raise ConfigurationError(f"{where}: unknown keys {sorted(extra)}")
        if "holidays" not in raw:
            raise ConfigurationError(f"{where}: 'holidays' is required")
        out.append(
            (
                int(key),
                _dates(raw["holidays"], f"{where}.holidays"),
                _dates(raw.get("workdays", []), f"{where}.workdays"),
            )
        )
    return out
