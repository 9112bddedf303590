"""What the step modules share that is not a step: the customer's visit, walking the screens,
the sandbox's clock and marks, reading forms, errors and answers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.driver import TIMEOUT, Answer, Browser, PartnerApp, Phone, Sandbox
from harness.embedded import Target
from harness.personas import Persona
from renkei.contract import api, controls, oauth
from renkei.contract.screens import SCREEN_IDS, SCREEN_PATHS, Screen

#: A Tuesday morning: open by every rule of R-HOURS.
WEEKDAY = "2026-11-24T10:15:00+09:00"
#: A name in half-width kana that is no persona's: an identity failure on ②.
WRONG_NAME = "ﾍﾞﾂｼﾞﾝ ﾃﾞｽ"
#: R-ERR-INPUT-1, verbatim (INTERFACE.md §3): the text under each empty field.
REQUIRED_FIELD = "必ず入力して下さい。"
#: Between the values of one Examples cell.
SEPARATOR = "／"
JST = dt.timezone(dt.timedelta(hours=9))
#: INTERFACE.md §5: at most this many items a page.
PAGE_SIZE = api.PAGE_SIZE
#: R-ERR-SYS-1, verbatim (INTERFACE.md §3).
OUT_OF_HOURS = "ただ今の時間はサービスを行っておりません。ご了承ください。"
#: The switches of PUT /sandbox/faults, by the name the features give them.
FAULTS = {
    "混雑": controls.CONGESTION,
    "システム障害": controls.SYSTEM_ERROR,
    "サービス停止": controls.SERVICE_SUSPENDED,
}
WEEKDAYS = "月火水木金土日"
#: 認証先電話番号 of the default scenario (INTERFACE.md §8).
CALL_POOL = ("0120111111", "0120222222", "0120333333")
#: A phone that is nobody's registered number in the default scenario.
OTHER_PHONE = "09099990000"
#: The answers of a judgment that counts towards the lockout (R-ERR-HOST-2..4): the
#: account may hold failures that a later scenario on the same day would inherit.
COUNTED = frozenset({"identity_mismatch", "locked_now", "B84"})
#: The personas' accounts whose identity or PIN this process's visits had judged
#: wrong since their last unlock (:func:`unlock_if_judged`): only those need one
#: after a scenario, which spares most scenarios a control request.
JUDGED: set[str] = set()


@dataclass
class Visit:
    """One customer going through API連携認証 for one partner app."""

    persona: Persona
    browser: Browser
    app: PartnerApp
    phone: Phone
    answer: Answer | None = None
    #: Where 「連携元画面へ」 or 「許可する」 sent the browser.
    returned: str | None = None
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def last(self) -> Answer:
        assert self.answer is not None, "no screen has been shown yet"
        return self.answer

    @property
    def screen_id(self) -> str | None:
        return self.last.screen_id

    def show(self, path: str) -> Answer:
        self.answer = self.browser.get(path)
        return self.answer

    def press(self, path: str, data: dict[str, str] | None = None) -> Answer:
        """POST a screen; follow a 303 to the next screen as a browser would."""
        posted = self.browser.post(path, data)
        answer = self.browser.follow(posted)
        if answer is posted and answer.status in (302, 303) and answer.location:
            self.returned = answer.location  # back to the partner app
        if COUNTED.intersection(answer.codes):
            JUDGED.add(self.persona.account_id)
        self.answer = answer
        return answer

    def current_path(self) -> str:
        screen = self.screen_id
        assert screen in SCREEN_PATHS, f"not on a screen: {self.last.body}"
        return SCREEN_PATHS[screen]

    def close(self) -> None:
        """Close the HTTP sessions of the browser, the partner app and the phone."""
        self.browser.close()
        self.app.close()
        self.phone.close()


def start_visit(target: Target, persona: Persona, client: str = "creco") -> Visit:
    app = (
        PartnerApp(target.url)
        if client == "creco"
        else PartnerApp(
            target.url,
            client_id=client,
            client_secret=f"{client}-secret",
            redirect_uri="http://127.0.0.1:8766/callback",
            scope=api.SCOPE_OF[api.ACCOUNTS_PATH],
        )
    )
    phone = Phone.of(target, persona.phone)
    visit = Visit(persona, Browser(target.url), app, phone)
    answer = visit.browser.open(app.authorize_url())
    if answer.status == 303 and answer.location:
        answer = visit.browser.get(answer.location)
    elif answer.status == 302 and answer.location:
        visit.returned = answer.location
    visit.answer = answer
    return visit


def press_right(visit: Visit, *, check_call: bool = False) -> None:
    """The button of the screen shown, with this customer's right answers; with
    ``check_call`` the gateway must also answer that the call verified."""
    here = visit.screen_id
    if here not in SCREEN_PATHS:
        raise AssertionError(f"not on a screen: {visit.last.body}")
    screen = Screen(here)
    if screen is Screen.CALL:
        answer = visit.phone.call(visit.last.body["call_to"])
        assert answer["verified"] or not check_call, answer
    visit.press(SCREEN_PATHS[here], RIGHT_ANSWERS[screen](visit.persona))


#: What each screen's button posts with a customer's right answers (INTERFACE.md §2).
RIGHT_ANSWERS: dict[Screen, Callable[[Persona], dict[str, str] | None]] = {
    Screen.ACCOUNT: lambda p: p.account,
    Screen.CUSTOMER: lambda p: p.details(),
    Screen.PHONE: lambda p: None,
    Screen.CALL: lambda p: None,
    Screen.PIN: lambda p: {"pin": p.pin},
    Screen.CONSENT: lambda p: {"decision": "allow", "agree": "1"},
}


def walk_to(visit: Visit, screen: str) -> None:
    """Right answers, screen by screen, until ``screen`` is shown."""
    while visit.screen_id != screen:
        here = visit.screen_id
        assert here in SCREEN_IDS and SCREEN_IDS.index(here) < SCREEN_IDS.index(screen), (
            f"cannot walk from {here} to {screen}: {visit.last.body}"
        )
        press_right(visit, check_call=True)
        assert visit.last.status == 200, visit.last.body


def unlock_if_judged(sandbox: Sandbox, account: str) -> None:
    """After a scenario: unlock ``account`` (forgetting its failures, INTERFACE.md §6)
    if a visit had it judged wrong since its last unlock."""
    if account in JUDGED:
        sandbox.unlock(account)
        JUDGED.discard(account)


def unlock_after(sandbox: Sandbox, cleanup: list[Any], unlocks: set[str], account: str) -> None:
    if account not in unlocks:
        unlocks.add(account)
        cleanup.append(lambda: sandbox.unlock(account))


def sandbox_now(sandbox: Sandbox) -> dt.datetime:
    """The sandbox clock (GET /sandbox/clock), in JST."""
    r = sandbox.request("GET", controls.CLOCK_PATH)
    assert r.status_code == 200, r.text
    return dt.datetime.fromisoformat(r.json()["now"]).astimezone(JST)


def fields(text: str) -> list[str]:
    """A comma-separated list of form fields, as the Examples tables write them."""
    return [f.strip() for f in text.split(",") if f.strip()]


def form_of(visit: Visit, screen: str, **changes: str) -> dict[str, str]:
    """The right form of ``screen`` for this customer, ``changes`` applied."""
    p = visit.persona
    right = {
        Screen.ACCOUNT.value: p.account,
        Screen.CUSTOMER.value: p.details(),
        Screen.PIN.value: {"pin": p.pin},
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
        walk_to(visit, Screen.CUSTOMER.value)
        for n in range(1, failures + 1):
            answer = visit.press(
                SCREEN_PATHS[Screen.CUSTOMER.value], persona.details(name_kana=WRONG_NAME)
            )
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


def changed(visit: Visit, screen: str, name: str, value: str) -> dict[str, str]:
    """The right form of ``screen`` with one field in another form. The e-mail is
    typed twice on ②, so ``email`` changes both fields; ``email_confirm`` changes
    only the second."""
    changes = {name: value}
    if name == "email":
        changes["email_confirm"] = value
    return form_of(visit, screen, **changes)


def next_page_of(visit: Visit, before: dict[str, Any], key: str) -> requests.Response:
    """The page after ``key``, for the same dates as the page ``before``."""
    return transactions(
        visit, dateFrom=before["dateFrom"], dateTo=before["dateTo"], nextItemKey=key
    )


def transactions(visit: Visit, **params: str) -> requests.Response:
    return visit.app.api(
        visit.tokens["access_token"],
        api.TRANSACTIONS_PATH,
        accountId=visit.persona.account_id,
        **params,
    )


def named_invalid(answer: Answer, screen: str, name: str, word: str) -> None:
    """R-ERR-INPUT-2: 422 ``invalid`` under ``name`` alone, on the same screen. The
    text is the project's own, so its wording is not fixed: it must name the
    field (``word``) and must not be the text of an empty field."""
    assert (answer.status, answer.screen_id) == (422, screen), (answer.status, answer.body)
    errors = field_errors(answer)
    assert [(e["field"], e["code"]) for e in errors] == [(name, "invalid")], errors
    message = errors[0]["message"]
    assert word in message and message != REQUIRED_FIELD, errors


@dataclass
class Marks:
    """The newest mail and operation-log ids before a step, so that a later step
    looks only at what this scenario caused."""

    mail: int
    oplog: int


def header(answer: Answer | requests.Response, name: str) -> str | None:
    """A response header, whatever its case."""
    for key, value in answer.headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def retry_after_is(answer: Answer | requests.Response, expected: str) -> None:
    """``expected``: a number of seconds, 「あり」 (a positive integer) or 「なし」."""
    value = header(answer, "Retry-After")
    if expected == "なし":
        assert value is None, f"Retry-After: {value}"
    elif expected == "あり":
        assert value is not None and value.isdigit() and int(value) > 0, f"Retry-After: {value}"
    else:
        assert value == expected, f"Retry-After: {value}, expected {expected}"


def marks_now(sandbox: Sandbox) -> Marks:
    mail = [int(m["id"]) for m in sandbox.mail()]
    log = [int(e["id"]) for e in sandbox.oplog()]
    return Marks(max(mail, default=0), max(log, default=0))


def keys_in(data: Any) -> Iterator[str]:
    """Every key of every object of a JSON document, depth first (no values: a
    random token that happens to contain the letters ``pin`` is not a field)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield str(key)
            yield from keys_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from keys_in(item)


