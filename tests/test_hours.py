"""The service calendar (R-HOURS-1..6, FAQ 3-Q1), edge by edge on real dates.

Each window is closed at its start and open at its end. Every date below was
checked with Python's ``calendar`` module:

* March 2026 starts on a Sunday: Sundays 1, 8, 15, 22, 29 (its 1st Saturday,
  the 7th, is the eve of its 2nd Sunday); Mondays 2, 9, 16, 23, 30.
* June 2026 starts on a Monday: Mondays 1, 8, 15, 22, 29.
* September 2026 starts on a Tuesday: Sundays 6, 13, 20, 27; Mondays 7, 14, 21, 28.
* February 2027 starts on a Monday: Sundays 7, 14, 21, 28 (its 4th Sunday is its
  last day; the eve of its 2nd Sunday is its 2nd Saturday, the 13th).
* 1 January 2026 is a Thursday (4 January 2026 a Sunday, the 1st);
  1 January 2027 a Friday (4 January 2027 a Monday, the 1st);
  1 January 2029 a Monday.
* 25 November 2026 is a Wednesday, 5 December 2026 a Saturday.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from simulator.core.clock import JST
from simulator.core.hours import Closure, ServiceCalendar, default_windows

US = dt.timedelta(microseconds=1)
NINE_HOURS = dt.timedelta(hours=9)
CAL = ServiceCalendar()


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    """An instant in JST."""
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=JST)


def closed(calendar: ServiceCalendar, instant: dt.datetime) -> Closure:
    """The closure in force at ``instant``; fails the test when the service is open."""
    closure = calendar.closure_at(instant)
    assert closure is not None, f"expected closed at {instant.isoformat()}"
    return closure


def assert_window(
    calendar: ServiceCalendar, start: dt.datetime, end: dt.datetime, rule: str
) -> None:
    """Closed on [start, end) under ``rule``: open 1 µs before, open again exactly at ``end``."""
    assert calendar.is_open(start - US)
    closure = closed(calendar, start)
    assert (closure.rule, closure.start, closure.until) == (rule, start, end)
    assert closed(calendar, end - US).rule == rule
    assert calendar.is_open(end)


# R-HOURS-1 / R-HOURS-2: the daily windows --------------------------------------------------


@pytest.mark.parametrize("day", [at(2026, 11, 25), at(2026, 6, 30), at(2026, 3, 1)])
def test_r_hours_1_every_day_from_0_00_for_a_minute(day: dt.datetime) -> None:
    """R-HOURS-1: 毎日0時から1分程度, 1 minute by default (on a Wednesday, a Tuesday,
    and Sunday 1 March 2026, a 1st Sunday whose eve is no window)."""
    assert_window(CAL, day, day + dt.timedelta(minutes=1), "R-HOURS-1")
    assert CAL.is_open(day + dt.timedelta(minutes=30))


@pytest.mark.parametrize("day", [at(2026, 11, 25), at(2026, 6, 30), at(2026, 3, 1)])
def test_r_hours_2_every_day_from_4_00_for_a_few_minutes(day: dt.datetime) -> None:
    """R-HOURS-2: 毎日4時から数分程度, 5 minutes by default."""
    assert_window(CAL, day.replace(hour=4), day.replace(hour=4, minute=5), "R-HOURS-2")
    assert CAL.is_open(day.replace(hour=3, minute=59))


@pytest.mark.parametrize(
    ("midnight", "early", "midnight_end", "early_end"),
    [
        (3, 10, dt.time(0, 3), dt.time(4, 10)),
        (0.5, 2, dt.time(0, 0, 30), dt.time(4, 2)),
    ],
)
def test_r_hours_1_and_2_durations_are_configurable(
    midnight: float, early: float, midnight_end: dt.time, early_end: dt.time
) -> None:
    """R-HOURS-1/R-HOURS-2: the manual's 「1分程度」 and 「数分程度」 are parameters."""
    calendar = ServiceCalendar(
        default_windows(midnight_minutes=midnight, early_morning_minutes=early)
    )
    day = dt.date(2026, 11, 25)
    assert_window(
        calendar, at(2026, 11, 25), dt.datetime.combine(day, midnight_end, JST), "R-HOURS-1"
    )
    assert_window(
        calendar, at(2026, 11, 25, 4), dt.datetime.combine(day, early_end, JST), "R-HOURS-2"
    )


