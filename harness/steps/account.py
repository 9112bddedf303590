"""Steps of features/account.feature (R-ACCT): which accounts link, branch moves, the
account API and its pages of 明細.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import Sandbox
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.helpers import (
    PAGE_SIZE,
    Visit,
    api_error,
    next_page_of,
    sandbox_now,
    start_visit,
    transactions,
    unlock_after,
)
from renkei.contract import api, controls
from renkei.contract.dates import months_before


@pytest.fixture
def api_replies() -> list[requests.Response]:
    """The account API's answers in this scenario, newest last."""
    return []


@given(parsers.parse('時計が今日（実際の日付）の "{time}" を指している'))
def clock_today(sandbox: Sandbox, time: str) -> None:
    """Dates the scenario writes relative to the day the bank was built (a card not
    yet issued, R-ACCT-2; the months of history, R-ACCT-4) hold for the real
    date: back to real time, then the clock stands at ``time`` (JST) of that day."""
    r = sandbox.request("DELETE", controls.CLOCK_PATH)
    assert r.status_code == 200, r.text
    today = sandbox_now(sandbox).date()
    sandbox.set_clock(f"{today.isoformat()}T{time}+09:00")


@given(
    parsers.parse('お客様 "{persona_id}" が口座 "{account_id}" で API連携認証を始める'),
    target_fixture="visit",
)
def begin_with_account(
    target: Target,
    sandbox: Sandbox,
    personas: dict[str, Persona],
    cleanup: list[Any],
    unlocks: set[str],
    persona_id: str,
    account_id: str,
) -> Visit:
    """The same person answering for another of their accounts (or the number an
    account moved to)."""
    persona = personas[persona_id].at(account_id)
    unlock_after(sandbox, cleanup, unlocks, persona.account_id)
    return start_visit(target, persona)


@when(parsers.parse("時計を {days:d} 日進める"))
def advance_days(sandbox: Sandbox, days: int) -> None:
    sandbox.advance(days * 86400)


@when(parsers.parse('銀行がこの口座を店番 "{branch}" 口座番号 "{number}" に移管する'))
def move(visit: Visit, sandbox: Sandbox, cleanup: list[Any], branch: str, number: str) -> None:
    """R-ACCT-3: POST /admin/accounts/move; the scenario's data is restored after."""
    cleanup.append(sandbox.reset)
    old = visit.persona.account
    new = {"branch_no": branch, "account_type": old["account_type"], "account_no": number}
    sandbox.move(old, new)


@when(parsers.parse("連携元アプリが {months:d} か月前の同じ日から今日までの明細を照会する"))
def ask_since(
    visit: Visit, sandbox: Sandbox, api_replies: list[requests.Response], months: int
) -> None:
    start = months_before(sandbox_now(sandbox).date(), months)
    api_replies.append(transactions(visit, dateFrom=start.isoformat()))


@when(parsers.parse("連携元アプリが {months:d} か月前の同じ日の前日からの明細を照会する"))
def ask_before(
    visit: Visit, sandbox: Sandbox, api_replies: list[requests.Response], months: int
) -> None:
    start = months_before(sandbox_now(sandbox).date(), months) - dt.timedelta(days=1)
    api_replies.append(transactions(visit, dateFrom=start.isoformat()))


@when("連携元アプリが dateFrom を dateTo の翌日にして明細を照会する")
def ask_reversed(visit: Visit, sandbox: Sandbox, api_replies: list[requests.Response]) -> None:
    today = sandbox_now(sandbox).date()
    date_to = today - dt.timedelta(days=7)
    date_from = date_to + dt.timedelta(days=1)
    api_replies.append(
        transactions(visit, dateFrom=date_from.isoformat(), dateTo=date_to.isoformat())
    )


@when("連携元アプリが前の明細の1件目の itemKey を nextItemKey にして続きを照会する")
def ask_next(visit: Visit, api_replies: list[requests.Response]) -> None:
    before = api_replies[-1].json()
    api_replies.append(next_page_of(visit, before, before["transactions"][0]["itemKey"]))


@when("連携元アプリが返された nextItemKey で続きを照会する")
def ask_given_next(visit: Visit, api_replies: list[requests.Response]) -> None:
    before = api_replies[-1].json()
    api_replies.append(next_page_of(visit, before, before["nextItemKey"]))


@then(parsers.parse('口座照会で口座 "{account_id}" が返る'))
def reads_account(visit: Visit, account_id: str) -> None:
    r = visit.app.api(visit.tokens["access_token"], api.ACCOUNTS_PATH)
    assert r.status_code == 200, r.text
    accounts = r.json()["accounts"]
    assert [a["accountId"] for a in accounts] == [account_id], accounts
    named = tuple(controls.account_fields(account_id).values())  # 店番, 科目, 口座番号
    a = accounts[0]
    assert (a["branchCode"], a["accountTypeCode"], a["accountNumber"]) == named, a


