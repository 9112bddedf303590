"""Steps of features/hours.feature (R-HOURS): the service calendar and maintenance windows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pytest_bdd import given, parsers, then

from harness.driver import Sandbox
from harness.steps.helpers import OUT_OF_HOURS, WEEKDAYS, Visit, retry_after_is
from renkei.contract.screens import Screen


@given(parsers.parse('時計が {weekday}曜日の "{instant}" を指している'))
def clock_on_weekday(sandbox: Sandbox, weekday: str, instant: str) -> None:
    """The clock at ``instant``, after checking the example's own weekday: a wrong
    date in the table fails here rather than testing the wrong day."""
    moment = dt.datetime.fromisoformat(instant)
    assert moment.utcoffset() == dt.timedelta(hours=9), f"{instant} is not JST"
    actual = WEEKDAYS[moment.weekday()]
    assert actual == weekday, f"{instant} is a {actual}曜日, not a {weekday}曜日"
    sandbox.set_clock(instant)


@given(parsers.parse('臨時メンテナンスが "{start}" から "{end}" まで予定されている'))
def maintenance(sandbox: Sandbox, cleanup: list[Any], start: str, end: str) -> None:
    """R-HOURS-6. Windows persist, so the sandbox is reset after the scenario."""
    cleanup.append(sandbox.reset)
    sandbox.maintenance(start, end)


@then(parsers.parse('受付は "{state}" で、再開までの秒数は "{seconds}" である'))
def service_state(visit: Visit, state: str, seconds: str) -> None:
    """R-HOURS: 開いている = screen ① shown; 閉まっている = 503 out_of_hours with
    the verbatim message and Retry-After the seconds until it reopens."""
    answer = visit.last
    if state == "開いている":
        assert seconds == "-", "an open service has no reopening"
        shown = (answer.status, answer.screen_id)
        assert shown == (200, Screen.ACCOUNT.value), (answer.status, answer.body)
        assert not answer.codes, answer.body
    elif state == "閉まっている":
        assert answer.status == 503, (answer.status, answer.body)
        assert answer.codes == ["out_of_hours"], answer.body
        assert [e["message"] for e in answer.body["errors"]] == [OUT_OF_HOURS], answer.body
        retry_after_is(answer, seconds)
    else:
        raise AssertionError(f"受付 is 開いている or 閉まっている, not {state}")
