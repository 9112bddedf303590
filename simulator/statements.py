"""Generated transaction history (明細) for personas and the bulk population.

The account API (INTERFACE.md §5, R-ACCT-4) pages through an account's
history, so every account a tester may link needs one that looks like a
Japanese statement: salary (ｷﾕｳﾖ) on the 25th or a pension (ﾈﾝｷﾝ) on the 15th
of even months, 口座振替 (ｺｳﾌﾘ) for utilities on the 27th, card withdrawals at
ATMs (ｶ-ﾄﾞ), 振込 in and out with their fee as its own line. Remarks are in
half-width katakana without small kana and with ``-`` for the long vowel, as
the Zengin character set that bank statements use has neither.

Rules the data keeps, whatever the draw: the balance is never negative, the
last balance is the account's balance, item keys sort oldest first, and
nothing is dated before the account opened or after today. Everything is
drawn from the given ``random.Random``, so a seed gives the same history.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Final, Literal, NamedTuple

from renkei.contract.dates import months_before
from simulator.core.history import DEPOSIT, WITHDRAWAL, Transaction

SALARY_DAY: Final = 25
PENSION_DAY: Final = 15
DEBIT_DAY: Final = 27

EMPLOYERS: Final = (
    "ｶ)ｵｼｱｹﾞｼﾖｳｶｲ",
    "ｶ)ﾑｺｳｼﾞﾏｺｳｷﾞﾖｳ",
    "ﾕ)ｷﾝｼｼﾖｳｼﾞ",
    "ｶ)ｽﾐﾀﾞｾｲｻｸｼﾖ",
    "ｲﾘﾖｳﾎｳｼﾞﾝ ｶﾒｲﾄﾞｶｲ",
)
PENSIONS: Final = ("ｺｳｾｲﾈﾝｷﾝ", "ｺｸﾐﾝﾈﾝｷﾝ")
DIRECT_DEBITS: Final = (
    "ｺｳﾌﾘ ﾃﾞﾝｷﾘﾖｳｷﾝ",
    "ｺｳﾌﾘ ｶﾞｽﾘﾖｳｷﾝ",
    "ｺｳﾌﾘ ｽｲﾄﾞｳﾘﾖｳｷﾝ",
    "ｺｳﾌﾘ ｹｲﾀｲﾃﾞﾝﾜ",
    "ｺｳﾌﾘ ｸﾚｼﾞﾂﾄ",
    "ｺｳﾌﾘ ﾎｹﾝﾘﾖｳ",
)
PAYEES: Final = ("ｶ)ﾐﾄﾞﾘﾌﾄﾞｳｻﾝ", "ﾔﾏﾀﾞ ﾊﾅｺ", "ｶ)ﾂﾊﾞｻｼﾞﾕｸ", "ｻﾄｳ ｹﾝｲﾁ", "ｶ)ﾎｼﾉｶｸﾞ")
SENDERS: Final = ("ﾔﾏﾀﾞ ﾊﾅｺ", "ﾀﾅｶ ｲﾁﾛｳ", "ｽｽﾞｷ ﾖｳｺ", "ｶ)ｱｵｿﾞﾗﾂｳｼﾝ")
ATM_WITHDRAWAL: Final = "ｶ-ﾄﾞ"
ATM_DEPOSIT: Final = "ｶ-ﾄﾞ ﾆﾕｳｷﾝ"
TRANSFER_FEE: Final = "ﾌﾘｺﾐﾃｽｳﾘﾖｳ"
TO_TIME_DEPOSIT: Final = "ﾌﾘｶｴ ﾃｲｷﾖｷﾝ"
FEES: Final = (110, 220, 330, 440)
#: The lowest balance a history that needed a sweep keeps (see :func:`_settle`).
CUSHION: Final = 10_000

Kind = Literal["1", "2"]


class _Event(NamedTuple):
    day: dt.date
    kind: Kind
    amount: int
    remarks: str


def _weekday_before(day: dt.date) -> dt.date:
    """Paydays that fall on a weekend are paid the Friday before."""
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def _weekday_after(day: dt.date) -> dt.date:
    """Debits that fall on a weekend are taken the Monday after."""
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _income(rng: random.Random) -> tuple[str, int, str]:
    """How this account is paid: ``("salary", monthly net pay, payer)`` or a pension."""
    if rng.random() < 0.85:
        return "salary", rng.randrange(160_000, 420_000), rng.choice(EMPLOYERS)
    # A pension is paid every two months, two months' worth at a time.
    return "pension", rng.randrange(240_000, 640_000), rng.choice(PENSIONS)


def _paydays(first: dt.date, last: dt.date, style: str) -> list[dt.date]:
    """Income days in [first, last], a span of at most two calendar months."""
    found = []
    for year, month in sorted({(first.year, first.month), (last.year, last.month)}):
        if style == "salary":
            day = _weekday_before(dt.date(year, month, SALARY_DAY))
        elif month % 2 == 0:
            day = _weekday_before(dt.date(year, month, PENSION_DAY))
        else:
            continue
        if first <= day <= last:
            found.append(day)
    return found


def _debit_day(first: dt.date, last: dt.date) -> dt.date | None:
    """The 口座振替 day in [first, last], if one falls there."""
    for year, month in sorted({(first.year, first.month), (last.year, last.month)}):
        nominal = dt.date(year, month, DEBIT_DAY)
        if first <= nominal and _weekday_after(nominal) <= last:
            return _weekday_after(nominal)
    return None


def _month_events(
    rng: random.Random, first: dt.date, last: dt.date, per_month: int, income: tuple[str, int, str]
) -> list[_Event]:
    """``per_month`` events in [first, last] (a month or less) that spend about what comes in.

    Income first, then two 口座振替 on the 27th, then ATM withdrawals, 振込
    out (with the fee as its own line) and in, and ATM deposits on random days.
    The month's spending is drawn around its income, so a history drifts
    little and seldom needs the sweep to a time deposit of :func:`_settle`.
    """
    style, pay, payer = income
    remarks = f"ｷﾕｳﾖ {payer}" if style == "salary" else payer
    events = [_Event(d, DEPOSIT, pay, remarks) for d in _paydays(first, last, style)]
    events = events[:per_month]
    budget = (pay if style == "salary" else pay // 2) * rng.uniform(0.85, 1.1)
    debit_day = _debit_day(first, last)
    if debit_day is not None:
        # Two different payees (rng.sample would do, at several times the cost).
        first_payee = rng.randrange(len(DIRECT_DEBITS))
        second_payee = (first_payee + 1 + rng.randrange(len(DIRECT_DEBITS) - 1)) % len(
            DIRECT_DEBITS
        )
        for payee in (first_payee, second_payee)[: per_month - len(events)]:
            amount = rng.randrange(2_000, 16_000)
            events.append(_Event(debit_day, WITHDRAWAL, amount, DIRECT_DEBITS[payee]))
            budget -= amount
    span = (last - first).days + 1
    # Draw the kinds first, then share the budget among the withdrawals.
    drawn: list[tuple[dt.date, str]] = []
    slots = per_month - len(events)
    while slots > 0:
        roll = rng.random()
        kind = "atm" if roll < 0.6 else "out" if roll < 0.8 else "in" if roll < 0.92 else "dep"
        if kind == "out" and slots < 2:
            kind = "atm"
        drawn.append((first + dt.timedelta(days=rng.randrange(span)), kind))
        slots -= 2 if kind == "out" else 1
    weights = [rng.uniform(0.3, 1.0) if k in ("atm", "out") else 0.0 for _, k in drawn]
    share = max(budget, 0) / (sum(weights) or 1)
    for (day, kind), weight in zip(drawn, weights, strict=True):
        if kind == "atm":
            amount = max(1_000, int(share * weight) // 1_000 * 1_000)
            events.append(_Event(day, WITHDRAWAL, amount, ATM_WITHDRAWAL))
        elif kind == "out":
            amount = max(1_000, int(share * weight))
            events.append(_Event(day, WITHDRAWAL, amount, f"ﾌﾘｺﾐ {rng.choice(PAYEES)}"))
            events.append(_Event(day, WITHDRAWAL, rng.choice(FEES), TRANSFER_FEE))
        elif kind == "in":
            amount = rng.randrange(1_000, 40_000)
            events.append(_Event(day, DEPOSIT, amount, f"ﾌﾘｺﾐ {rng.choice(SENDERS)}"))
        else:
            amount = rng.randrange(1, 5) * 10_000
            events.append(_Event(day, DEPOSIT, amount, ATM_DEPOSIT))
    return events


def generate_history(
    rng: random.Random,
    today: dt.date,
    months: int,
    per_month: int,
    closing_balance: int,
    opened_on: dt.date | None = None,
) -> list[Transaction]:
    """About ``per_month`` transactions a month for ``months`` months back from ``today``.

    The first month starts on the same day ``months`` calendar months ago
    (:func:`~simulator.core.history.months_before`), or on ``opened_on`` if the
    account is younger. The history ends at ``closing_balance``.
    """
    if months < 1 or per_month < 1:
        raise ValueError("history needs at least one month and one transaction a month")
    if closing_balance < 0:
        raise ValueError("a balance is never negative")
    start = months_before(today, months)
    if opened_on is not None:
        start = max(start, opened_on)
    if start > today:
        return []
    income = _income(rng)
    events: list[_Event] = []
    for k in range(months, 0, -1):
        first = max(months_before(today, k), start)
        last = today if k == 1 else months_before(today, k - 1) - dt.timedelta(days=1)
        if first <= last:
            events += _month_events(rng, first, last, per_month, income)
    events.sort(key=lambda e: e.day)  # stable: a transfer stays before its fee
    return _settle(events, closing_balance, today)


def _settle(events: list[_Event], closing: int, today: dt.date) -> list[Transaction]:
    """Balances for ``events`` (oldest first) that never go negative and end at ``closing``.

    The opening balance is what makes the history end at ``closing``. Where
    that would overdraw the account on the way (the months earned more than
    they spent), the opening is raised to keep :data:`CUSHION` at the lowest
    point and the excess goes to a time deposit today, as a customer sweeping
    savings would.
    """
    running = 0
    lowest = 0
    for e in events:
        running += e.amount if e.kind == DEPOSIT else -e.amount
        lowest = min(lowest, running)
    opening = closing - running
    excess = 0 if opening + lowest >= 0 else CUSHION - (opening + lowest)
    balance = opening + excess
    if excess:
        events = [*events, _Event(today, WITHDRAWAL, excess, TO_TIME_DEPOSIT)]
    rows: list[Transaction] = []
    for n, e in enumerate(events):
        balance += e.amount if e.kind == DEPOSIT else -e.amount
        # YYYYMMDD then the position in the history: sorts oldest first as text.
        # (Arithmetic, not strftime, which costs more than the rest of the row.)
        key = f"{e.day.year * 10_000 + e.day.month * 100 + e.day.day}{n:06d}"
        rows.append(Transaction(key, e.day, e.day, e.kind, e.amount, e.remarks, balance))
    return rows