def test_r_hours_1_and_2_durations_must_be_positive() -> None:
    """R-HOURS-1/R-HOURS-2: a window of no length is a configuration error."""
    with pytest.raises(ValueError, match="R-HOURS-1"):
        default_windows(midnight_minutes=0)
    with pytest.raises(ValueError, match="R-HOURS-2"):
        default_windows(early_morning_minutes=-1)


# R-HOURS-3: 1st and 3rd Monday, 2:00–6:00 ------------------------------------------------


@pytest.mark.parametrize(
    "monday",
    [
        at(2026, 3, 2),  # 1st
        at(2026, 3, 16),  # 3rd
        at(2026, 6, 1),  # 1st, on the 1st
        at(2026, 6, 15),  # 3rd, on the 15th
        at(2026, 9, 7),  # 1st, on the 7th (last day that can be a 1st)
        at(2026, 9, 21),  # 3rd, on the 21st (last day that can be a 3rd)
    ],
)
def test_r_hours_3_first_and_third_monday_2_00_to_6_00(monday: dt.datetime) -> None:
    """R-HOURS-3: 毎月第1および第3月曜日の2:00~6:00 (the 4:00 window lies inside)."""
    assert_window(CAL, monday.replace(hour=2), monday.replace(hour=6), "R-HOURS-3")


@pytest.mark.parametrize(
    "monday",
    [
        at(2026, 3, 9),  # 2nd
        at(2026, 3, 23),  # 4th
        at(2026, 3, 30),  # 5th
        at(2026, 6, 8),  # 2nd, on the 8th (first day that is never a 1st)
        at(2026, 6, 22),  # 4th, on the 22nd (first day that is never a 3rd)
        at(2026, 6, 29),  # 5th
        at(2026, 9, 14),  # 2nd
        at(2026, 9, 28),  # 4th
    ],
)
def test_r_hours_3_not_the_second_fourth_or_fifth_monday(monday: dt.datetime) -> None:
    """R-HOURS-3: only the 1st and 3rd Mondays close at 2:00."""
    for hour, minute in [(2, 0), (3, 0), (5, 59)]:
        assert CAL.is_open(monday.replace(hour=hour, minute=minute))


def test_r_hours_3_not_the_days_around_a_first_monday() -> None:
    """R-HOURS-3: the Sunday before and the Tuesday after 7 September 2026 stay open."""
    assert CAL.is_open(at(2026, 9, 6, 3))
    assert CAL.is_open(at(2026, 9, 8, 3))


def test_r_hours_3_contains_the_4_00_window() -> None:
    """R-HOURS-3 with R-HOURS-2 inside: at 4:00 on a 1st Monday the closure is R-HOURS-3
    (started 2:00) until 6:00, and 4:05 is still closed."""
    closure = closed(CAL, at(2026, 3, 2, 4))
    assert (closure.rule, closure.start, closure.until) == (
        "R-HOURS-3",
        at(2026, 3, 2, 2),
        at(2026, 3, 2, 6),
    )
    assert closed(CAL, at(2026, 3, 2, 4, 5)).rule == "R-HOURS-3"


# R-HOURS-4: the eve of the 2nd and 4th Sunday, 23:50 → 7:00 --------------------------------


@pytest.mark.parametrize(
    ("eve", "sunday"),
    [
        (at(2026, 3, 7), at(2026, 3, 8)),  # month starts on Sunday: eve = 1st Saturday
        (at(2026, 3, 21), at(2026, 3, 22)),  # 4th Sunday of the same month
        (at(2026, 9, 12), at(2026, 9, 13)),  # 2nd
        (at(2026, 9, 26), at(2026, 9, 27)),  # 4th
        (at(2027, 2, 13), at(2027, 2, 14)),  # 2nd Sunday on the 14th: eve = 2nd Saturday
        (at(2027, 2, 27), at(2027, 2, 28)),  # 4th Sunday is the last day of the month
    ],
)
def test_r_hours_4_eve_of_the_2nd_and_4th_sunday(eve: dt.datetime, sunday: dt.datetime) -> None:
    """R-HOURS-4: 毎月第2および第4日曜日の前日23:50~翌7:00."""
    assert eve.weekday() == 5 and sunday.weekday() == 6  # the dates are what they claim
    assert_window(CAL, eve.replace(hour=23, minute=50), sunday.replace(hour=7), "R-HOURS-4")


