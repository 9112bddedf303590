"""Steps of features/system.feature (R-ERR-SYS-*): faults, congestion and Retry-After."""

from __future__ import annotations

import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import Sandbox
from harness.steps.helpers import FAULTS, Visit, press_right, retry_after_is
from renkei.contract.api import ACCOUNTS_PATH


@given(parsers.parse('障害 "{fault}" が起きている'))
@when(parsers.parse('障害 "{fault}" が起きる'))
def fault_on(sandbox: Sandbox, fault: str) -> None:
    sandbox.faults(**{FAULTS[fault]: True})


@when("障害が解消する")
def faults_off(sandbox: Sandbox) -> None:
    sandbox.faults()


@when("この画面で正しく入力して先へ進もうとする")
def go_on(visit: Visit) -> None:
    press_right(visit)


@then(parsers.parse("Retry-After は {seconds:d} 秒である"))
def retry_after_seconds(visit: Visit, seconds: int) -> None:
    retry_after_is(visit.last, str(seconds))


@then(parsers.parse('Retry-After は "{expected}" である'))
def retry_after_expected(visit: Visit, expected: str) -> None:
    retry_after_is(visit.last, expected)


@then(
    parsers.parse('口座照会はステータス {status:d} でエラー "{code}" になる'),
    target_fixture="api_answer",
)
def api_refused(visit: Visit, status: int, code: str) -> requests.Response:
    r = visit.app.api(visit.tokens["access_token"], ACCOUNTS_PATH)
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json()["errorCode"] == code, r.text
    assert set(r.json()) == {"errorCode", "errorMessage"}, r.text
    return r


@then(parsers.parse('口座APIのエラーメッセージは "{message}" である'))
def api_message(api_answer: requests.Response, message: str) -> None:
    assert api_answer.json()["errorMessage"] == message, api_answer.text


@then(parsers.parse('口座APIの Retry-After は "{expected}" である'))
def api_retry_after(api_answer: requests.Response, expected: str) -> None:
    retry_after_is(api_answer, expected)
