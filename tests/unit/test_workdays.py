"""Mainland China working days: holidays, adjusted working weekends (调休), configured years.

The oracle is the State Council's own notices (国务院办公厅关于 2024/2025/2026 年部分
节假日安排的通知), transcribed below as a schedule file: the bundled library must agree
with them on every day of those years, and deadlines across the Spring Festival and
National Day breaks must land where counting the notices by hand puts them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from credit_vault.domain.workdays import WorkdayCalendar, parse_schedule
from credit_vault.domain.workflows import DeadlineRule
from credit_vault.errors import ConfigurationError

# 国办发明电〔2023〕7号, 〔2024〕12号, 〔2025〕7号: days off and make-up working days.
NOTICES = """
[years.2024]
source = "国办发明电〔2023〕7号"
holidays = ["2024-01-01", "2024-02-10/2024-02-17", "2024-04-04/2024-04-06",
            "2024-05-01/2024-05-05", "2024-06-10", "2024-09-15/2024-09-17",
            "2024-10-01/2024-10-07"]
workdays = ["2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11",
            "2024-09-14", "2024-09-29", "2024-10-12"]

[years.2025]
source = "国办发明电〔2024〕12号"
holidays = ["2025-01-01", "2025-01-28/2025-02-04", "2025-04-04/2025-04-06",
            "2025-05-01/2025-05-05", "2025-05-31/2025-06-02", "2025-10-01/2025-10-08"]
workdays = ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]

[years.2026]
source = "国办发明电〔2025〕7号"
holidays = ["2026-01-01/2026-01-03", "2026-02-15/2026-02-23", "2026-04-04/2026-04-06",
            "2026-05-01/2026-05-05", "2026-06-19/2026-06-21", "2026-09-25/2026-09-27",
            "2026-10-01/2026-10-07"]
workdays = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20",
            "2026-10-10"]
