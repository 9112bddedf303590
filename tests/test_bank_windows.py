"""A bank's own recurring windows on top of the platform's calendar (INTERFACE.md §10).

A credit union on the shared platform may close on days of its own (毎月第2土曜日
1:00~5:00, 毎月15日 22:00~翌2:00, 月末); R-HOURS-1..5 stay the platform's and
must close exactly as before. Dates checked with Python's ``calendar`` module:
December 2026 starts on a Tuesday (Saturdays 5, 12, 19, 26); February 2027 has
28 days, February 2028 29; 15 January 2027 is a Friday.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.bank import BankRules
from simulator.core.clock import JST
from simulator.core.hours import (
    DEFAULT_WINDOWS,
    OWN_WINDOW_RULE,
    DaysOfMonth,
    NthWeekday,
    ServiceCalendar,
    Window,
)

SATURDAY = 5
US = dt.timedelta(microseconds=1)
SECOND_SATURDAY = Window(
    OWN_WINDOW_RULE, NthWeekday(SATURDAY, (2,)), dt.time(1, 0), dt.timedelta(hours=4), "第2土曜"
)
FIFTEENTH_NIGHT = Window(
    OWN_WINDOW_RULE, DaysOfMonth((15,)), dt.time(22, 0), dt.timedelta(hours=4), "15日夜"
)
MONTH_END = Window(
    OWN_WINDOW_RULE, DaysOfMonth(last=True), dt.time(21, 0), dt.timedelta(hours=3), "月末"
)
OWN = (SECOND_SATURDAY, FIFTEENTH_NIGHT, MONTH_END)
PLATFORM = ServiceCalendar(DEFAULT_WINDOWS)
BANK = ServiceCalendar((*DEFAULT_WINDOWS, *OWN))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=JST)


@pytest.mark.parametrize(
    ("selector", "day", "expected"),
    [
        (DaysOfMonth((15,)), dt.date(2027, 1, 15), True),
        (DaysOfMonth((15,)), dt.date(2027, 1, 16), False),
        (DaysOfMonth((31,)), dt.date(2026, 4, 30), False),  # the 31st never slides back
        (DaysOfMonth(last=True), dt.date(2027, 2, 28), True),
        (DaysOfMonth(last=True), dt.date(2028, 2, 28), False),
        (DaysOfMonth(last=True), dt.date(2028, 2, 29), True),
        (DaysOfMonth(last=True), dt.date(2026, 12, 31), True),
        (DaysOfMonth((5,), last=True), dt.date(2026, 12, 5), True),
    ],
)
def test_days_of_month(selector: DaysOfMonth, day: dt.date, expected: bool) -> None:
    assert selector.matches(day) is expected


@pytest.mark.parametrize(("days", "last"), [((), False), ((0,), False), ((32,), True)])
def test_days_of_month_refuses_no_day_or_an_impossible_one(
    days: tuple[int, ...], last: bool
) -> None:
    with pytest.raises(ValueError, match="day of the month"):
        DaysOfMonth(days, last)


def test_a_bank_window_closes_on_its_days_under_r_hours_6() -> None:
    start, end = at(2026, 12, 12, 1), at(2026, 12, 12, 5)
    assert BANK.is_open(start - US)
    closure = BANK.closure_at(start)
    assert closure is not None
    assert (closure.rule, closure.label, closure.start, closure.until) == (
        OWN_WINDOW_RULE,
        "第2土曜",
        start,
        end,
    )
    assert BANK.is_open(end)
    assert BANK.is_open(at(2026, 12, 5, 2))  # the 1st Saturday: no window
    assert PLATFORM.is_open(start)  # the platform alone is open then


def test_a_platform_window_inside_the_banks_is_one_closure_until_the_later_end() -> None:
    """R-HOURS-2 (4:00 for 5 minutes) lies inside 1:00~5:00: closed until 5:00."""
    closure = BANK.closure_at(at(2026, 12, 12, 4, 2))
    assert closure is not None
    assert (closure.rule, closure.until) == (OWN_WINDOW_RULE, at(2026, 12, 12, 5))
    platform = PLATFORM.closure_at(at(2026, 12, 12, 4, 2))
    assert platform is not None and platform.rule == "R-HOURS-2"


def test_a_bank_window_runs_over_midnight() -> None:
    """毎月15日 22:00~翌2:00: closed across 0:00, where R-HOURS-1 lies inside it."""
    for instant in (at(2027, 1, 15, 22), at(2027, 1, 15, 23, 59), at(2027, 1, 16, 1, 59)):
        closure = BANK.closure_at(instant)
        assert closure is not None
        assert (closure.rule, closure.until) == (OWN_WINDOW_RULE, at(2027, 1, 16, 2))
    assert BANK.is_open(at(2027, 1, 16, 2))
    assert BANK.next_open(at(2027, 1, 15, 23)) == at(2027, 1, 16, 2)


def test_a_month_end_window_on_the_last_day_of_february() -> None:
    assert not BANK.is_open(at(2027, 2, 28, 21))
    assert BANK.is_open(at(2028, 2, 28, 21))
    assert not BANK.is_open(at(2028, 2, 29, 23, 59))


def test_bank_rules_tell_their_own_windows_from_the_platforms() -> None:
    rules = BankRules(windows=(*DEFAULT_WINDOWS, *OWN))
    assert rules.own_windows == OWN
    assert BankRules().own_windows == ()


INSTANTS = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),  # noqa: DTZ001 (made JST below)
    max_value=dt.datetime(2030, 12, 31),  # noqa: DTZ001
).map(lambda t: t.replace(tzinfo=JST))


@settings(max_examples=400, deadline=None)
@given(INSTANTS)
def test_own_windows_only_add_closed_time(instant: dt.datetime) -> None:
    """Where the platform is closed, the bank is too, at least as long; where the
    bank is closed and the platform open, one of the bank's own windows is in force
    (R-HOURS-1..5 themselves never change)."""
    platform, bank = PLATFORM.closure_at(instant), BANK.closure_at(instant)
    if platform is not None:
        assert bank is not None and bank.until >= platform.until
    elif bank is not None:
        own = ServiceCalendar(OWN).closure_at(instant)
        assert own is not None and own.rule == OWN_WINDOW_RULE
