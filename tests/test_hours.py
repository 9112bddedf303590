"""The service calendar (R-HOURS-1..6, FAQ 3-Q1), edge by edge on real dates.

Each window is closed at its start and open at its end. Dates were read off
the calendar: March 2026 starts on a Sunday (1st Saturday = 7th, 2nd Sunday
= 8th); January 2029 starts on a Monday.
"""

from __future__ import annotations

import datetime as dt

import pytest

from simulator.core.clock import JST
from simulator.core.hours import ServiceCalendar, default_windows

US = dt.timedelta(microseconds=1)
CAL = ServiceCalendar()


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)  # type: ignore[arg-type, misc]


def assert_window(calendar: ServiceCalendar, start: dt.datetime, end: dt.datetime, rule: str):
    """Closed on [start, end): open just before the start and exactly at the end."""
    assert calendar.is_open(start - US)
    closure = calendar.closure_at(start)
    assert closure is not None and closure.rule == rule
    assert calendar.closure_at(end - US) is not None
    assert calendar.is_open(end)


def test_r_hours_1_every_day_from_0_00_for_a_minute() -> None:
    """R-HOURS-1: 毎日0時から1分程度 (default 1 minute)."""
    assert_window(CAL, at(2026, 11, 25), at(2026, 11, 25, 0, 1), "R-HOURS-1")


def test_r_hours_2_every_day_from_4_00_for_a_few_minutes() -> None:
    """R-HOURS-2: 毎日4時から数分程度 (default 5 minutes)."""
    assert_window(CAL, at(2026, 11, 25, 4), at(2026, 11, 25, 4, 5), "R-HOURS-2")


def test_r_hours_1_and_2_durations_are_configurable() -> None:
    """R-HOURS-1/2: the vague durations are parameters."""
    calendar = ServiceCalendar(default_windows(midnight_minutes=3, early_morning_minutes=10))
    assert_window(calendar, at(2026, 11, 25), at(2026, 11, 25, 0, 3), "R-HOURS-1")
    assert_window(calendar, at(2026, 11, 25, 4), at(2026, 11, 25, 4, 10), "R-HOURS-2")


@pytest.mark.parametrize("day", [2, 16])
def test_r_hours_3_first_and_third_monday_2_00_to_6_00(day: int) -> None:
    """R-HOURS-3: March 2026's 1st and 3rd Mondays are the 2nd and the 16th."""
    assert_window(CAL, at(2026, 3, day, 2), at(2026, 3, day, 6), "R-HOURS-3")


@pytest.mark.parametrize("day", [9, 23, 30])
def test_r_hours_3_not_the_second_fourth_or_fifth_monday(day: int) -> None:
    """R-HOURS-3: only the 1st and 3rd."""
    assert CAL.is_open(at(2026, 3, day, 3))


def test_r_hours_4_eve_of_the_2nd_sunday_is_the_1st_saturday_when_the_month_starts_sunday():
    """R-HOURS-4: March 2026 starts on Sunday the 1st, so its 2nd Sunday is the 8th and
    the window starts on Saturday the 7th, its 1st Saturday, at 23:50."""
    closure = CAL.closure_at(at(2026, 3, 7, 23, 50))
    assert closure is not None and closure.rule == "R-HOURS-4"
    assert closure.until == at(2026, 3, 8, 7)
    assert CAL.is_open(at(2026, 3, 7, 23, 50) - US)
    assert CAL.is_open(at(2026, 3, 14, 23, 55))  # 2nd Saturday: not the eve of a 2nd Sunday
    assert CAL.is_open(at(2026, 2, 28, 23, 55))  # eve of the 1st Sunday (1 March)


def test_r_hours_4_eve_of_the_4th_sunday_until_7_00() -> None:
    """R-HOURS-4: November 2026 starts on a Sunday too: Sundays 1, 8, 15, 22, 29."""
    assert_window(CAL, at(2026, 11, 21, 23, 50), at(2026, 11, 22, 7), "R-HOURS-4")
    assert CAL.is_open(at(2026, 11, 28, 23, 55))  # eve of the 5th Sunday (29th)
    assert CAL.is_open(at(2026, 11, 14, 23, 55))  # eve of the 3rd Sunday (15th)
    assert not CAL.is_open(at(2026, 11, 7, 23, 55))  # eve of the 2nd Sunday (8th)