"""

CHINA = WorkdayCalendar.china()
OFFICIAL = WorkdayCalendar.weekends_only().with_toml(NOTICES)
FIVE_WD = DeadlineRule(5, "working_days")


def _days(year: int) -> list[date]:
    d = date(year, 1, 1)
    out = []
    while d.year == year:
        out.append(d)
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_library_agrees_with_the_official_notice_on_every_day(year: int) -> None:
    assert CHINA.covers(year)
    wrong = [d for d in _days(year) if CHINA.is_workday(d) != OFFICIAL.is_workday(d)]
    assert wrong == []


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 2, 4), True),  # Sunday worked before the Spring Festival
        (date(2024, 2, 12), False),  # Monday inside the break
        (date(2024, 2, 18), True),  # Sunday worked after it
        (date(2024, 9, 29), True),
        (date(2024, 10, 7), False),
        (date(2025, 1, 26), True),
        (date(2025, 2, 4), False),
        (date(2025, 2, 8), True),  # Saturday
        (date(2025, 10, 8), False),  # National Day and Mid-Autumn together: 8 days
        (date(2025, 10, 11), True),
        (date(2026, 2, 14), True),
        (date(2026, 2, 23), False),  # Monday, 9-day Spring Festival break
        (date(2026, 2, 28), True),
        (date(2026, 9, 20), True),
        (date(2026, 10, 10), True),
        (date(2026, 10, 9), True),  # an ordinary Friday
        (date(2026, 10, 11), False),  # an ordinary Sunday
    ],
)
def test_holidays_and_adjusted_working_weekends(day: date, working: bool) -> None:
    assert CHINA.is_workday(day) is working


# (filed on, deadline of 5 working days, what weekdays-only counting would say)
SPRING_AND_NATIONAL_DAY = [
    # 2024 Spring Festival: off 10-17 Feb, Sunday 18 Feb worked.
    (date(2024, 2, 7), date(2024, 2, 20), date(2024, 2, 14)),
    # 2024 National Day: Sunday 29 Sep worked, off 1-7 Oct.
    (date(2024, 9, 27), date(2024, 10, 10), date(2024, 10, 4)),
    # 2025 Spring Festival: Sunday 26 Jan worked, off 28 Jan - 4 Feb.
    (date(2025, 1, 24), date(2025, 2, 7), date(2025, 1, 31)),
    # ... and Saturday 8 Feb worked afterwards.
    (date(2025, 2, 6), date(2025, 2, 12), date(2025, 2, 13)),
    # 2025 National Day + Mid-Autumn: Sunday 28 Sep worked, off 1-8 Oct.
    (date(2025, 9, 26), date(2025, 10, 10), date(2025, 10, 3)),
    # 2026 Spring Festival: Saturday 14 Feb worked, off 15-23 Feb.
    (date(2026, 2, 12), date(2026, 2, 26), date(2026, 2, 19)),
    # 2026 Mid-Autumn (25-27 Sep) then National Day (1-7 Oct).
    (date(2026, 9, 23), date(2026, 10, 8), date(2026, 9, 30)),
    # 2026: Sunday 20 Sep is worked.
    (date(2026, 9, 18), date(2026, 9, 24), date(2026, 9, 25)),
]


@pytest.mark.parametrize(("filed", "due", "naive"), SPRING_AND_NATIONAL_DAY)
def test_five_working_days_across_spring_festival_and_national_day(
    filed: date, due: date, naive: date
) -> None:
    assert FIVE_WD.due(filed, CHINA) == due
    assert FIVE_WD.due(filed, OFFICIAL) == due
    # The holidays matter: counting weekdays only would be wrong.
    assert FIVE_WD.due(filed, WorkdayCalendar.weekends_only()) == naive != due
    assert CHINA.workdays_between(filed, due) == 5


@pytest.mark.parametrize(
    ("filed", "due"),
    [
        (date(2024, 1, 20), date(2024, 2, 9)),  # a working Friday: stays
        (date(2024, 1, 22), date(2024, 2, 18)),  # Sunday in the break -> the worked Sunday
        (date(2025, 9, 18), date(2025, 10, 9)),  # 8 Oct is a holiday -> 9 Oct
        (date(2026, 2, 1), date(2026, 2, 24)),  # 21 Feb inside the break -> 24 Feb
    ],
)
def test_twenty_calendar_days_roll_forward_off_rest_days(filed: date, due: date) -> None:
    rule = DeadlineRule(20, "days")
    assert rule.due(filed, CHINA) == due
    assert rule.due(filed, CHINA, roll_forward=False) == filed + timedelta(days=20)


def test_add_workdays_edges() -> None:
    assert CHINA.add_workdays(date(2025, 1, 24), 0) == date(2025, 1, 24)
    assert CHINA.add_workdays(date(2025, 1, 27), 1) == date(2025, 2, 5)
    with pytest.raises(ValueError, match="negative"):
        CHINA.add_workdays(date(2025, 1, 1), -1)
    assert CHINA.next_workday(date(2025, 2, 8)) == date(2025, 2, 8)
    assert CHINA.next_workday(date(2025, 2, 1)) == date(2025, 2, 5)
    assert CHINA.workdays_between(date(2025, 2, 5), date(2025, 2, 1)) == 0


def test_a_year_added_by_configuration() -> None:
    cal = WorkdayCalendar.china(beyond="error")
    with pytest.raises(ConfigurationError, match="2099"):
        cal.is_workday(date(2099, 3, 3))
    text = """
    [years.2099]
    source = "hypothetical notice"
    holidays = ["2099-01-01", "2099-02-02/2099-02-06"]
    workdays = ["2099-02-07"]
    """
    added = cal.with_toml(text)
    assert added.covers(2099)
    assert not added.is_workday(date(2099, 2, 3))  # a Tuesday off
    assert added.is_workday(date(2099, 2, 7))  # a Saturday worked
    assert added.add_workdays(date(2099, 1, 30), 1) == date(2099, 2, 7)
    assert added.add_workdays(date(2099, 1, 30), 2) == date(2099, 2, 9)
    assert cal.covers(2099) is False  # calendars are immutable


def test_a_configured_year_replaces_the_librarys(tmp_path: Path) -> None:
    path = tmp_path / "2025.toml"
    path.write_text('[years.2025]\nholidays = ["2025-03-03"]\n', encoding="utf-8")
    cal = CHINA.with_file(path)
    assert not cal.is_workday(date(2025, 3, 3))
    assert not cal.is_workday(date(2025, 2, 8))  # the library's make-up Saturday is gone
    assert cal.is_workday(date(2025, 1, 29))  # and so are its holidays
    assert CHINA.is_workday(date(2025, 2, 8))


def test_years_beyond_every_schedule_count_weekdays_by_default() -> None:
    far = date(2098, 10, 1)  # a Wednesday
    assert CHINA.is_workday(far)
    assert not CHINA.is_workday(date(2098, 10, 4))  # Saturday
    assert CHINA.years[0] <= 2024
    assert CHINA.years[-1] >= 2026


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[years.2027]\nworkdays = []\n", "'holidays' is required"),
        ('[years.2027]\nholidays = ["2026-12-31"]\n', "must lie in 2027"),
        ('[years.2027]\nholidays = ["2027-13-01"]\n', "not a calendar date"),
        ('[years.2027]\nholidays = ["27-1-1"]\n', "ISO dates"),
        ('[years.2027]\nholidays = ["2027-02-06/2027-02-01"]\n', "forwards"),
        ('[years.2027]\nholidays = []\nworkdays = ["2027-02-03"]\n', "weekday"),
        ('[years.2027]\nholidays = ["2027-02-06"]\nworkdays = ["2027-02-06"]\n', "both"),
        ("[years.2027]\nholidays = []\nextra = 1\n", "unknown keys"),
        ("[years.abc]\nholidays = []\n", "four-digit"),
        ("years = 3\n", "table of years"),
        ("other = 3\n", "unknown keys"),
        ("[years.2027\n", "not valid TOML"),
        ('[years.2027]\nholidays = "2027-01-01"\n', "list of dates"),
    ],
)
def test_bad_schedules_are_refused_with_the_rule(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        CHINA.with_toml(text)


def test_schedule_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        CHINA.with_file(tmp_path / "missing.toml")
    with pytest.raises(ConfigurationError, match="a table"):
        parse_schedule([])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="beyond_schedule"):
        WorkdayCalendar(beyond="never")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="whole year"):
        CHINA.with_year(99, holidays=[])
    with pytest.raises(ConfigurationError, match="does not declare"):
        WorkdayCalendar(holidays=[date(2030, 1, 1)])


def test_calendars_compare_by_content() -> None:
    again = WorkdayCalendar.weekends_only().with_toml(NOTICES)
    assert again == OFFICIAL
    assert hash(again) == hash(OFFICIAL)
    assert again != CHINA
    assert "2024-2026" in repr(OFFICIAL)
    assert "none" in repr(WorkdayCalendar.weekends_only())
