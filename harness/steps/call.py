"""Steps of features/call.feature (R-FLOW-4, R-ERR-CALL-*): the verification call from the
registered phone within 120 s.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pytest_bdd import parsers, then, when

from harness.driver import Browser
from harness.steps.helpers import CALL_POOL, OTHER_PHONE, Visit
from renkei.contract import telephony
from renkei.contract.screens import SCREEN_PATHS, Screen


@when(
    parsers.parse('"{caller}" から "{dialled}" へ発信者番号 "{mode}" で電話する'),
    target_fixture="call_answer",
)
def call(visit: Visit, caller: str, dialled: str, mode: str) -> dict[str, Any]:
    """One call to the gateway (§4). ``dialled`` names the number of screen ④
    (認証先電話番号), optionally with a 184/186 prefix, or 別の認証先電話番号 (one of
    the pool that ④ did not show)."""
    shown = visit.last.body["call_to"]
    numbers = {
        "認証先電話番号": shown,
        "184+認証先電話番号": telephony.WITHHOLD_PREFIX + shown,
        "186+認証先電話番号": telephony.SHOW_PREFIX + shown,
        "別の認証先電話番号": next(n for n in CALL_POOL if n != shown),
    }
    phones = {"登録電話番号": visit.persona.phone, "別の電話": OTHER_PHONE}
    modes = {"通知": telephony.SHOWN, "非通知": telephony.WITHHELD}
    # The visit's phone network (session) and gateway credential, whoever calls.
    phone = replace(visit.phone, number=phones[caller])
    return phone.call(numbers[dialled], modes[mode])


@when("お客様がブラウザを閉じる")
def close_browser(visit: Visit) -> None:
    """R-ERR-CALL-4: the browser session (and its cookie) is gone; the flow stays
    on the server."""
    visit.browser.close()
    visit.browser = Browser(visit.browser.base)


@then(parsers.parse('画面 "{screen}" に戻され、最初からやり直しになる'))
def sent_back(visit: Visit, screen: str) -> None:
    """R-ERR-CALL-2: the answer shows the first screen, which is now the one open."""
    assert visit.screen_id == screen, visit.last.body
    assert visit.browser.get(SCREEN_PATHS[screen]).status == 200
    assert visit.browser.get(SCREEN_PATHS[Screen.CALL.value]).status == 403


@then("電話は応答されず、2〜3回鳴って切れる")
def call_not_answered(call_answer: dict[str, Any]) -> None:
    assert call_answer["answered"] is False, call_answer
    assert call_answer["rings"] in (2, 3), call_answer


@then("ゲートウェイはその電話で本人確認ができたと答える")
def call_verified(call_answer: dict[str, Any]) -> None:
    """``verified`` of §4 is true when the call verified *a* pending challenge of
    the calling phone: one at most, the last shown that it fits. Flows of earlier
    scenarios, left on ④ at the same frozen instant, may be waiting for the same
    phone, so which flow it verified is shown by the flow itself (「確定する」 moves
    on or answers call_pending), never by this flag."""
    assert call_answer["verified"] is True, call_answer
