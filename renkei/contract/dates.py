"""Calendar arithmetic both sides must do alike (INTERFACE.md §5, R-ACCT-4).

"About three months of 明細" is counted in calendar months back from a day;
the bank keeps that much and the tester asks for exactly its edge.
"""

from __future__ import annotations

import calendar
import datetime as dt


def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` moved back ``months`` calendar months (forward when negative), on the
    same day of the month or the month's last day when it has fewer."""
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))