@then(parsers.parse('残高照会はステータス 200 で口座 "{account_id}" の残高を返す'))
def reads_balance(visit: Visit, account_id: str) -> None:
    r = visit.app.api(visit.tokens["access_token"], api.BALANCES_PATH, accountId=account_id)
    assert r.status_code == 200, r.text
    balances = r.json()["balances"]
    assert [b["accountId"] for b in balances] == [account_id], balances
    assert balances[0]["balance"].isdigit(), balances


@then(parsers.parse('口座照会も残高照会もステータス {status:d} で errorCode "{code}" を返す'))
def account_api_refused(visit: Visit, status: int, code: str) -> None:
    token = visit.tokens["access_token"]
    account = visit.persona.account_id
    api_error(visit.app.api(token, api.ACCOUNTS_PATH), status, code)
    api_error(visit.app.api(token, api.BALANCES_PATH, accountId=account), status, code)


@then(
    parsers.parse(
        "明細はステータス 200 で、{months:d} か月前の同じ日から今日までの取引が古い順に全件ある"
    )
)
def history_page(sandbox: Sandbox, api_replies: list[requests.Response], months: int) -> None:
    """R-ACCT-4 and §5 paging: the period asked for, oldest first, ``count`` items,
    all on this one page (``hasNext`` false, no ``nextItemKey``)."""
    r = api_replies[-1]
    assert r.status_code == 200, r.text
    body = r.json()
    today = sandbox_now(sandbox).date()
    start = months_before(today, months)
    assert (body["dateFrom"], body["dateTo"]) == (start.isoformat(), today.isoformat()), body
    items = body["transactions"]
    assert items, "no transactions in the last months: the persona needs history"
    assert body["count"] == len(items), body
    assert body["hasNext"] is False and "nextItemKey" not in body, body
    dates = [t["transactionDate"] for t in items]
    assert dates == sorted(dates), dates
    assert start.isoformat() <= dates[0] and dates[-1] <= today.isoformat(), dates
    keys = [t["itemKey"] for t in items]
    assert len(set(keys)) == len(keys), keys


@then("明細はステータス 200 で、古い順の 500 件と hasNext と最後の itemKey の nextItemKey がある")
def full_page(api_replies: list[requests.Response]) -> None:
    """INTERFACE.md §5 paging: a full page of 500, oldest first, says there is more
    and names where the next one starts (its last item's key)."""
    r = api_replies[-1]
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["transactions"]
    assert len(items) == PAGE_SIZE and body["count"] == PAGE_SIZE, (len(items), body["count"])
    assert body["hasNext"] is True, {k: v for k, v in body.items() if k != "transactions"}
    assert body["nextItemKey"] == items[-1]["itemKey"], body["nextItemKey"]
    dates = [t["transactionDate"] for t in items]
    assert dates == sorted(dates), "not oldest first"
    assert dates[0] >= body["dateFrom"], (dates[0], body["dateFrom"])


@then("続きの明細は前のページの最後の取引の次から今日までの残り全件で、hasNext は false である")
def last_page(sandbox: Sandbox, api_replies: list[requests.Response]) -> None:
    before, r = api_replies[-2].json(), api_replies[-1]
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["transactions"]
    assert items, "the second page is empty although the first said hasNext"
    assert body["count"] == len(items) and body["hasNext"] is False, body["count"]
    assert "nextItemKey" not in body, body["nextItemKey"]
    assert (body["dateFrom"], body["dateTo"]) == (before["dateFrom"], before["dateTo"])
    keys = [t["itemKey"] for t in before["transactions"] + items]
    assert len(set(keys)) == len(keys), "an item on both pages"
    # itemKey is the bank's own opaque key: only the dates carry on in order.
    dates = [t["transactionDate"] for t in before["transactions"][-1:] + items]
    assert dates == sorted(dates) and dates[-1] <= sandbox_now(sandbox).date().isoformat()


@then("続きの明細は前の明細の2件目からで、count はその件数である")
def next_page(api_replies: list[requests.Response]) -> None:
    before, after = api_replies[-2].json(), api_replies[-1]
    assert after.status_code == 200, after.text
    body = after.json()
    assert body["transactions"] == before["transactions"][1:], body
    assert body["count"] == before["count"] - 1, body
    assert body["hasNext"] is False, body


@then(
    parsers.parse(
        '明細はステータス 400 で errorCode "{code}" になり、メッセージは {months:d} か月前の同じ日を名指しする'
    )
)
def history_refused(
    sandbox: Sandbox, api_replies: list[requests.Response], code: str, months: int
) -> None:
    body = api_error(api_replies[-1], 400, code)
    earliest = months_before(sandbox_now(sandbox).date(), months)
    written = (
        earliest.isoformat(),
        earliest.strftime("%Y/%m/%d"),
        f"{earliest.year}年{earliest.month}月{earliest.day}日",
    )
    assert any(w in body["errorMessage"] for w in written), (written, body)


@then(parsers.parse('明細はステータス {status:d} で errorCode "{code}" になる'))
def history_error(api_replies: list[requests.Response], status: int, code: str) -> None:
    api_error(api_replies[-1], status, code)
