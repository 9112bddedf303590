"""Property tests of the calendar against an independently written oracle (R-HOURS-1..6).

The oracle below is written from the manual's list (FAQ 3-Q1), not from
``hours.py``: it uses none of its selectors or windows. It states each rule as
a condition on the JST instant (time of day, weekday, which Monday of the month
by ``calendar.monthcalendar``, which Sunday by counting the Sundays so far) and
names the window it lies in, so ``is_open``, ``closure_at`` and ``next_open``
can each be checked against it.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import NamedTuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulator.core.clock import JST
from simulator.core.hours import ServiceCalendar, default_windows

pytestmark = pytest.mark.property

CAL = ServiceCalendar()
US = dt.timedelta(microseconds=1)
FIRST_DAY, LAST_DAY = dt.date(2020, 1, 1), dt.date(2035, 12, 31)


class Hit(NamedTuple):
    """One rule under which an instant is closed, and that rule's window [start, end)."""

    rule: str
    start: dt.datetime
    end: dt.datetime


def jst(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    micro: int = 0,
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=JST)


def on(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return jst(day.year, day.month, day.day) + dt.timedelta(hours=hour, minutes=minute)


def is_first_or_third_monday(day: dt.date) -> bool:
    """Read off the month's grid: column 0 is Monday, empty cells are 0."""
    mondays = [week[0] for week in calendar.monthcalendar(day.year, day.month) if week[0]]
    return day.day in (mondays[0], mondays[2])


def is_second_or_fourth_sunday(day: dt.date) -> bool:
    """Count the Sundays of the month up to and including ``day``."""
    if calendar.weekday(day.year, day.month, day.day) != calendar.SUNDAY:
        return False
    sundays = sum(
        calendar.weekday(day.year, day.month, d) == calendar.SUNDAY for d in range(1, day.day + 1)
    )
    return sundays in (2, 4)


def oracle_hits(
    instant: dt.datetime,
    midnight_minutes: float = 1,
    early_morning_minutes: float = 5,
    maintenance: tuple[tuple[dt.datetime, dt.datetime], ...] = (),
) -> list[Hit]:
    """Every rule of FAQ 3-Q1 under which ``instant`` is closed, with its window."""
    t = instant.astimezone(JST)
    d, clock = t.date(), t.time()
    yesterday, tomorrow = d - dt.timedelta(days=1), d + dt.timedelta(days=1)
    since_midnight = t - on(d, 0)
    hits: list[Hit] = []
    # R-HOURS-1: every day from 0:00 for about a minute
    if since_midnight < dt.timedelta(minutes=midnight_minutes):
        hits.append(Hit("R-HOURS-1", on(d, 0), on(d, 0) + dt.timedelta(minutes=midnight_minutes)))
    # R-HOURS-2: every day from 4:00 for a few minutes
    if (
        dt.timedelta(hours=4)
        <= since_midnight
        < dt.timedelta(hours=4, minutes=early_morning_minutes)
    ):
        hits.append(
            Hit("R-HOURS-2", on(d, 4), on(d, 4) + dt.timedelta(minutes=early_morning_minutes))
        )
    # R-HOURS-3: 1st and 3rd Monday, 2:00-6:00
    if is_first_or_third_monday(d) and dt.time(2) <= clock < dt.time(6):
        hits.append(Hit("R-HOURS-3", on(d, 2), on(d, 6)))
    # R-HOURS-4: the day before the 2nd and 4th Sunday, 23:50 until 7:00 next morning
    if clock >= dt.time(23, 50) and is_second_or_fourth_sunday(tomorrow):
        hits.append(Hit("R-HOURS-4", on(d, 23, 50), on(tomorrow, 7)))
    if clock < dt.time(7) and is_second_or_fourth_sunday(d):
        hits.append(Hit("R-HOURS-4", on(yesterday, 23, 50), on(d, 7)))
    # R-HOURS-5: 1-3 January, 0:00-8:00 and 19:00-24:00
    if d.month == 1 and 1 <= d.day <= 3:
        if clock < dt.time(8):
            hits.append(Hit("R-HOURS-5", on(d, 0), on(d, 8)))
        if clock >= dt.time(19):
            hits.append(Hit("R-HOURS-5", on(d, 19), on(tomorrow, 0)))
    # R-HOURS-6: announced maintenance
    hits.extend(Hit("R-HOURS-6", a, b) for a, b in maintenance if a <= t < b)
    return hits


def oracle_reasons(instant: dt.datetime) -> set[str]:
    return {hit.rule for hit in oracle_hits(instant)}


def oracle_reopening(
    instant: dt.datetime,
    midnight_minutes: float = 1,
    early_morning_minutes: float = 5,
    maintenance: tuple[tuple[dt.datetime, dt.datetime], ...] = (),
) -> dt.datetime:
    """The first instant at or after ``instant`` at which no rule closes the service."""
    t = instant
    while hits := oracle_hits(t, midnight_minutes, early_morning_minutes, maintenance):
        t = max(hit.end for hit in hits)
    return t


def oracle_namers(hits: list[Hit]) -> set[tuple[str, dt.datetime]]:
    """(rule, start) the closure may be named for: the window in force that started
    first; of those that started together, the longest (it contains the others)."""
    start = min(hit.start for hit in hits)
    end = max(hit.end for hit in hits if hit.start == start)
    return {(hit.rule, hit.start) for hit in hits if (hit.start, hit.end) == (start, end)}


# Strategies ------------------------------------------------------------------------------

#: The manual's edges as times after midnight: 0:00, 0:01, 2:00, 4:00, 4:05, 6:00, 7:00,
#: 8:00, 19:00, 23:50.
EDGE_MINUTES = [0, 1, 120, 240, 245, 360, 420, 480, 1140, 1430]
EDGES = [dt.timedelta(minutes=m) for m in EDGE_MINUTES]
YEARS = st.integers(FIRST_DAY.year, LAST_DAY.year)
DAYS = st.one_of(
    st.dates(FIRST_DAY, LAST_DAY),
    st.builds(dt.date, YEARS, st.just(1), st.integers(1, 4)),  # New Year and the day after
    st.builds(dt.date, YEARS, st.integers(1, 12), st.integers(1, 28)),  # any month, evenly
)
SHIFTS = st.one_of(
    st.sampled_from([-1, 0, 1]),  # the edge itself and 1 µs either side
    st.integers(-2_000_000, 2_000_000),  # within 2 s
    st.integers(-600_000_000, 600_000_000),  # within 10 min
)


@st.composite
def instants(draw: st.DrawFn) -> dt.datetime:
    """JST instants across 2020-2035, most of them near a window's edge."""
    midnight = on(draw(DAYS), 0)
    if draw(st.integers(0, 3)):
        edge = draw(st.sampled_from(EDGES))
        return midnight + edge + dt.timedelta(microseconds=draw(SHIFTS))
    return midnight + dt.timedelta(microseconds=draw(st.integers(0, 86_400_000_000 - 1)))


# Properties ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(t=instants())
@example(t=jst(2026, 3, 7, 23, 50))  # eve of a 2nd Sunday on a 1st Saturday (March 2026)
@example(t=jst(2026, 3, 7, 23, 49, 59, 999_999))
@example(t=jst(2026, 3, 8, 6, 59, 59, 999_999))
@example(t=jst(2026, 3, 8, 7))
@example(t=jst(2026, 3, 14, 23, 55))  # 2nd Saturday of that month: open
@example(t=jst(2026, 11, 7, 23, 50))  # November 2026 starts on a Sunday too
@example(t=jst(2027, 2, 27, 23, 50))  # eve of a 4th Sunday that is the month's last day
@example(t=jst(2026, 1, 1, 0, 0))  # 1-3 January
@example(t=jst(2026, 1, 1, 7, 59, 59, 999_999))
@example(t=jst(2026, 1, 1, 8))
@example(t=jst(2026, 1, 2, 18, 59, 59, 999_999))
@example(t=jst(2026, 1, 3, 19))
@example(t=jst(2026, 1, 3, 23, 59, 59, 999_999))
@example(t=jst(2026, 1, 4, 0, 0, 30))
@example(t=jst(2026, 1, 4, 3))  # not 4 January
@example(t=jst(2029, 1, 1, 2))  # 1 January on a 1st Monday
@example(t=jst(2026, 3, 2, 2))  # 1st and 3rd Mondays
@example(t=jst(2026, 3, 16, 5, 59, 59, 999_999))
@example(t=jst(2026, 3, 16, 6))
@example(t=jst(2026, 9, 7, 2))  # 1st Monday on the 7th
@example(t=jst(2026, 9, 21, 3))  # 3rd Monday on the 21st
@example(t=jst(2026, 3, 9, 2, 30))  # 2nd Monday: open
@example(t=jst(2026, 6, 8, 3))  # 2nd Monday on the 8th: open
def test_is_open_agrees_with_the_oracle(t: dt.datetime) -> None:
    """R-HOURS-1..5: closed exactly when the oracle finds a reason."""
    reasons = oracle_reasons(t)
    assert CAL.is_open(t) == (not reasons), (t, reasons, CAL.closure_at(t))


@settings(max_examples=300, deadline=None)
@given(t=instants(), fractions=st.lists(st.floats(0, 1, exclude_max=True), max_size=8))
@example(t=jst(2026, 1, 1, 0, 0), fractions=[])  # R-HOURS-5 contains R-HOURS-1
@example(t=jst(2026, 1, 1, 19), fractions=[0.5, 0.99])  # evening into the next morning
@example(t=jst(2026, 1, 3, 23, 59), fractions=[0.5])  # evening into 4 January 0:01
@example(t=jst(2026, 3, 8, 4, 2), fractions=[0.5])  # R-HOURS-4 contains R-HOURS-2
@example(t=jst(2026, 3, 2, 4), fractions=[0.5])  # R-HOURS-3 contains R-HOURS-2
def test_closed_until_next_open(t: dt.datetime, fractions: list[float]) -> None:
    """R-HOURS-1..5: when closed, next_open(t) is open, every sampled instant before it is
    closed, and it is the oracle's reopening; the rule named is one of the oracle's
    reasons at t (the window that started first). When open, next_open(t) is t."""
    hits = oracle_hits(t)
    closure = CAL.closure_at(t)
    reopening = CAL.next_open(t)
    if closure is None:
        assert not hits and reopening == t
        return
    assert hits, (t, closure)
    assert reopening == closure.until == oracle_reopening(t)
    assert closure.start <= t < reopening
    assert CAL.is_open(reopening) and not oracle_hits(reopening)
    assert not CAL.is_open(reopening - US) and oracle_hits(reopening - US)
    for f in fractions:
        # timedelta * float rounds to the microsecond: keep the probe before the reopening.
        probe = min(t + (reopening - t) * f, reopening - US)
        assert not CAL.is_open(probe) and oracle_hits(probe), probe
    assert closure.rule in {hit.rule for hit in hits}
    assert (closure.rule, closure.start) in oracle_namers(hits), (t, closure, hits)


OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))


