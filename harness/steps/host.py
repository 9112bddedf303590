"""Steps of features/host.feature (R-ERR-HOST-*): identity failures, the lockout until
0:00 JST and B84; the lock steps account.feature and input.feature use as well.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from harness.driver import Answer, Sandbox
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.helpers import Visit, lock, lock_of, start_visit, submit, unlock_after
from renkei.contract.screens import SCREEN_PATHS, Screen


@when(parsers.parse('画面②で "{name}" を "{value}" にして「次へ」を押す'))
def enter_details_changed(visit: Visit, name: str, value: str) -> None:
    visit.press(SCREEN_PATHS[Screen.CUSTOMER.value], visit.persona.details(**{name: value}))


@pytest.fixture
def unlocks() -> set[str]:
    """Accounts this module's steps unlock after the scenario (each once)."""
    return set()


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


@when(
    parsers.parse('画面②で "{name}" を "{value}" にして「次へ」を {times:d} 回押す'),
    target_fixture="answers",
)
def enter_details_repeatedly(visit: Visit, name: str, value: str, times: int) -> list[Answer]:
    form = visit.persona.details(**{name: value})
    return [submit(visit, Screen.CUSTOMER.value, form) for _ in range(times)]


@when(
    parsers.parse('暗証番号 "{pin}" を入力して「次へ」を {times:d} 回押す'),
    target_fixture="answers",
)
def enter_pin_repeatedly(visit: Visit, pin: str, times: int) -> list[Answer]:
    return [submit(visit, Screen.PIN.value, {"pin": pin}) for _ in range(times)]


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
    for screen in (Screen.CUSTOMER.value, Screen.PIN.value):
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
