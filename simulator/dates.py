"""Dates in a scenario: absolute, or relative to the day the scenario is built.

A persona such as "a newly opened account whose cash card is not yet issued"
(R-ACCT-2) must stay so whatever the sandbox clock says, so its dates are
written ``today``, ``today-3d`` or ``today+7d`` and resolved when the host is
built. Units: ``d`` days, ``w`` weeks, ``m`` calendar months and ``y`` years
(months and years clip to the month's end: ``today-1m`` on 31 March is
28/29 February).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from renkei.contract.dates import months_before
from simulator.fields import Node

_ISO: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_RELATIVE: Final = re.compile(r"today(?:\s*([+-])\s*(\d{1,5})([dwmy]))?")
_FORMS: Final = "a date: YYYY-MM-DD, today, today-3d or today+7d (units d, w, m, y)"


@dataclass(frozen=True)
class DateSpec:
    """A date as written in the file; :meth:`resolve` gives the day for a given today."""

    text: str
    absolute: dt.date | None = None
    days: int = 0
    months: int = 0

    @classmethod
    def on(cls, day: dt.date) -> DateSpec:
        return cls(day.isoformat(), absolute=day)

    @property
    def is_relative(self) -> bool:
        return self.absolute is None

    def resolve(self, today: dt.date) -> dt.date:
        if self.absolute is not None:
            return self.absolute
        return months_before(today, -self.months) + dt.timedelta(days=self.days)

    def __str__(self) -> str:
        return self.text


def parse_date(text: str) -> DateSpec | None:
    """``2025-01-06``, ``today``, ``today-3d``, ``today+2m``…; None when not a date."""
    text = text.strip()
    if _ISO.fullmatch(text):
        try:
            return DateSpec.on(dt.date.fromisoformat(text))
        except ValueError:
            return None
    m = _RELATIVE.fullmatch(text)
    if m is None:
        return None
    sign, amount, unit = m.groups()
    if sign is None:
        return DateSpec("today")
    n = int(amount) * (-1 if sign == "-" else 1)
    days = {"d": n, "w": 7 * n}.get(unit, 0)
    months = {"m": n, "y": 12 * n}.get(unit, 0)
    return DateSpec(f"today{sign}{amount}{unit}", days=days, months=months)


def read_date(node: Node) -> DateSpec:
    """A date field of the file (YAML may already have read an ISO date as one)."""
    day = node.plain_date()
    if day is not None:
        return DateSpec.on(day)
    spec = parse_date(node.value) if isinstance(node.value, str) else None
    if spec is None:
        raise node.wrong(_FORMS)
    return spec
