"""Steps of features/input.feature, host.feature and account.feature.

Input checks of screens ①②⑤ (R-ERR-INPUT-*), the host's answers on ② and ⑤
(R-ERR-HOST-*: unusable account, identity errors, the lockout and B84, the lock
lifting at 0:00 JST) and which accounts can be linked and read (R-ACCT-*).
Everything goes through the public interface (INTERFACE.md) with the driver of
``harness.driver``; nothing of ``simulator`` is imported. State is shared
through fixtures: ``visit`` (see ``common.begin``), ``answers`` (the screens a
repeated 「次へ」 showed) and ``api_replies`` (the account API's answers, newest
last).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import Answer, Sandbox
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.common import Visit, start_visit, walk_to
from renkei.contract.dates import months_before
from renkei.contract.screens import SCREEN_PATHS

#: A name in half-width kana that is no persona's: an identity failure on ②.
WRONG_NAME = "ﾍﾞﾂｼﾞﾝ ﾃﾞｽ"
#: R-ERR-INPUT-1, verbatim (INTERFACE.md §3): the text under each empty field.
REQUIRED_FIELD = "必ず入力して下さい。"
#: Between the values of one Examples cell.
SEPARATOR = "／"
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def api_replies() -> list[requests.Response]:
    """The account API's answers in this scenario, newest last."""
    return []


@pytest.fixture
def unlocks() -> set[str]:
    """Accounts this module's steps unlock after the scenario (each once)."""
    return set()


def unlock_after(sandbox: Sandbox, cleanup: list[Any], unlocks: set[str], account: str) -> None:
    if account not in unlocks:
        unlocks.add(account)
        cleanup.append(lambda: sandbox.unlock(account))


def sandbox_now(sandbox: Sandbox) -> dt.datetime:
    """The sandbox clock (GET /sandbox/clock), in JST."""
    r = sandbox.request("GET", "/sandbox/clock")
    assert r.status_code == 200, r.text
    return dt.datetime.fromisoformat(r.json()["now"]).astimezone(JST)


def fields(text: str) -> list[str]:
    """A comma-separated list of form fields, as the Examples tables write them."""
    return [f.strip() for f in text.split(",") if f.strip()]


def form_of(visit: Visit, screen: str, **changes: str) -> dict[str, str]:
    """The right form of ``screen`` for this customer, ``changes`` applied."""
    p = visit.persona
    right = {
        "SOA201": p.account,
        "SOA202": p.details(),
        "SOA211": {"pin": p.pin},
    }[screen]
    return {**right, **changes}


def submit(visit: Visit, screen: str, form: dict[str, str]) -> Answer:
    assert visit.screen_id == screen, f"not on {screen}: {visit.last.body}"
    return visit.press(SCREEN_PATHS[screen], form)


def field_errors(answer: Answer) -> list[dict[str, Any]]:
    return [e for e in answer.body.get("errors", []) if e.get("field") is not None]


def lock(target: Target, persona: Persona, failures: int) -> None:
    """``failures`` identity failures on ② in a browser of its own; the last must
    answer R-ERR-HOST-3 (403 locked_now), the ones before it R-ERR-HOST-2."""
    visit = start_visit(target, persona)
    try:
        walk_to(visit, "SOA202")
        for n in range(1, failures + 1):
            answer = visit.press("/connect/customer", persona.details(name_kana=WRONG_NAME))
            expected = (403, ["locked_now"]) if n == failures else (422, ["identity_mismatch"])
            assert (answer.status, answer.codes) == expected, (n, answer.status, answer.body)
    finally:
        visit.close()


def lock_of(sandbox: Sandbox, account_id: str) -> dict[str, Any] | None:
    found = [entry for entry in sandbox.locks() if entry["account"] == account_id]
    return found[0] if found else None