def scalars_in(data: Any) -> Iterator[Any]:
    """Every scalar (not key) of a JSON document, depth first."""
    if isinstance(data, dict):
        for value in data.values():
            yield from scalars_in(value)
    elif isinstance(data, list):
        for item in data:
            yield from scalars_in(item)
    else:
        yield data


def pin_fields(data: Any) -> list[str]:
    """The keys of a JSON document that name a PIN (``pin``, ``cardPin``…)."""
    return [k for k in keys_in(data) if "pin" in k.lower()]


def pin_in(text: str, pin: str) -> bool:
    """``pin`` as a token of its own (not inside a longer number or random string)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(pin)}(?![0-9A-Za-z])", text) is not None


def introspect(visit: Visit, token: str) -> dict[str, Any]:
    app = visit.app
    r = app.http.post(
        app.base + oauth.INTROSPECT_PATH,
        data={"token": token},
        auth=(app.client_id, app.client_secret),
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def grants_of(visit: Visit, sandbox: Sandbox) -> list[str]:
    """The active grants of this customer's account to this app (GET /admin/grants)."""
    ids = [
        str(g["grant_id"])
        for g in sandbox.grants()
        if g["account"] == visit.persona.account_id
        and g["client_id"] == visit.app.client_id
        and g["active"]
    ]
    assert ids, f"no active grant of {visit.persona.account_id} to {visit.app.client_id}"
    return ids
