"""Transaction history (明細) and how far back it reaches (R-ACCT-4, FAQ 3-Q2).

「当組合のシステムでは、約3か月分の取引明細を保有しています」: a query may reach
back to the same day three calendar months ago (clipped to the month's end),
no further. Pages hold at most 500 items, oldest first; ``itemKey`` orders them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from renkei.contract.api import PAGE_SIZE
from renkei.contract.dates import months_before
from simulator.core.errors import HistoryOutOfRange, InvalidParameter

DEPOSIT: Final = "1"  # 入金
WITHDRAWAL: Final = "2"  # 出金


@dataclass(frozen=True)
class Transaction:
    item_key: str
    date: dt.date
    value_date: dt.date
    kind: Literal["1", "2"]
    amount: int
    remarks: str
    balance: int


@dataclass(frozen=True)
class HistoryPolicy:
    months: int = 3

    def earliest(self, today: dt.date) -> dt.date:
        return months_before(today, self.months)

    def period(
        self, date_from: dt.date | None, date_to: dt.date | None, today: dt.date
    ) -> tuple[dt.date, dt.date]:
        """The dates a query covers: no dates means today (INTERFACE.md §5)."""
        start = date_from or date_to or today
        end = date_to or (today if date_from is not None else start)
        if start > end:
            raise InvalidParameter("dateFrom is after dateTo")
        if start < self.earliest(today):
            raise HistoryOutOfRange(self.earliest(today))
        return start, end


@dataclass(frozen=True)
class Page:
    items: tuple[Transaction, ...]
    next_item_key: str | None

    @property
    def has_next(self) -> bool:
        return self.next_item_key is not None


def page(
    history: Sequence[Transaction],
    start: dt.date,
    end: dt.date,
    after_key: str | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """One page of ``history`` (sorted by item key) within [start, end] after ``after_key``."""
    chosen = [
        t
        for t in history
        if start <= t.date <= end and (after_key is None or t.item_key > after_key)
    ]
    items = tuple(chosen[:size])
    return Page(items, items[-1].item_key if len(chosen) > size else None)
