"""Calendar periods (ISO 8601 durations of years, months, weeks and days).

Legal periods are calendar periods: "1 year from the decision date" ends on the
same day a year later, and a period that would end on a day the month lacks
(29 February, 31 April) ends on the last day of that month.
"""

from __future__ import annotations

import calendar
import functools
import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Period", "add_period"]

_ISO = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar period: whole years, months and days (weeks count as 7 days)."""

    years: int = 0
    months: int = 0
    days: int = 0

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse an ISO 8601 date duration such as ``P1Y``, ``P3M``, ``P2Y6M`` or ``P30D``."""
        m = _ISO.match(text.strip()) if isinstance(text, str) else None
        if m is None or text.strip() == "P":
            raise ValueError("a period must be an ISO 8601 date duration such as P1Y, P3M or P30D")
        y, mo, w, d = (int(g) if g else 0 for g in m.groups())
        return cls(years=y, months=mo, days=d + 7 * w)

    def __str__(self) -> str:
        if not (self.years or self.months or self.days):
            return "P0D"
        out = "P"
        if self.years:
            out += f"{self.years}Y"
        if self.months:
            out += f"{self.months}M"
        if self.days:
            out += f"{self.days}D"
        return out

    def after(self, start: date) -> date:
        """The date this period after ``start``."""
        return add_period(start, self)

    def approx_days(self) -> int:
        """An upper bound of the period's length in days, for comparing periods."""
        return self.years * 366 + self.months * 31 + self.days


@functools.lru_cache(maxsize=8192)
def add_period(start: date, period: Period) -> date:
    """Add whole years and months (clamping to the month's last day), then days."""
    month_index = start.month - 1 + period.months + 12 * period.years
    year = start.year + month_index // 12
    month = month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day) + timedelta(days=period.days)