def test_r_hours_4_a_month_that_starts_on_a_sunday() -> None:
    """R-HOURS-4: March 2026 starts on Sunday the 1st, so the eve of its 2nd Sunday
    (the 8th) is Saturday the 7th, its 1st Saturday; its 2nd Saturday (the 14th,
    eve of the 3rd Sunday) stays open, and so does 28 February (eve of the 1st)."""
    closure = closed(CAL, at(2026, 3, 7, 23, 50))
    assert (closure.rule, closure.until) == ("R-HOURS-4", at(2026, 3, 8, 7))
    assert CAL.is_open(at(2026, 3, 7, 23, 49, 59))
    assert CAL.is_open(at(2026, 3, 14, 23, 55))
    assert CAL.is_open(at(2026, 2, 28, 23, 55))


@pytest.mark.parametrize(
    ("eve", "sunday"),
    [
        (at(2026, 2, 28), at(2026, 3, 1)),  # 1st Sunday, on the 1st: eve in February
        (at(2026, 3, 14), at(2026, 3, 15)),  # 3rd
        (at(2026, 3, 28), at(2026, 3, 29)),  # 5th
        (at(2026, 9, 5), at(2026, 9, 6)),  # 1st
        (at(2026, 9, 19), at(2026, 9, 20)),  # 3rd
        (at(2027, 2, 20), at(2027, 2, 21)),  # 3rd
    ],
)
def test_r_hours_4_not_the_eve_of_the_1st_3rd_or_5th_sunday(
    eve: dt.datetime, sunday: dt.datetime
) -> None:
    """R-HOURS-4: only the 2nd and 4th; that Sunday morning closes only for R-HOURS-1/2."""
    assert CAL.is_open(eve.replace(hour=23, minute=50))
    assert CAL.is_open(sunday - US)
    midnight = closed(CAL, sunday)
    assert (midnight.rule, midnight.until) == ("R-HOURS-1", sunday + dt.timedelta(minutes=1))
    assert CAL.is_open(sunday.replace(minute=1))
    assert CAL.is_open(sunday.replace(hour=3))
    assert CAL.is_open(sunday.replace(hour=6, minute=59))


@pytest.mark.parametrize(
    "probe",
    [
        at(2026, 3, 22, 0, 0),
        at(2026, 3, 22, 0, 0, 30),
        at(2026, 3, 22, 4, 0),
        at(2026, 3, 22, 4, 2),
    ],
)
def test_r_hours_4_swallows_the_daily_windows(probe: dt.datetime) -> None:
    """R-HOURS-4 with R-HOURS-1 and R-HOURS-2 inside: one closure, named for the eve
    window, until 7:00 (not 0:01 or 4:05)."""
    closure = closed(CAL, probe)
    assert (closure.rule, closure.start, closure.until) == (
        "R-HOURS-4",
        at(2026, 3, 21, 23, 50),
        at(2026, 3, 22, 7),
    )
    assert CAL.next_open(probe) == at(2026, 3, 22, 7)


# R-HOURS-5: 1–3 January ------------------------------------------------------------------


@pytest.mark.parametrize("day", [1, 2, 3])
def test_r_hours_5_new_year_mornings_0_00_to_8_00(day: int) -> None:
    """R-HOURS-5: 1月1日~3日の0:00~8:00 (2026). At 0:00 the closure is R-HOURS-5 until
    8:00: the 1-minute R-HOURS-1 window lies inside it."""
    closure = closed(CAL, at(2026, 1, day))
    assert (closure.rule, closure.start, closure.until) == (
        "R-HOURS-5",
        at(2026, 1, day),
        at(2026, 1, day, 8),
    )
    for probe in (at(2026, 1, day, 0, 1), at(2026, 1, day, 4, 5), at(2026, 1, day, 8) - US):
        assert closed(CAL, probe).rule == "R-HOURS-5"
    assert CAL.is_open(at(2026, 1, day, 8))


