"""Service hours: when the API連携認証 service is closed (R-HOURS, FAQ 3-Q1).

The calendar is data: each :class:`Window` says on which days it starts, at
what time, and for how long; :data:`DEFAULT_WINDOWS` is the manual's list.
Each window is closed at its start and open at its end. The manual's vague
durations are parameters of :func:`default_windows`:

* R-HOURS-1 「毎日0時から1分程度」: ``midnight_minutes``, default 1;
* R-HOURS-2 「毎日4時から数分程度」: ``early_morning_minutes``, default 5.

Ad-hoc maintenance (R-HOURS-6) is added with :meth:`ServiceCalendar.add_maintenance`.

A credit union on the shared platform may close on a calendar of its own on top
of these (INTERFACE.md §10): recurring windows under :data:`OWN_WINDOW_RULE`,
e.g. 毎月第2土曜日の1:00~5:00, appended to the platform's windows. They add
closed time; they never change when R-HOURS-1..5 close.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Protocol

from simulator.core.clock import JST, to_jst

MONDAY: Final = 0
SUNDAY: Final = 6
#: The rule a bank's own recurring windows answer under: FAQ 3-Q1 lists the shared
#: system's windows and then 「⑥その他システムメンテナンスの場合」, which is where a
#: credit union's own maintenance falls (the manual's 「当組合システムは以下がサービス
#: 時間外」 on R-ERR-SYS-1 speaks of each union's system).
OWN_WINDOW_RULE: Final = "R-HOURS-6"


class DaySelector(Protocol):
    """Which calendar days a window starts on."""

    def matches(self, day: dt.date) -> bool: ...


@dataclass(frozen=True)
class EveryDay:
    def matches(self, day: dt.date) -> bool:
        return True


def nth_of_month(day: dt.date) -> int:
    """1 for the first such weekday of its month, 2 for the second, …"""
    return (day.day - 1) // 7 + 1


@dataclass(frozen=True)
class NthWeekday:
    """The ``nths`` ``weekday`` of each month, e.g. the 1st and 3rd Monday."""

    weekday: int
    nths: tuple[int, ...]

    def matches(self, day: dt.date) -> bool:
        return day.weekday() == self.weekday and nth_of_month(day) in self.nths


@dataclass(frozen=True)
class DayBeforeNthWeekday:
    """The day before the ``nths`` ``weekday``: e.g. the eve of the 2nd and 4th Sunday.

    When a month starts on a Sunday the eve of its 2nd Sunday is its 1st
    Saturday (R-HOURS-4); stating the rule from the Sunday gets that right.
    """

    weekday: int
    nths: tuple[int, ...]

    def matches(self, day: dt.date) -> bool:
        return NthWeekday(self.weekday, self.nths).matches(day + dt.timedelta(days=1))


@dataclass(frozen=True)
class Dates:
    """Fixed dates every year, e.g. 1–3 January."""

    month: int
    days: tuple[int, ...]

    def matches(self, day: dt.date) -> bool:
        return day.month == self.month and day.day in self.days


@dataclass(frozen=True)
class DaysOfMonth:
    """The same days of every month, e.g. the 15th, and/or its last day (月末).

    A month without one of the ``days`` (the 31st in April) has no window that
    day: "the 31st" never slides to the 30th; ``last`` says 月末.
    """

    days: tuple[int, ...] = ()
    last: bool = False

    def __post_init__(self) -> None:
        if not self.days and not self.last:
            raise ValueError("give at least one day of the month, or the last")
        if any(not 1 <= d <= 31 for d in self.days):
            raise ValueError("a day of the month is from 1 to 31")

    def matches(self, day: dt.date) -> bool:
        if day.day in self.days:
            return True
        return self.last and (day + dt.timedelta(days=1)).day == 1


@dataclass(frozen=True)
class Window:
    """A closed window that starts on each selected day at ``start`` and lasts ``length``."""

    rule: str
    days: DaySelector
    start: dt.time
    length: dt.timedelta
    label: str = ""

    def __post_init__(self) -> None:
        if not dt.timedelta(0) < self.length <= dt.timedelta(days=2):
            raise ValueError(f"{self.rule}: a window lasts more than 0 and at most 2 days")


def default_windows(
    midnight_minutes: float = 1, early_morning_minutes: float = 5
) -> tuple[Window, ...]:
    """The windows of FAQ 3-Q1, with the vague durations as parameters."""
    return (
        Window(
            "R-HOURS-1",
            EveryDay(),
            dt.time(0, 0),
            dt.timedelta(minutes=midnight_minutes),
            "毎日0時から1分程度",
        ),
        Window(
            "R-HOURS-2",
            EveryDay(),
            dt.time(4, 0),
            dt.timedelta(minutes=early_morning_minutes),
            "毎日4時から数分程度",
        ),
        Window(
            "R-HOURS-3",
            NthWeekday(MONDAY, (1, 3)),
            dt.time(2, 0),
            dt.timedelta(hours=4),
            "毎月第1および第3月曜日の2:00~6:00",
        ),
        Window(
            "R-HOURS-4",
            DayBeforeNthWeekday(SUNDAY, (2, 4)),
            dt.time(23, 50),
            dt.timedelta(hours=7, minutes=10),
            "毎月第2および第4日曜日の前日23:50~翌7:00",
        ),
        Window(
            "R-HOURS-5",
            Dates(1, (1, 2, 3)),
            dt.time(0, 0),
            dt.timedelta(hours=8),
            "1月1日~3日の0:00~8:00",
        ),
        Window(
            "R-HOURS-5",
            Dates(1, (1, 2, 3)),
            dt.time(19, 0),
            dt.timedelta(hours=5),
            "1月1日~3日の19:00~24:00",
        ),
    )


DEFAULT_WINDOWS: Final = default_windows()


@dataclass(frozen=True)
class Closure:
    """Why the service is closed at an instant, and until when (open again at ``until``)."""

    rule: str
    label: str
    start: dt.datetime
    until: dt.datetime


@dataclass
class ServiceCalendar:
    """Answers "is the service open at t, and if not, why and until when"."""

    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    maintenance: list[Closure] = field(default_factory=list)
    _days: dict[dt.date, list[Closure]] = field(default_factory=dict, repr=False)
    _overlapping: dict[dt.date, list[Closure]] = field(default_factory=dict, repr=False)
    #: An interval known to be open (the last one found): most questions fall in it.
    _open: tuple[dt.datetime, dt.datetime] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        longest = max((w.length for w in self.windows), default=dt.timedelta(0))
        self._lookback = longest.days + 1

    def add_maintenance(
        self, start: dt.datetime, end: dt.datetime, label: str = "その他システムメンテナンス"
    ) -> Closure:
        """R-HOURS-6: an ad-hoc closed window [start, end)."""
        start, end = to_jst(start), to_jst(end)
        if end <= start:
            raise ValueError("a maintenance window must end after it starts")
        closure = Closure("R-HOURS-6", label, start, end)
        self.maintenance.append(closure)
        self._open = None
        return closure

    def clear_maintenance(self) -> None:
        self.maintenance.clear()
        self._open = None

    def _starting_on(self, day: dt.date) -> list[Closure]:
        cached = self._days.get(day)
        if cached is None:
            cached = []
            for w in self.windows:
                if w.days.matches(day):
                    start = dt.datetime.combine(day, w.start, tzinfo=JST)
                    cached.append(Closure(w.rule, w.label, start, start + w.length))
            if len(self._days) > 4096:  # bound the cache on multi-year runs
                self._days.clear()
            self._days[day] = cached
        return cached

    def _touching(self, day: dt.date) -> list[Closure]:
        """The windows that may be in force on ``day``: those starting on it or on
        the days before that a window is long enough to reach over from (cached
        per day, as every request of the flow asks)."""
        cached = self._overlapping.get(day)
        if cached is None:
            cached = [
                c
                for back in range(self._lookback + 1)
                for c in self._starting_on(day - dt.timedelta(days=back))
            ]
            if len(self._overlapping) > 4096:
                self._overlapping.clear()
            self._overlapping[day] = cached
        return cached

    def _containing(self, t: dt.datetime) -> list[Closure]:
        found = [c for c in self.maintenance if c.start <= t < c.until]
        found.extend(c for c in self._touching(t.date()) if c.start <= t < c.until)
        return found

    def closure_at(self, instant: dt.datetime) -> Closure | None:
        """The closure in force at ``instant``, or None when the service is open.

        Overlapping or touching windows are one closure: ``until`` is when the
        service really opens again (the 1 January 0:00 window contains the daily
        midnight one; the 1 January evening runs on into the 2 January morning).
        The ``rule`` is the one that started first among those in force; of two
        that started together, the longer (which contains the other).
        """
        t = to_jst(instant)
        known = self._open
        if known is not None and known[0] <= t < known[1]:
            return None
        hits = self._containing(t)
        if not hits:
            self._open = self._open_around(t)
            return None
        first = min(hits, key=lambda c: (c.start, c.start - c.until, c.rule))
        until = max(c.until for c in hits)
        # Chained windows: follow them to the real reopening. A calendar that is
        # never open again (a daily window of a whole day) stops at a year on.
        horizon = t + dt.timedelta(days=366)
        while until < horizon and (more := self._containing(until)):
            until = max(c.until for c in more)
        return Closure(first.rule, first.label, first.start, until)

    def _open_around(self, t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """The open interval around ``t`` (which no closure contains), cut at the
        JST day's bounds: every closure that touches the day is in ``_touching``."""
        lo = dt.datetime.combine(t.date(), dt.time(0), tzinfo=JST)
        hi = lo + dt.timedelta(days=1)
        for c in (*self.maintenance, *self._touching(t.date())):
            if c.until <= t:
                lo = max(lo, c.until)
            elif c.start > t:
                hi = min(hi, c.start)
        return lo, hi

    def is_open(self, instant: dt.datetime) -> bool:
        return self.closure_at(instant) is None

    def next_open(self, instant: dt.datetime) -> dt.datetime:
        """``instant`` itself when open, else when the closure in force ends."""
        closure = self.closure_at(instant)
        return to_jst(instant) if closure is None else closure.until