def api_error(r: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body.get("errorCode") == code, body
    assert body.get("errorMessage"), body
    return body


# -- 前提 (given) ------------------------------------------------------------------------------


@given(parsers.parse('時計が今日（実際の日付）の "{time}" を指している'))
def clock_today(sandbox: Sandbox, time: str) -> None:
    """Dates the scenario writes relative to the day the bank was built (a card not
    yet issued, R-ACCT-2; the months of history, R-ACCT-4) hold for the real
    date: back to real time, then the clock stands at ``time`` (JST) of that day."""
    r = sandbox.request("DELETE", "/sandbox/clock")
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


@given(parsers.parse('口座 "{persona_id}" が本人認証の誤り {failures:d} 回でロックされている'))
@when(
    parsers.parse(
        '口座 "{persona_id}" が別のブラウザで本人認証の誤り {failures:d} 回でロックされる'
    )
)
def locked(
    target: Target,
    sandbox: Sandbox,
    personas: dict[str, Persona],
    cleanup: list[Any],
    unlocks: set[str],
    persona_id: str,
    failures: int,
) -> None:
    persona = personas[persona_id]
    unlock_after(sandbox, cleanup, unlocks, persona.account_id)
    lock(target, persona, failures)


# -- もし (when) -------------------------------------------------------------------------------


@when(parsers.parse('お客様 "{persona_id}" が改めて API連携認証を始める'), target_fixture="visit")
def begin_again(
    target: Target,
    sandbox: Sandbox,
    personas: dict[str, Persona],
    cleanup: list[Any],
    unlocks: set[str],
    request: pytest.FixtureRequest,
    persona_id: str,
) -> Visit:
    """A new flow in a new browser; the one before, if any, is closed."""
    with contextlib.suppress(pytest.FixtureLookupError):
        request.getfixturevalue("visit").close()
    persona = personas[persona_id]
    unlock_after(sandbox, cleanup, unlocks, persona.account_id)
    return start_visit(target, persona)


@when(parsers.parse('正しい入力で画面 "{screen}" まで進む'))
def walk_on(visit: Visit, screen: str) -> None:
    walk_to(visit, screen)


@when(parsers.parse('画面 "{screen}" で項目 "{names}" を空にして「次へ」を押す'))
def leave_empty(visit: Visit, screen: str, names: str) -> None:
    submit(visit, screen, form_of(visit, screen, **dict.fromkeys(fields(names), "")))


def changed(visit: Visit, screen: str, name: str, value: str) -> dict[str, str]:
    """The right form of ``screen`` with one field in another form. The e-mail is
    typed twice on ②, so ``email`` changes both fields; ``email_confirm`` changes
    only the second."""
    changes = {name: value}
    if name == "email":
        changes["email_confirm"] = value
    return form_of(visit, screen, **changes)


@when(parsers.parse('画面 "{screen}" で項目 "{name}" を "{value}" にして「次へ」を押す'))
def enter_value(visit: Visit, screen: str, name: str, value: str) -> None:
    submit(visit, screen, changed(visit, screen, name, value))


@when(
    parsers.parse('画面 "{screen}" で項目 "{name}" に "{values}" をひとつずつ入れて「次へ」を押す'),
    target_fixture="answers",
)
def enter_values(visit: Visit, screen: str, name: str, values: str) -> list[Answer]:
    """Each of ``values`` (separated by 「／」) in turn, the rest of the form right;
    an input error leaves the customer on ``screen``, so each is tried there."""
    return [
        submit(visit, screen, changed(visit, screen, name, value))
        for value in values.split(SEPARATOR)
    ]


@when(
    parsers.parse('画面②で "{name}" を "{value}" にして「次へ」を {times:d} 回押す'),
    target_fixture="answers",
)
def enter_details_repeatedly(visit: Visit, name: str, value: str, times: int) -> list[Answer]:
    form = visit.persona.details(**{name: value})
    return [submit(visit, "SOA202", form) for _ in range(times)]


@when(
    parsers.parse('暗証番号 "{pin}" を入力して「次へ」を {times:d} 回押す'),
    target_fixture="answers",
)
def enter_pin_repeatedly(visit: Visit, pin: str, times: int) -> list[Answer]:
    return [submit(visit, "SOA211", {"pin": pin}) for _ in range(times)]


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


def next_page_of(visit: Visit, before: dict[str, Any], key: str) -> requests.Response:
    """The page after ``key``, for the same dates as the page ``before``."""
    return transactions(
        visit, dateFrom=before["dateFrom"], dateTo=before["dateTo"], nextItemKey=key
    )


def transactions(visit: Visit, **params: str) -> requests.Response:
    return visit.app.api(
        visit.tokens["access_token"],
        "/v1/accounts/transactions",
        accountId=visit.persona.account_id,
        **params,
    )


# -- ならば (then) -----------------------------------------------------------------------------


@then(parsers.parse("ダイアログ「{text}」が出る"))
def dialog(visit: Visit, text: str) -> None:
    """R-ERR-INPUT-1: one screen-level error (``field`` null), code ``required``."""
    screen_level = [e for e in visit.last.body.get("errors", []) if e.get("field") is None]
    assert screen_level == [{"code": "required", "field": None, "message": text}], visit.last.body


@then(parsers.parse('項目 "{names}" の下にだけ「必ず入力して下さい。」が出る'))
def required_under(visit: Visit, names: str) -> None:
    errors = field_errors(visit.last)
    assert sorted(e["field"] for e in errors) == sorted(fields(names)), errors
    for e in errors:
        assert (e["code"], e["message"]) == ("required", REQUIRED_FIELD), e


def named_invalid(answer: Answer, screen: str, name: str, word: str) -> None:
    """R-ERR-INPUT-2: 422 ``invalid`` under ``name`` alone, on the same screen. The
    text is the project's own, so its wording is not fixed: it must name the
    field (``word``) and must not be the text of an empty field."""
    assert (answer.status, answer.screen_id) == (422, screen), (answer.status, answer.body)
    errors = field_errors(answer)
    assert [(e["field"], e["code"]) for e in errors] == [(name, "invalid")], errors
    message = errors[0]["message"]
    assert word in message and message != REQUIRED_FIELD, errors


@then(
    parsers.parse(
        'どの回も項目 "{name}" の下にだけ、「{word}」を名指しする誤りが出て、画面 "{screen}" のままだった'
    )
)
def invalid_every_time(answers: list[Answer], name: str, word: str, screen: str) -> None:
    assert answers
    for answer in answers:
        named_invalid(answer, screen, name, word)


@then(
    parsers.parse(
        'どの回もステータス {status:d} でエラー "{code}" が表示され、画面 "{screen}" のままだった'
    )
)
def every_time(answers: list[Answer], status: int, code: str, screen: str) -> None:
    assert answers
    for n, answer in enumerate(answers, 1):
        assert (answer.status, answer.codes, answer.screen_id) == (status, [code], screen), (
            n,
            answer.status,
            answer.body,
        )


@then(parsers.parse('画面 "{screen}" に戻っている'))
def back_on(visit: Visit, screen: str) -> None:
    """The error is shown on ``screen``, and the flow is there: opening it again
    shows it (without touching the answer the later steps look at)."""
    assert visit.screen_id == screen, visit.last.body
    again = visit.browser.get(SCREEN_PATHS[screen])
    assert (again.status, again.screen_id) == (200, screen), (again.status, again.body)


@then("この画面に「連携元画面へ」だけがあり、先へは進めない")
def terminal(visit: Visit) -> None:
    """R-ERR-HOST-3/4 end the flow: no screen of it opens any more."""
    assert visit.last.body.get("return_url"), visit.last.body
    for screen in ("SOA202", "SOA211"):
        answer = visit.browser.get(SCREEN_PATHS[screen])
        assert answer.status == 403 and answer.screen_id is None, (screen, answer.body)


@then(parsers.parse('口座 "{persona_id}" のロックは "{until}" まで続く'))
def locked_until(
    sandbox: Sandbox, personas: dict[str, Persona], persona_id: str, until: str
) -> None:
    entry = lock_of(sandbox, personas[persona_id].account_id)
    assert entry is not None, sandbox.locks()
    assert dt.datetime.fromisoformat(entry["locked_until"]) == dt.datetime.fromisoformat(until), (
        entry
    )


@then(parsers.parse('口座 "{persona_id}" はロックされていない'))
def not_locked(sandbox: Sandbox, personas: dict[str, Persona], persona_id: str) -> None:
    entry = lock_of(sandbox, personas[persona_id].account_id)
    assert entry is None, entry


@then(parsers.parse('口座照会で口座 "{account_id}" が返る'))
def reads_account(visit: Visit, account_id: str) -> None:
    r = visit.app.api(visit.tokens["access_token"], "/v1/accounts")
    assert r.status_code == 200, r.text
    accounts = r.json()["accounts"]
    assert [a["accountId"] for a in accounts] == [account_id], accounts
    branch, kind, number = account_id.split("-")
    a = accounts[0]
    assert (a["branchCode"], a["accountTypeCode"], a["accountNumber"]) == (branch, kind, number), a


@then(parsers.parse('残高照会はステータス 200 で口座 "{account_id}" の残高を返す'))
def reads_balance(visit: Visit, account_id: str) -> None:
    r = visit.app.api(visit.tokens["access_token"], "/v1/accounts/balances", accountId=account_id)
    assert r.status_code == 200, r.text
    balances = r.json()["balances"]
    assert [b["accountId"] for b in balances] == [account_id], balances
    assert balances[0]["balance"].isdigit(), balances


@then(parsers.parse('口座照会も残高照会もステータス {status:d} で errorCode "{code}" を返す'))
def account_api_refused(visit: Visit, status: int, code: str) -> None:
    token = visit.tokens["access_token"]
    account = visit.persona.account_id
    api_error(visit.app.api(token, "/v1/accounts"), status, code)
    api_error(visit.app.api(token, "/v1/accounts/balances", accountId=account), status, code)


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


#: INTERFACE.md §5: at most 500 items a page.
PAGE_SIZE = 500


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