@settings(max_examples=200, deadline=None)
@given(t=instants(), zone=st.one_of(st.just(dt.UTC), OFFSETS))
@example(t=jst(2026, 3, 7, 23, 50), zone=dt.UTC)
@example(t=jst(2026, 1, 1, 0, 0), zone=dt.UTC)
def test_the_same_instant_in_another_zone_gets_the_same_answer(
    t: dt.datetime, zone: dt.tzinfo
) -> None:
    """R-HOURS: the calendar is JST whatever zone the instant is written in."""
    elsewhere = t.astimezone(zone)
    assert elsewhere == t
    closure = CAL.closure_at(elsewhere)
    assert closure == CAL.closure_at(t)
    assert CAL.next_open(elsewhere) == CAL.next_open(t)
    assert CAL.next_open(elsewhere).utcoffset() == dt.timedelta(hours=9)


#: Ad-hoc windows as (start, length) in seconds relative to t: from a day before to a few
#: hours after, lasting a second to two days.
MAINTENANCE = st.lists(
    st.tuples(st.integers(-86_400, 4 * 3_600), st.integers(1, 2 * 86_400)), max_size=2
)


@settings(max_examples=200, deadline=None)
@given(
    t=instants(),
    midnight=st.integers(1, 150),
    early=st.integers(1, 180),
    relative=MAINTENANCE,
)
@example(t=jst(2026, 3, 2, 0, 30), midnight=120, early=5, relative=[])  # touches R-HOURS-3
@example(t=jst(2026, 3, 2, 2), midnight=1, early=150, relative=[])  # outlasts R-HOURS-3
@example(t=jst(2026, 3, 7, 22), midnight=1, early=5, relative=[(0, 6_000)])  # into R-HOURS-4
@example(t=jst(2026, 3, 8, 6), midnight=1, early=5, relative=[(0, 10_800)])  # out of it
def test_configured_calendars_agree_with_the_oracle(
    t: dt.datetime, midnight: int, early: int, relative: list[tuple[int, int]]
) -> None:
    """R-HOURS-1/2 with other durations, and R-HOURS-6 windows near t: open/closed,
    the reopening and the rule named all agree with the oracle."""
    maintenance = tuple(
        (t + dt.timedelta(seconds=offset), t + dt.timedelta(seconds=offset + length))
        for offset, length in relative
    )
    configured = ServiceCalendar(default_windows(midnight, early))
    for start, end in maintenance:
        configured.add_maintenance(start, end)
    hits = oracle_hits(t, midnight, early, maintenance)
    closure = configured.closure_at(t)
    if closure is None:
        assert not hits
        assert configured.next_open(t) == t
        return
    assert hits, (t, closure)
    assert closure.until == configured.next_open(t)
    assert closure.until == oracle_reopening(t, midnight, early, maintenance)
    assert (closure.rule, closure.start) in oracle_namers(hits), (t, closure, hits)