def test_r_hours_5_opens_1_microsecond_before_new_year() -> None:
    """R-HOURS-5: 31 December 23:59:59.999999 (a Wednesday in 2025) is open."""
    assert CAL.is_open(at(2026, 1, 1) - US)
    assert CAL.is_open(at(2025, 12, 31, 19, 30))  # no evening window on 31 December


@pytest.mark.parametrize("day", [1, 2, 3])
def test_r_hours_5_new_year_evenings_19_00_to_24_00(day: int) -> None:
    """R-HOURS-5: 1月1日~3日の19:00~24:00 (2026)."""
    assert CAL.is_open(at(2026, 1, day, 19) - US)
    closure = closed(CAL, at(2026, 1, day, 19))
    assert (closure.rule, closure.start) == ("R-HOURS-5", at(2026, 1, day, 19))
    assert closed(CAL, at(2026, 1, day + 1) - US).rule == "R-HOURS-5"


@pytest.mark.parametrize(
    ("evening", "reopens"),
    [
        (at(2026, 1, 1, 19), at(2026, 1, 2, 8)),
        (at(2026, 1, 2, 19), at(2026, 1, 3, 8)),
        (at(2026, 1, 3, 19), at(2026, 1, 4, 0, 1)),
    ],
)
def test_r_hours_5_evening_runs_on_into_the_next_window(
    evening: dt.datetime, reopens: dt.datetime
) -> None:
    """R-HOURS-5: the evening window touches the next morning's: until is the real
    reopening, 8:00 on 2 and 3 January, 0:01 on 4 January (where R-HOURS-1 ends)."""
    for probe in (evening, evening.replace(hour=23, minute=59)):
        assert closed(CAL, probe).until == reopens
        assert CAL.next_open(probe) == reopens
    assert closed(CAL, reopens - US) is not None
    assert CAL.is_open(reopens)


def test_r_hours_5_not_4_january() -> None:
    """R-HOURS-5 ends with 3 January: 4 January 2026 (a 1st Sunday) closes only for
    R-HOURS-1 at 0:00 and R-HOURS-2 at 4:00."""
    midnight = closed(CAL, at(2026, 1, 4))
    assert (midnight.rule, midnight.start, midnight.until) == (
        "R-HOURS-1",
        at(2026, 1, 4),
        at(2026, 1, 4, 0, 1),
    )
    for hour, minute in [(0, 1), (1, 0), (3, 59), (4, 5), (7, 59), (19, 0), (23, 59)]:
        assert CAL.is_open(at(2026, 1, 4, hour, minute)), (hour, minute)
    assert closed(CAL, at(2026, 1, 4, 4)).rule == "R-HOURS-2"


def test_r_hours_5_not_4_january_even_on_a_first_monday() -> None:
    """R-HOURS-5 / R-HOURS-3: 4 January 2027 is a 1st Monday: closed 2:00–6:00 by
    R-HOURS-3, but open at 1:00 and 7:00."""
    assert closed(CAL, at(2027, 1, 4)).rule == "R-HOURS-1"
    assert CAL.is_open(at(2027, 1, 4, 1))
    assert closed(CAL, at(2027, 1, 4, 2)).rule == "R-HOURS-3"
    assert CAL.is_open(at(2027, 1, 4, 7))


def test_r_hours_5_contains_a_first_monday() -> None:
    """R-HOURS-5 with R-HOURS-3 and R-HOURS-2 inside: 1 January 2029 is a Monday (a 1st
    Monday); closed 0:00–8:00 as one R-HOURS-5 closure."""
    for probe in (at(2029, 1, 1, 2), at(2029, 1, 1, 4), at(2029, 1, 1, 6)):
        closure = closed(CAL, probe)
        assert (closure.rule, closure.start, closure.until) == (
            "R-HOURS-5",
            at(2029, 1, 1),
            at(2029, 1, 1, 8),
        )


# R-HOURS-6: ad-hoc maintenance -----------------------------------------------------------


