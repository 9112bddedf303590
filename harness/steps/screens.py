"""Steps every feature uses, and the fixtures behind them: the sandbox's state, walking
the screens, and checking what a screen shows (codes, statuses and messages, byte for byte).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from harness.driver import Sandbox, query
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.helpers import WEEKDAY, Visit, start_visit, unlock_if_judged, walk_to
from renkei.contract.api import ACCOUNTS_PATH
from renkei.contract.screens import SCREEN_PATHS, SCREENS, Screen


def pytest_bdd_after_scenario(request: pytest.FixtureRequest) -> None:
    """After every scenario of every feature (passed or not), close its ``visit``.

    pytest-bdd keeps every injected fixture value for the whole run (with pytest
    ≥ 9.1 ``target_fixture`` registers a fixture that is never removed), so each
    scenario's keep-alive connections would stay open to the end; a server's
    connection limit (waitress's default: 100) is then reached half-way through
    the run and every later request waits for its timeout. A visit that a step
    replaced (a second start, a closed browser) is closed by that step.
    """
    try:
        visit = request.getfixturevalue("visit")
    except pytest.FixtureLookupError:
        return
    if isinstance(visit, Visit):
        visit.close()


@pytest.fixture(scope="session")
def controls(target: Target) -> Iterator[Sandbox]:
    """The tester's controls (INTERFACE.md §6) for the whole run, on one keep-alive session."""
    hand = Sandbox(target.url, target.admin_token)
    yield hand
    hand.close()


@pytest.fixture
def sandbox(controls: Sandbox) -> Sandbox:
    """The controls, with faults off and the clock on a weekday morning (R-HOURS open).

    Only what a scenario before may have changed is set again (Sandbox.faults_off,
    Sandbox.frozen_at): most scenarios change neither, and two control requests
    less each is a tenth of a short scenario."""
    controls.faults_off()
    controls.frozen_at(WEEKDAY)
    return controls


@pytest.fixture
def cleanup(sandbox: Sandbox) -> Any:
    """Things a scenario changed in the bank, undone after it (locks, moves)."""
    undo: list[Any] = []
    yield undo
    for action in reversed(undo):
        action()


@given("営業時間内の平日である")
def weekday(sandbox: Sandbox) -> None:
    """The ``sandbox`` fixture has set it; the step says so in the feature."""


@given(parsers.parse('時計が "{instant}" を指している'))
def clock_at(sandbox: Sandbox, instant: str) -> None:
    sandbox.set_clock(instant)


@given(
    parsers.parse('お客様 "{persona_id}" が連携元アプリから API連携認証を始める'),
    target_fixture="visit",
)
def begin(
    target: Target,
    sandbox: Sandbox,
    personas: dict[str, Persona],
    persona_id: str,
    cleanup: list[Any],
) -> Visit:
    persona = personas[persona_id]
    cleanup.append(lambda: unlock_if_judged(sandbox, persona.account_id))
    return start_visit(target, persona)


@given(parsers.parse('画面 "{screen}" まで正しく進む'))
def walked(visit: Visit, screen: str) -> None:
    walk_to(visit, screen)


@when(
    parsers.parse(
        '画面①で店番 "{branch}" 科目 "{kind}" 口座番号 "{number}" を入力して「次へ」を押す'
    )
)
def enter_account(visit: Visit, branch: str, kind: str, number: str) -> None:
    visit.press(
        SCREENS[Screen.ACCOUNT].path,
        {"branch_no": branch, "account_type": kind, "account_no": number},
    )


@when("画面①で口座情報を正しく入力して「次へ」を押す")
def enter_own_account(visit: Visit) -> None:
    visit.press(SCREENS[Screen.ACCOUNT].path, visit.persona.account)


@when("画面②でお客様情報を正しく入力して「次へ」を押す")
def enter_details(visit: Visit) -> None:
    visit.press(SCREENS[Screen.CUSTOMER].path, visit.persona.details())


@when("「電話番号の決定」を押す")
def decide_phone(visit: Visit) -> None:
    visit.press(SCREENS[Screen.PHONE].path)


@when("登録電話番号から認証先電話番号に電話する")
def call_shown(visit: Visit) -> None:
    visit.phone.call(visit.last.body["call_to"])


@when("「確定する」を押す")
def confirm(visit: Visit) -> None:
    visit.press(SCREENS[Screen.CALL].path)


@when(parsers.parse('暗証番号 "{pin}" を入力して「次へ」を押す'))
def enter_pin(visit: Visit, pin: str) -> None:
    visit.press(SCREENS[Screen.PIN].path, {"pin": pin})


@when("正しい暗証番号を入力して「次へ」を押す")
def enter_right_pin(visit: Visit) -> None:
    visit.press(SCREENS[Screen.PIN].path, {"pin": visit.persona.pin})


@when("同意にチェックして「許可する」を押す")
def allow(visit: Visit) -> None:
    visit.press(SCREENS[Screen.CONSENT].path, {"decision": "allow", "agree": "1"})


@when("「連携元画面へ」を押す")
def back_to_app(visit: Visit) -> None:
    url = visit.last.body.get("return_url")
    assert url, f"no 「連携元画面へ」 on this screen: {visit.last.body}"
    if url.startswith("/"):
        answer = visit.browser.get(url)
        assert answer.status in (302, 303) and answer.location, answer
        url = answer.location
    visit.returned = url


@when(parsers.parse("{seconds:d} 秒待つ"))
def wait(sandbox: Sandbox, seconds: int) -> None:
    sandbox.advance(seconds)


@when(parsers.parse('画面 "{screen}" を開こうとする'))
def open_screen(visit: Visit, screen: str) -> None:
    visit.show(SCREEN_PATHS[screen])


@then(parsers.parse('画面 "{screen}" が表示される'))
def shows(visit: Visit, screen: str) -> None:
    assert visit.last.status == 200, visit.last.body
    assert visit.screen_id == screen, visit.last.body


@then(parsers.parse('ステータス {status:d} でエラー "{code}" が表示される'))
def shows_error(visit: Visit, status: int, code: str) -> None:
    assert visit.last.status == status, visit.last.body
    assert code in visit.last.codes, visit.last.body


@then(parsers.parse('エラーメッセージ "{message}" が表示される'))
def shows_message(visit: Visit, message: str) -> None:
    messages = [e["message"] for e in visit.last.body.get("errors", [])]
    assert message in messages, messages


@then(parsers.parse('画面 "{screen}" のままである'))
def stays(visit: Visit, screen: str) -> None:
    assert visit.screen_id == screen, visit.last.body


@then(parsers.parse('連携元アプリに error "{error}" が返る'))
def error_returned(visit: Visit, error: str) -> None:
    assert visit.returned, visit.last
    back = query(visit.returned)
    assert back.get("error") == error and back.get("state") == visit.app.state, back


@then(parsers.parse('連携元アプリに error "{error}" と error_description "{code}" が返る'))
def error_described(visit: Visit, error: str, code: str) -> None:
    error_returned(visit, error)
    assert visit.returned is not None
    assert query(visit.returned).get("error_description") == code


@then(parsers.parse('画面に口座 "{text}" が表示される'))
def shows_account(visit: Visit, text: str) -> None:
    a = visit.last.body["account"]
    shown = f"店番 {a['branch_no']} {a['account_type_name']} {a['account_no']}"
    assert shown == text, visit.last.body


@when("連携元アプリが認可コードをトークンに交換する")
def exchange(visit: Visit) -> None:
    assert visit.returned, visit.last
    visit.tokens = visit.app.exchange(visit.returned)


@then("口座照会ができる")
def can_read(visit: Visit) -> None:
    r = visit.app.api(visit.tokens["access_token"], ACCOUNTS_PATH)
    assert r.status_code == 200, r.text
    assert r.json()["accounts"][0]["accountId"] == visit.persona.account_id


@then(parsers.parse('リフレッシュトークンは error "{error}" で断られる'))
def refresh_refused(visit: Visit, error: str) -> None:
    r = visit.app.refresh(visit.tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == error, r.text


@when(parsers.parse('正しい入力で画面 "{screen}" まで進む'))
def walk_on(visit: Visit, screen: str) -> None:
    walk_to(visit, screen)


@when("お客様がもう一度連携元アプリから API連携認証を始める")
def begin_again(target: Target, visit: Visit) -> None:
    visit.close()
    again = start_visit(target, visit.persona)
    visit.browser, visit.app, visit.answer = again.browser, again.app, again.answer
    visit.returned, visit.tokens = again.returned, {}
