"""Steps of features/flow.feature (R-FLOW): what each screen shows and where the flow ends."""

from __future__ import annotations

import datetime as dt

from pytest_bdd import parsers, then, when

from harness.driver import Sandbox, query
from harness.steps.helpers import CALL_POOL, Visit
from renkei.contract.controls import CLOCK_PATH
from renkei.contract.screens import CANCEL_PATH, SCREEN_PATHS, Screen

#: ⑥, where the customer decides.
CONSENT_PATH = SCREEN_PATHS[Screen.CONSENT.value]


@when("同意にチェックせずに「許可する」を押す")
def allow_unticked(visit: Visit) -> None:
    visit.press(CONSENT_PATH, {"decision": "allow"})


@when("「拒否する」を押す")
def deny(visit: Visit) -> None:
    visit.press(CONSENT_PATH, {"decision": "deny"})


@when("「中止する」を押す")
def cancel(visit: Visit) -> None:
    visit.press(CANCEL_PATH)


@then("連携元アプリに認可コードと state が返る")
def code_returned(visit: Visit) -> None:
    assert visit.returned, visit.last
    back = query(visit.returned)
    assert visit.returned.startswith(visit.app.redirect_uri)
    assert back.get("code") and back.get("state") == visit.app.state, back


@then(parsers.parse("「{text}」と表示され「連携元画面へ」がある"))
def ended_with(visit: Visit, text: str) -> None:
    assert visit.last.body.get("message") == text, visit.last.body
    assert visit.last.body.get("return_url"), visit.last.body


@then(parsers.parse('登録電話番号が "{masked}" と表示される'))
def shows_masked(visit: Visit, masked: str) -> None:
    assert visit.last.body["masked_phone"] == masked, visit.last.body


@then(parsers.parse("認証先電話番号が番号群のどれかで、期限は表示から {seconds:d} 秒後である"))
def shows_call(visit: Visit, sandbox: Sandbox, seconds: int) -> None:
    body = visit.last.body
    assert body["call_to"] in CALL_POOL, body
    now = dt.datetime.fromisoformat(sandbox._ok("GET", CLOCK_PATH)["now"])
    deadline = dt.datetime.fromisoformat(body["call_deadline"])
    assert deadline - now == dt.timedelta(seconds=seconds), (now, deadline)


@then(
    parsers.parse(
        '連携先 "{client}" と「口座情報・明細情報へのアクセス」「認可期間 30日」が表示される'
    )
)
def shows_consent(visit: Visit, client: str) -> None:
    body = visit.last.body
    assert body["client_name"] == client, body
    assert body["scope_label"] == "口座情報・明細情報へのアクセス", body
    assert body["expires_in_days"] == 30, body