def test_r_hours_6_ad_hoc_maintenance() -> None:
    """R-HOURS-6: an announced window, closed at its start, open at its end."""
    calendar = ServiceCalendar()
    added = calendar.add_maintenance(at(2026, 12, 5, 13), at(2026, 12, 5, 15), "臨時メンテナンス")
    assert added == Closure(
        "R-HOURS-6", "臨時メンテナンス", at(2026, 12, 5, 13), at(2026, 12, 5, 15)
    )
    assert_window(calendar, at(2026, 12, 5, 13), at(2026, 12, 5, 15), "R-HOURS-6")
    assert closed(calendar, at(2026, 12, 5, 14)).label == "臨時メンテナンス"
    assert CAL.is_open(at(2026, 12, 5, 14))  # another calendar is not affected
    calendar.clear_maintenance()
    assert calendar.is_open(at(2026, 12, 5, 14))


def test_r_hours_6_default_label() -> None:
    """R-HOURS-6: without a label the window is 「その他システムメンテナンス」."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 12, 5, 13), at(2026, 12, 5, 15))
    assert closed(calendar, at(2026, 12, 5, 13)).label == "その他システムメンテナンス"


def test_r_hours_6_given_in_utc_is_kept_in_jst() -> None:
    """R-HOURS-6: 04:00–06:00 UTC is 13:00–15:00 JST."""
    calendar = ServiceCalendar()
    added = calendar.add_maintenance(
        dt.datetime(2026, 12, 5, 4, tzinfo=dt.UTC), dt.datetime(2026, 12, 5, 6, tzinfo=dt.UTC)
    )
    assert added.start.utcoffset() == NINE_HOURS and added.start.hour == 13
    assert_window(calendar, at(2026, 12, 5, 13), at(2026, 12, 5, 15), "R-HOURS-6")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(2026, 12, 5, 15), at(2026, 12, 5, 15)),  # end == start
        (at(2026, 12, 5, 15), at(2026, 12, 5, 13)),  # end < start
        # end given in UTC: 06:00 UTC is 15:00 JST, the same instant as the start
        (at(2026, 12, 5, 15), dt.datetime(2026, 12, 5, 6, tzinfo=dt.UTC)),
    ],
)
def test_r_hours_6_rejected_when_it_ends_before_it_starts(
    start: dt.datetime, end: dt.datetime
) -> None:
    """R-HOURS-6: end <= start is refused, and nothing is added."""
    calendar = ServiceCalendar()
    with pytest.raises(ValueError, match="end after"):
        calendar.add_maintenance(start, end)
    assert calendar.maintenance == []


def test_r_hours_6_naive_datetimes_are_rejected() -> None:
    """R-HOURS-6: a naive start or end is refused, never guessed to be JST."""
    calendar = ServiceCalendar()
    naive = dt.datetime(2026, 12, 5, 13)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="naive"):
        calendar.add_maintenance(naive, at(2026, 12, 5, 15))
    with pytest.raises(ValueError, match="naive"):
        calendar.add_maintenance(at(2026, 12, 5, 13), naive.replace(hour=15))
    assert calendar.maintenance == []


def test_r_hours_6_overlapping_a_window_extends_the_closure() -> None:
    """R-HOURS-6 + R-HOURS-4: maintenance 6:00–9:00 on the 2nd Sunday of March 2026
    overlaps the eve window: closed from Saturday 23:50 until 9:00."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 3, 8, 6), at(2026, 3, 8, 9))
    eve = closed(calendar, at(2026, 3, 7, 23, 50))
    assert (eve.rule, eve.until) == ("R-HOURS-4", at(2026, 3, 8, 9))
    later = closed(calendar, at(2026, 3, 8, 7))
    assert (later.rule, later.start, later.until) == (
        "R-HOURS-6",
        at(2026, 3, 8, 6),
        at(2026, 3, 8, 9),
    )
    assert calendar.is_open(at(2026, 3, 8, 9))


def test_r_hours_6_touching_a_window_chains_on() -> None:
    """R-HOURS-6 + R-HOURS-4: maintenance 22:00–23:50 on the eve runs straight into the
    eve window: the closure at 22:00 lasts until Sunday 7:00."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 3, 7, 22), at(2026, 3, 7, 23, 50))
    closure = closed(calendar, at(2026, 3, 7, 22))
    assert (closure.rule, closure.until) == ("R-HOURS-6", at(2026, 3, 8, 7))
    assert calendar.next_open(at(2026, 3, 7, 23)) == at(2026, 3, 8, 7)


def test_r_hours_6_touching_the_end_of_a_window_chains_on() -> None:
    """R-HOURS-6 + R-HOURS-5 + R-HOURS-1: maintenance 0:01–1:00 on 4 January 2026 chains
    on from the 3 January evening (19:00 → 24:00 → 0:01)."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 1, 4, 0, 1), at(2026, 1, 4, 1))
    closure = closed(calendar, at(2026, 1, 3, 19))
    assert (closure.rule, closure.until) == ("R-HOURS-5", at(2026, 1, 4, 1))


