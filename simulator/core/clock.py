"""Clocks: the only place that reads the wall clock.

Every rule of the manual is stated in Japan Standard Time (the lock ends at
0:00 JST, the service windows of FAQ 3-Q1 are JST), so a clock answers aware
datetimes in Asia/Tokyo. The core takes a :class:`Clock`; the server gives it
a :class:`SandboxClock` that testers can set, advance and freeze, and the SimPy
twin gives it one driven by simulated time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class Clock(Protocol):
    """Anything that tells the current instant, aware, in Asia/Tokyo."""

    def now(self) -> dt.datetime: ...


def to_jst(instant: dt.datetime) -> dt.datetime:
    """The same instant in JST; a naive datetime is refused, never guessed."""
    if instant.tzinfo is JST:  # already JST (every clock answers so): the hot path
        return instant
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give a time zone")
    return instant.astimezone(JST)


class SystemClock:
    """The real time of the machine."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(JST)  # noqa: TID251 - the one wall-clock read


@dataclass(frozen=True)
class ClockSetting:
    """How a sandbox clock relates to real time: storable as two fields.

    ``offset`` is added to real time; when ``frozen_at`` is set the clock stands
    still there. ``ClockSetting()`` is real time.
    """

    offset: dt.timedelta = dt.timedelta(0)
    frozen_at: dt.datetime | None = None

    def read(self, real_now: dt.datetime) -> dt.datetime:
        if self.frozen_at is not None:
            return to_jst(self.frozen_at)
        return to_jst(real_now + self.offset)

    def set(self, now: dt.datetime, real_now: dt.datetime, frozen: bool) -> ClockSetting:
        """Put the clock at ``now``; it runs on from there unless ``frozen``."""
        now = to_jst(now)
        if frozen:
            return ClockSetting(frozen_at=now)
        return ClockSetting(offset=now - real_now)

    def advance(self, by: dt.timedelta) -> ClockSetting:
        if self.frozen_at is not None:
            return ClockSetting(frozen_at=self.frozen_at + by)
        return ClockSetting(offset=self.offset + by)

    @property
    def is_real(self) -> bool:
        return self.frozen_at is None and self.offset == dt.timedelta(0)


class SandboxClock:
    """A clock testers can set, advance, freeze and send back to real time.

    It reads real time only through the ``source`` clock it wraps, so a test
    can stack it on a :class:`FixedClock` and stay deterministic.
    """

    def __init__(self, source: Clock | None = None, setting: ClockSetting | None = None) -> None:
        self._source: Clock = source or SystemClock()
        self.setting = setting or ClockSetting()

    def now(self) -> dt.datetime:
        return self.setting.read(self._source.now())

    def set(self, now: dt.datetime, frozen: bool = False) -> None:
        self.setting = self.setting.set(now, self._source.now(), frozen)

    def advance(self, seconds: float) -> None:
        self.setting = self.setting.advance(dt.timedelta(seconds=seconds))

    def reset(self) -> None:
        """Back to real time."""
        self.setting = ClockSetting()


class FixedClock:
    """A clock that moves only when told to: for tests and the SimPy twin."""

    def __init__(self, now: dt.datetime) -> None:
        self._now = to_jst(now)

    def now(self) -> dt.datetime:
        return self._now

    def set(self, now: dt.datetime) -> None:
        self._now = to_jst(now)

    def advance(self, seconds: float) -> None:
        self._now = self._now + dt.timedelta(seconds=seconds)


def jst_day(instant: dt.datetime) -> dt.date:
    """The calendar day in Japan that ``instant`` falls on."""
    return to_jst(instant).date()


def next_jst_midnight(instant: dt.datetime) -> dt.datetime:
    """The next 0:00 JST strictly after ``instant`` (the lock's end, R-ERR-HOST-3)."""
    day = jst_day(instant) + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=JST)
