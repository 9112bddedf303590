"""``bank.extra_windows``: a bank's own recurring closures (INTERFACE.md §10).

The rules of R-HOURS are the platform's; a credit union may close on days of its
own on top of them, e.g. 毎月第2土曜日の1:00~5:00 for its own system's work.
Each item becomes a :class:`~simulator.core.hours.Window` under
:data:`~simulator.core.hours.OWN_WINDOW_RULE` (FAQ 3-Q1 「⑥その他システム
メンテナンスの場合」), labelled the way FAQ 3-Q1 writes its windows unless the
file gives a label. The keys are documented in docs/scenarios.md::

    extra_windows:
      - days: {weekday: saturday, nth: [2]}   # 毎月第2土曜日 (nth 1..5; none: 毎週)
        start: "01:00"                        # quoted: YAML reads 01:00 as 60
        end: "05:00"                          # before start: the next morning (翌)
      - days: {day_of_month: [15, last]}      # 毎月15日および末日
        start: "22:00"
        end: "02:00"
      - days: daily                           # 毎日
        start: "23:55"
        end: "24:00"
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from simulator.core.hours import (
    OWN_WINDOW_RULE,
    DaySelector,
    DaysOfMonth,
    EveryDay,
    NthWeekday,
    Window,
)
from simulator.fields import Node

WEEKDAY_KANJI: Final = "月火水木金土日"
#: A weekday by its English name or its kanji, as ``datetime.date.weekday`` counts it.
WEEKDAYS: Final = {
    **{
        name: i
        for i, name in enumerate(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        )
    },
    **{kanji: i for i, kanji in enumerate(WEEKDAY_KANJI)},
}
_TIME: Final = re.compile(r"[0-2][0-9]:[0-5][0-9]")


def _minutes(node: Node, latest: str) -> int:
    """``"01:00"``: minutes after 0:00, up to ``latest`` (``23:59`` or ``24:00``)."""
    expected = f'a time from 00:00 to {latest} such as "01:00", quoted'
    value = node.value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 01:00 unquoted as the sexagesimal number 60.
        raise node.error(f"must be {expected} (got the number {value}: YAML reads 01:00 as 60)")
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise node.wrong(expected)
    hours, minutes = (int(part) for part in value.split(":"))
    total = hours * 60 + minutes
    if total > int(latest[:2]) * 60 + int(latest[3:]):
        raise node.wrong(expected)
    return total


def _shown_time(minutes: int) -> str:
    """How FAQ 3-Q1 writes a time: 2:00, 23:50, 24:00."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def _listed(words: list[str]) -> str:
    """``第1および第3``, ``5日、15日および25日``: as FAQ 3-Q1 joins days."""
    return words[0] if len(words) == 1 else "、".join(words[:-1]) + "および" + words[-1]


def _distinct_items(node: Node) -> list[Node]:
    """A non-empty list without a value twice (``nth: [2, 2]`` is a typo)."""
    items = node.items(non_empty=True)
    first: dict[str, str] = {}
    for item in items:
        value = repr(item.value)
        if value in first:
            raise item.error(f"{item.value} is also {first[value]}")
        first[value] = item.path
    return items


def _days(node: Node) -> tuple[DaySelector, str]:
    """``days:``: ``daily``, ``{weekday, nth}`` or ``{day_of_month}``; the selector
    and how the bank announces it (毎月第2土曜日)."""
    if node.value == "daily":
        return EveryDay(), "毎日"
    if not isinstance(node.value, dict):
        raise node.wrong("daily, {weekday: …, nth: […]} or {day_of_month: […]}")
    r = node.record(required=(), optional=("weekday", "nth", "day_of_month"))
    weekday_node, nth_node, dom_node = r.get("weekday"), r.get("nth"), r.get("day_of_month")
    if weekday_node is not None and dom_node is not None:
        raise dom_node.error("give weekday (with nth) or day_of_month, not both")
    if weekday_node is not None:
        if not isinstance(weekday_node.value, str) or weekday_node.value not in WEEKDAYS:
            raise weekday_node.wrong("a weekday: monday … sunday, or 月 火 水 木 金 土 日")
        weekday = WEEKDAYS[weekday_node.value]
        name = f"{WEEKDAY_KANJI[weekday]}曜日"
        if nth_node is None:
            return NthWeekday(weekday, (1, 2, 3, 4, 5)), f"毎週{name}"
        nths = tuple(item.integer(1, 5) for item in _distinct_items(nth_node))
        return NthWeekday(weekday, nths), f"毎月{_listed([f'第{n}' for n in nths])}{name}"
    if nth_node is not None:
        raise nth_node.error("nth counts a weekday: give weekday too")
    if dom_node is None:
        raise node.error("give weekday (with nth), day_of_month, or write daily")
    numbers: list[int] = []
    last = False
    for item in _distinct_items(dom_node):
        if item.value == "last":
            last = True
        else:
            numbers.append(item.integer(1, 31))
    words = [f"{n}日" for n in numbers] + (["末日"] if last else [])
    return DaysOfMonth(tuple(numbers), last), f"毎月{_listed(words)}"


def _window(node: Node) -> Window:
    r = node.record(required=("days", "start", "end"), optional=("label",))
    days, announced = _days(r["days"])
    start = _minutes(r["start"], "23:59")
    end = _minutes(r["end"], "24:00")
    if end == start:
        raise r["end"].error("must differ from start (a window of a whole day never opens)")
    length = end - start if end > start else end + 1440 - start
    # After 24:00 the end is the next morning's, as FAQ 3-Q1 writes 「翌7:00」.
    until = _shown_time(end) if end > start else f"翌{_shown_time(end)}"
    label = r["label"].line() if r.get("label") else f"{announced}の{_shown_time(start)}~{until}"
    return Window(
        OWN_WINDOW_RULE,
        days,
        dt.time(start // 60, start % 60),
        dt.timedelta(minutes=length),
        label,
    )


def read_windows(node: Node) -> tuple[Window, ...]:
    """``bank.extra_windows``: the bank's own recurring closures, on top of the
    platform's R-HOURS-1..5 (INTERFACE.md §10), each under R-HOURS-6."""
    return tuple(_window(item) for item in node.items(non_empty=True))