def test_r_hours_6_inside_a_window_changes_nothing() -> None:
    """R-HOURS-6 inside R-HOURS-4: the closure is still R-HOURS-4 until 7:00."""
    calendar = ServiceCalendar()
    calendar.add_maintenance(at(2026, 3, 8, 1), at(2026, 3, 8, 2))
    closure = closed(calendar, at(2026, 3, 8, 1, 30))
    assert (closure.rule, closure.until) == ("R-HOURS-4", at(2026, 3, 8, 7))


# Time zones and next_open ----------------------------------------------------------------


def test_r_hours_an_instant_in_utc_is_judged_in_jst() -> None:
    """R-HOURS-4 in UTC: 14:50 UTC on 7 March 2026 is 23:50 JST, the eve window; 23:50
    UTC that day is 8:50 JST on Sunday, open."""
    closure = closed(CAL, dt.datetime(2026, 3, 7, 14, 50, tzinfo=dt.UTC))
    assert (closure.rule, closure.until) == ("R-HOURS-4", at(2026, 3, 8, 7))
    assert closure.until.utcoffset() == NINE_HOURS
    assert CAL.is_open(dt.datetime(2026, 3, 7, 23, 50, tzinfo=dt.UTC))


def test_r_hours_new_year_in_utc_and_new_york() -> None:
    """R-HOURS-5 in other zones: 15:00 UTC on 31 December 2025 is 0:00 JST on 1 January;
    19:00 JST on 1 January 2026 is 05:00 in New York the same day."""
    closure = closed(CAL, dt.datetime(2025, 12, 31, 15, tzinfo=dt.UTC))
    assert (closure.rule, closure.until) == ("R-HOURS-5", at(2026, 1, 1, 8))
    assert CAL.is_open(dt.datetime(2025, 12, 31, 14, 59, 59, tzinfo=dt.UTC))
    new_york = ZoneInfo("America/New_York")
    assert closed(CAL, dt.datetime(2026, 1, 1, 5, tzinfo=new_york)).rule == "R-HOURS-5"
    assert CAL.is_open(dt.datetime(2026, 1, 1, 4, 59, tzinfo=new_york))


def test_r_hours_naive_instants_are_rejected() -> None:
    """R-HOURS: a naive instant is refused rather than guessed to be JST."""
    naive = dt.datetime(2026, 3, 7, 23, 55)  # noqa: DTZ001 - the point of the test
    for query in (CAL.closure_at, CAL.is_open, CAL.next_open):
        with pytest.raises(ValueError, match="naive"):
            query(naive)


def test_r_hours_next_open() -> None:
    """R-HOURS: next_open is the instant itself when open, the real reopening when closed,
    and always in JST."""
    assert CAL.next_open(at(2026, 11, 24, 10)) == at(2026, 11, 24, 10)
    assert CAL.next_open(at(2026, 3, 7, 23, 51)) == at(2026, 3, 8, 7)
    assert CAL.next_open(at(2026, 1, 1, 19, 30)) == at(2026, 1, 2, 8)
    reopening = CAL.next_open(dt.datetime(2026, 11, 24, 1, tzinfo=dt.UTC))
    assert reopening == at(2026, 11, 24, 10) and reopening.utcoffset() == NINE_HOURS


def test_a_calendar_never_open_again_still_answers() -> None:
    """A daily window of a whole day chains forever; the answer stops a year on."""
    calendar = ServiceCalendar(default_windows(midnight_minutes=24 * 60))
    t = dt.datetime(2026, 1, 5, 12, tzinfo=JST)
    closure = calendar.closure_at(t)
    assert closure is not None and closure.until - t >= dt.timedelta(days=366)
