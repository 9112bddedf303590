"""Property tests of the calendar against an independently written oracle (R-HOURS-1..5).

The oracle below is written from the manual's list (FAQ 3-Q1), not from
``hours.py``: it counts weekdays with ``calendar.monthcalendar`` and states
each window as a condition on the instant, so a mistake in the data-driven
implementation shows up as a disagreement.
"""

from __future__ import annotations

import calendar
import datetime as dt

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.core.clock import JST
from simulator.core.hours import ServiceCalendar

pytestmark = pytest.mark.property

CAL = ServiceCalendar()


def nth_weekdays(year: int, month: int, weekday: int) -> list[int]:
    """Days of the month that fall on ``weekday``, in order (monthcalendar pads with 0)."""
    return [week[weekday] for week in calendar.monthcalendar(year, month) if week[weekday]]


def oracle_reasons(t: dt.datetime) -> set[str]:
    """Every rule of FAQ 3-Q1 under which the JST instant ``t`` is closed."""
    d, clock = t.date(), t.time()
    reasons = set()
    if clock < dt.time(0, 1):
        reasons.add("R-HOURS-1")
    if dt.time(4, 0) <= clock < dt.time(4, 5):
        reasons.add("R-HOURS-2")
    mondays = nth_weekdays(d.year, d.month, calendar.MONDAY)
    if d.day in (mondays[0], mondays[2]) and dt.time(2) <= clock < dt.time(6):
        reasons.add("R-HOURS-3")
    tomorrow = d + dt.timedelta(days=1)
    sundays_next = nth_weekdays(tomorrow.year, tomorrow.month, calendar.SUNDAY)
    if tomorrow.day in (sundays_next[1], sundays_next[3]) and clock >= dt.time(23, 50):
        reasons.add("R-HOURS-4")
    sundays = nth_weekdays(d.year, d.month, calendar.SUNDAY)
    if d.day in (sundays[1], sundays[3]) and clock < dt.time(7):
        reasons.add("R-HOURS-4")
    if d.month == 1 and d.day <= 3 and (clock < dt.time(8) or clock >= dt.time(19)):
        reasons.add("R-HOURS-5")
    return reasons


EDGES = [dt.time(h, m) for h, m in [(0, 0), (0, 1), (2, 0), (4, 0), (4, 5), (6, 0), (7, 0),
                                    (8, 0), (19, 0), (23, 50)]]  # fmt: skip


@st.composite
def instants(draw: st.DrawFn) -> dt.datetime:
    """Random JST instants across 2020–2035, most of them within a second of an edge."""
    day = draw(st.dates(dt.date(2020, 1, 1), dt.date(2035, 12, 31)))
    if draw(st.booleans()):
        base = dt.datetime.combine(day, draw(st.sampled_from(EDGES)), tzinfo=JST)
        shift = draw(st.integers(-2_000_000, 2_000_000))  # ±2 s in microseconds
        return base + dt.timedelta(microseconds=shift)
    return dt.datetime.combine(day, draw(st.times()), tzinfo=JST)


def jst(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=JST)  # type: ignore[arg-type, misc]


@settings(max_examples=1500, deadline=None)
@given(t=instants())
@example(t=jst(2026, 3, 7, 23, 50))  # eve of a 2nd Sunday on a 1st Saturday
@example(t=jst(2026, 3, 7, 23, 49, 59, 999999))
@example(t=jst(2026, 3, 14, 23, 55))  # 2nd Saturday of that month: open
@example(t=jst(2027, 1, 2, 7, 59, 59))  # 1–3 January
@example(t=jst(2027, 1, 3, 19, 0))
@example(t=jst(2027, 1, 4, 0, 0, 30))
@example(t=jst(2026, 3, 2, 2, 0))  # 1st Monday
@example(t=jst(2026, 3, 16, 5, 59, 59))  # 3rd Monday
@example(t=jst(2026, 3, 9, 2, 30))  # 2nd Monday: open
def test_calendar_agrees_with_the_oracle(t: dt.datetime) -> None:
    """R-HOURS-1..5: closed exactly when the oracle finds a reason."""
    closure = CAL.closure_at(t)
    reasons = oracle_reasons(t)
    assert (closure is None) == (not reasons), (t, reasons, closure)


@settings(max_examples=400, deadline=None)
@given(t=instants(), fractions=st.lists(st.floats(0, 1, exclude_max=True), max_size=8))
def test_closed_until_the_reopening(t: dt.datetime, fractions: list[float]) -> None:
    """Closed at t: every sampled instant up to ``until`` is closed, ``until`` is open,
    and the rule named is one the oracle finds in force at the closure's start."""
    closure = CAL.closure_at(t)
    if closure is None:
        assert CAL.next_open(t) == t
        return
    assert closure.start <= t < closure.until
    assert CAL.is_open(closure.until) and CAL.next_open(t) == closure.until
    assert oracle_reasons(closure.until) == set()
    span = closure.until - t
    for f in fractions:
        # timedelta * float rounds to the microsecond: keep the probe before ``until``.
        probe = min(t + span * f, closure.until - dt.timedelta(microseconds=1))
        assert oracle_reasons(probe), probe
    assert closure.rule in oracle_reasons(closure.start)


@settings(max_examples=300, deadline=None)
@given(t=instants())
def test_the_same_instant_in_utc_gets_the_same_answer(t: dt.datetime) -> None:
    assert CAL.closure_at(t.astimezone(dt.UTC)) == CAL.closure_at(t)