def test_r_hours_4_the_window_swallows_the_daily_ones() -> None:
    """R-HOURS-4 with R-HOURS-1/2 inside: one closure until 7:00, named for its start."""
    for probe in (at(2026, 11, 22, 0, 0), at(2026, 11, 22, 4, 2), at(2026, 11, 22, 6, 59)):
        closure = CAL.closure_at(probe)
        assert closure is not None and closure.until == at(2026, 11, 22, 7)
        assert closure.rule == "R-HOURS-4"


@pytest.mark.parametrize("day", [1, 2, 3])
def test_r_hours_5_new_year_mornings_and_evenings(day: int) -> None:
    """R-HOURS-5: 1–3 January, 0:00–8:00 and 19:00–24:00 (2027)."""
    morning = CAL.closure_at(at(2027, 1, day, 7, 59))
    assert morning is not None and morning.rule == "R-HOURS-5"
    assert CAL.is_open(at(2027, 1, day, 8))
    assert CAL.is_open(at(2027, 1, day, 19) - US)
    evening = CAL.closure_at(at(2027, 1, day, 19))
    assert evening is not None and evening.rule == "R-HOURS-5"


def test_r_hours_5_evening_runs_into_the_next_morning() -> None:
    """R-HOURS-5: 1 January 19:00 closes until 2 January 8:00; 3 January 19:00 until
    4 January 0:01, where R-HOURS-1 takes over."""
    first = CAL.closure_at(at(2027, 1, 1, 19))
    assert first is not None and first.until == at(2027, 1, 2, 8)
    last = CAL.closure_at(at(2027, 1, 3, 23, 59))
    assert last is not None and last.until == at(2027, 1, 4, 0, 1)
    assert CAL.is_open(at(2027, 1, 4, 0, 1))
    assert CAL.is_open(at(2027, 1, 4, 7))  # not 4 January 0:00–8:00


def test_r_hours_5_contains_a_first_monday() -> None:
    """R-HOURS-3 inside R-HOURS-5: 1 January 2029 is a Monday; closed 0:00–8:00."""
    closure = CAL.closure_at(at(2029, 1, 1, 3))
    assert closure is not None
    assert (closure.rule, closure.start, closure.until) == (
        "R-HOURS-5",
        at(2029, 1, 1),
        at(2029, 1, 1, 8),
    )


def test_r_hours_6_ad_hoc_maintenance() -> None:
    """R-HOURS-6: an announced window, closed at its start, open at its end."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 12, 5, 13), at(2026, 12, 5, 15), "臨時メンテナンス")
    assert_window(calendar, at(2026, 12, 5, 13), at(2026, 12, 5, 15), "R-HOURS-6")
    closure = calendar.closure_at(at(2026, 12, 5, 14))
    assert closure is not None and closure.label == "臨時メンテナンス"
    calendar.clear_maintenance()
    assert calendar.is_open(at(2026, 12, 5, 14))


def test_r_hours_6_bad_windows_are_refused() -> None:
    calendar = ServiceCalendar()
    with pytest.raises(ValueError, match="end after"):
        calendar.add_maintenance(at(2026, 12, 5, 15), at(2026, 12, 5, 15))
    with pytest.raises(ValueError, match="naive"):
        calendar.add_maintenance(dt.datetime(2026, 12, 5), at(2026, 12, 6))  # noqa: DTZ001


def test_instants_in_utc_are_judged_in_jst() -> None:
    """R-HOURS: 19:00 UTC on 3 December is 4:00 JST on the 4th."""
    closure = CAL.closure_at(dt.datetime(2026, 12, 3, 19, 2, tzinfo=dt.UTC))
    assert closure is not None and closure.rule == "R-HOURS-2"
    assert closure.until == at(2026, 12, 4, 4, 5)


def test_next_open() -> None:
    assert CAL.next_open(at(2026, 11, 24, 10)) == at(2026, 11, 24, 10)
    assert CAL.next_open(at(2026, 11, 21, 23, 51)) == at(2026, 11, 22, 7)
