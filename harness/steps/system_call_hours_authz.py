"""Steps of features/system.feature, call.feature, hours.feature and authz.feature.

System state (R-ERR-SYS-*), the phone call of screen ④ (R-FLOW-4, R-ERR-CALL-*),
service hours (R-HOURS-*) and what follows 「許可する」 (R-AUTHZ-*, and the RFC 6749
/ 7636 behaviours a certifier checks). Everything goes through the public
interface (INTERFACE.md): the driver's browser, partner app, phone and sandbox
controls. State is shared through fixtures: ``visit`` (see ``common.begin``),
``call_answer``, ``api_answer``, ``token_answer`` and ``marks``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import TIMEOUT, Answer, Browser, PartnerApp, Phone, Sandbox
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.common import Visit, press_right, start_visit
from renkei.contract.screens import SCREEN_PATHS

#: R-ERR-SYS-1, verbatim (INTERFACE.md §3).
OUT_OF_HOURS = "ただ今の時間はサービスを行っておりません。ご了承ください。"
#: The switches of PUT /sandbox/faults, by the name the features give them.
FAULTS = {"混雑": "congestion", "システム障害": "system_error", "サービス停止": "service_suspended"}
WEEKDAYS = "月火水木金土日"
#: 認証先電話番号 of the default scenario (INTERFACE.md §8).
CALL_POOL = ("0120111111", "0120222222", "0120333333")
#: A phone that is nobody's registered number in the default scenario.
OTHER_PHONE = "09099990000"


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


def values(data: Any) -> Iterator[Any]:
    """Every key and scalar of a JSON document, depth first."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from values(value)
    elif isinstance(data, list):
        for item in data:
            yield from values(item)
    else:
        yield data


def pin_in(text: str, pin: str) -> bool:
    """``pin`` as a token of its own (not inside a longer number or random string)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(pin)}(?![0-9A-Za-z])", text) is not None


def introspect(visit: Visit, token: str) -> dict[str, Any]:
    app = visit.app
    r = app.http.post(
        app.base + "/oauth/introspect",
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


# -- 前提 / もし (given / when) ----------------------------------------------------------------


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


@when(parsers.parse("{days:d} 日待つ"))
def wait_days(sandbox: Sandbox, days: int) -> None:
    sandbox.advance(days * 86400)


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
        "184+認証先電話番号": "184" + shown,
        "186+認証先電話番号": "186" + shown,
        "別の認証先電話番号": next(n for n in CALL_POOL if n != shown),
    }
    phones = {"登録電話番号": visit.persona.phone, "別の電話": OTHER_PHONE}
    modes = {"通知": "shown", "非通知": "withheld"}
    # The same phone network (session) as the visit's phone, whoever calls.
    phone = Phone(visit.phone.base, phones[caller], visit.phone.session)
    return phone.call(numbers[dialled], modes[mode])


@when("お客様がブラウザを閉じる")
def close_browser(visit: Visit) -> None:
    """R-ERR-CALL-4: the browser session (and its cookie) is gone; the flow stays
    on the server."""
    visit.browser.close()
    visit.browser = Browser(visit.browser.base)


@when("お客様がもう一度連携元アプリから API連携認証を始める")
def begin_again(target: Target, visit: Visit) -> None:
    visit.close()
    again = start_visit(target, visit.persona)
    visit.browser, visit.app, visit.answer = again.browser, again.app, again.answer
    visit.returned, visit.tokens = again.returned, {}


@when(
    parsers.parse(
        'お客様 "{persona_id}" の連携元アプリが、"{name}" を "{value}" にした認可要求を送る'
    ),
    target_fixture="visit",
)
def altered_request(
    target: Target,
    sandbox: Sandbox,
    personas: dict[str, Persona],
    persona_id: str,
    name: str,
    value: str,
) -> Visit:
    """The partner app's authorization request with one parameter changed
    (「なし」: left out)."""
    persona = personas[persona_id]
    app = PartnerApp(target.url)
    url = urlsplit(app.authorize_url())
    params = [(k, v) for k, v in parse_qsl(url.query) if k != name]
    if value != "なし":
        params.append((name, value))
    browser = Browser(target.url)
    answer = browser.open(urlunsplit(url._replace(query=urlencode(params))))
    visit = Visit(persona, browser, app, Phone(target.url, persona.phone), answer)
    if answer.status in (302, 303) and answer.location and not answer.location.startswith("/"):
        visit.returned = answer.location
    return visit


@when(
    parsers.parse('画面②でメールアドレス "{email}" を2回入力して「次へ」を押す'),
    target_fixture="marks",
)
def enter_email(visit: Visit, sandbox: Sandbox, email: str) -> Marks:
    marks = marks_now(sandbox)
    visit.press("/connect/customer", visit.persona.details(email=email, email_confirm=email))
    return marks


@when(
    parsers.parse('画面②でお名前 "{name}" とメールアドレス "{email}" を入力して「次へ」を押す'),
    target_fixture="marks",
)
def enter_name_email(visit: Visit, sandbox: Sandbox, name: str, email: str) -> Marks:
    marks = marks_now(sandbox)
    form = visit.persona.details(name_kana=name, email=email, email_confirm=email)
    visit.press("/connect/customer", form)
    return marks


@when("連携元アプリが口座情報・残高・明細を照会する", target_fixture="received")
def read_everything(visit: Visit) -> list[str]:
    """Everything the partner app receives from the bank API, as text."""
    token = visit.tokens["access_token"]
    account = visit.persona.account_id
    texts = []
    for path, params in (
        ("/v1/accounts", {}),
        ("/v1/accounts/balances", {"accountId": account}),
        ("/v1/accounts/transactions", {"accountId": account}),
    ):
        r = visit.app.api(token, path, **params)
        assert r.status_code == 200, (path, r.text)
        texts.append(r.text)
    texts.append(json.dumps(introspect(visit, token)))
    return texts


@when("お客様の依頼で銀行がこの連携を解除する")
def bank_revokes(visit: Visit, sandbox: Sandbox) -> None:
    """R-AUTHZ-3: POST /admin/grants/{id}/revoke for this account's grants to this app."""
    for grant_id in grants_of(visit, sandbox):
        assert sandbox.revoke(grant_id)["grant_id"] == grant_id


@when("連携元アプリがアンインストールされたことを銀行に知らせる")
def app_uninstalled(visit: Visit, sandbox: Sandbox) -> None:
    """R-AUTHZ-4, renkei's extension: POST /sandbox/grants/{id}/uninstall."""
    for grant_id in grants_of(visit, sandbox):
        r = sandbox.request("POST", f"/sandbox/grants/{grant_id}/uninstall")
        assert r.status_code == 200, r.text


@when(
    "連携元アプリが同じ認可コードをもう一度トークンに交換しようとする",
    target_fixture="token_answer",
)
def exchange_again(visit: Visit) -> requests.Response:
    assert visit.returned and visit.tokens, "the code has not been exchanged once yet"
    app = visit.app
    return app.token_request(
        grant_type="authorization_code",
        code=dict(parse_qsl(urlsplit(visit.returned).query))["code"],
        redirect_uri=app.redirect_uri,
        code_verifier=app.verifier,
    )


# -- ならば (then) -----------------------------------------------------------------------------


@then(parsers.parse("Retry-After は {seconds:d} 秒である"))
def retry_after_seconds(visit: Visit, seconds: int) -> None:
    retry_after_is(visit.last, str(seconds))


@then(parsers.parse('Retry-After は "{expected}" である'))
def retry_after_expected(visit: Visit, expected: str) -> None:
    retry_after_is(visit.last, expected)


@then(parsers.parse('受付は "{state}" で、再開までの秒数は "{seconds}" である'))
def service_state(visit: Visit, state: str, seconds: str) -> None:
    """R-HOURS: 開いている = screen ① shown; 閉まっている = 503 out_of_hours with
    the verbatim message and Retry-After the seconds until it reopens."""
    answer = visit.last
    if state == "開いている":
        assert seconds == "-", "an open service has no reopening"
        assert answer.status == 200 and answer.screen_id == "SOA201", (answer.status, answer.body)
        assert not answer.codes, answer.body
    elif state == "閉まっている":
        assert answer.status == 503, (answer.status, answer.body)
        assert answer.codes == ["out_of_hours"], answer.body
        assert [e["message"] for e in answer.body["errors"]] == [OUT_OF_HOURS], answer.body
        retry_after_is(answer, seconds)
    else:
        raise AssertionError(f"受付 is 開いている or 閉まっている, not {state}")


@then(parsers.parse('画面 "{screen}" に戻され、最初からやり直しになる'))
def sent_back(visit: Visit, screen: str) -> None:
    """R-ERR-CALL-2: the answer shows the first screen, which is now the one open."""
    assert visit.screen_id == screen, visit.last.body
    assert visit.browser.get(SCREEN_PATHS[screen]).status == 200
    assert visit.browser.get(SCREEN_PATHS["SOA209"]).status == 403


@then("電話は応答されず、2〜3回鳴って切れる")
def call_not_answered(call_answer: dict[str, Any]) -> None:
    assert call_answer["answered"] is False, call_answer
    assert call_answer["rings"] in (2, 3), call_answer


@then("ゲートウェイはその電話で本人確認ができたと答える")
def call_verified(call_answer: dict[str, Any]) -> None:
    """``verified`` of §4 is true when the call verified *a* pending challenge of
    the calling phone. Flows of earlier scenarios, left on ④ at the same frozen
    instant, may be waiting for the same phone, so a call that does not verify this
    flow may still answer true: that a call did not verify is shown by the flow
    itself (「確定する」 answers call_pending), never by this flag."""
    assert call_answer["verified"] is True, call_answer


@then("連携元アプリには戻らず、ステータス 400 のエラーページが表示される")
def error_page(visit: Visit) -> None:
    answer = visit.last
    assert answer.status == 400, (answer.status, answer.location, answer.body)
    assert answer.location is None and visit.returned is None, answer.location
    assert answer.codes, answer.body


@then("API連携認証は始まらない")
def no_flow(visit: Visit) -> None:
    """No screen can be opened: the browser was given no flow."""
    answer = visit.browser.get(SCREEN_PATHS["SOA201"])
    assert answer.status == 403 and answer.codes == ["flow_lost"], (answer.status, answer.body)


@then(
    parsers.parse('口座照会はステータス {status:d} でエラー "{code}" になる'),
    target_fixture="api_answer",
)
def api_refused(visit: Visit, status: int, code: str) -> requests.Response:
    r = visit.app.api(visit.tokens["access_token"], "/v1/accounts")
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


@then("口座照会は 401 で断られる")
def api_unauthorized(visit: Visit) -> None:
    r = visit.app.api(visit.tokens["access_token"], "/v1/accounts")
    assert r.status_code == 401, (r.status_code, r.text)
    assert (header(r, "WWW-Authenticate") or "").startswith("Bearer"), r.headers
    assert "errorCode" in r.json(), r.text


@then("リフレッシュトークンで新しいトークンが得られる")
def refreshed(visit: Visit) -> None:
    r = visit.app.refresh(visit.tokens["refresh_token"])
    assert r.status_code == 200, r.text
    tokens = r.json()
    assert tokens["access_token"] != visit.tokens["access_token"], tokens
    visit.tokens = {**visit.tokens, **tokens}


@then("アクセストークンはイントロスペクションで有効である")
def token_active(visit: Visit) -> None:
    body = introspect(visit, visit.tokens["access_token"])
    assert body.get("active") is True, body
    assert body.get("client_id") == visit.app.client_id, body
    assert set(str(body.get("scope", "")).split()) == set(visit.app.scope.split()), body


@then("アクセストークンはイントロスペクションで無効である")
def token_inactive(visit: Visit) -> None:
    body = introspect(visit, visit.tokens["access_token"])
    assert body.get("active") is False, body


@then(parsers.parse('トークン要求は error "{error}" で断られる'))
def token_refused(token_answer: requests.Response, error: str) -> None:
    assert token_answer.status_code == 400, (token_answer.status_code, token_answer.text)
    assert token_answer.json()["error"] == error, token_answer.text
    assert "access_token" not in token_answer.json(), token_answer.text


@then(
    parsers.parse('連携元アプリが受け取ったどこにも暗証番号 "{wrong}" も正しい暗証番号も現れない')
)
def no_pin_to_partner(visit: Visit, received: list[str], wrong: str) -> None:
    """R-AUTHZ-2: the redirect, the token response, the account API's answers and
    the introspection answer carry neither PIN entered on ⑤, nor any field named
    after one."""
    assert visit.returned and visit.tokens, "the flow has not returned to the app"
    texts = [visit.returned, json.dumps(visit.tokens), *received]
    for text in texts:
        for pin in (wrong, visit.persona.pin):
            assert not pin_in(text, pin), f"PIN {pin} in {text}"
    for text in texts[1:]:
        keys = [k for k in values(json.loads(text)) if isinstance(k, str) and "pin" in k.lower()]
        assert not keys, (keys, text)


@then(parsers.parse('操作ログのどこにも暗証番号 "{wrong}" も正しい暗証番号も現れない'))
def no_pin_in_oplog(visit: Visit, sandbox: Sandbox, wrong: str) -> None:
    entries = sandbox.oplog()
    assert entries, "the operation log is empty"
    text = json.dumps(entries, ensure_ascii=False)
    for pin in (wrong, visit.persona.pin):
        assert not pin_in(text, pin), f"PIN {pin} in the operation log"
    keys = {k for k in values(entries) if isinstance(k, str) and "pin" in k.lower()}
    assert not keys, keys


@then(parsers.parse('完了メールが "{email}" 宛てに1通だけ送られている'))
def one_mail(sandbox: Sandbox, marks: Marks, email: str) -> None:
    """R-AUTHZ-5: exactly one mail since ② was sent, to the address given there,
    naming the partner app, from the bank's configured sender."""
    new = [m for m in sandbox.mail() if int(m["id"]) > marks.mail]
    assert len(new) == 1, new
    mail = new[0]
    assert mail["to"] == email, mail
    assert "しんくみアプリwithCRECO" in mail["body"], mail
    assert str(mail["from"]).endswith("@webcenter.anser.or.jp"), mail


@then(
    parsers.parse(
        '操作ログに、画面②で入力したお名前 "{name}" とメールアドレス "{email}" が残っている'
    )
)
def logged_as_entered(sandbox: Sandbox, marks: Marks, name: str, email: str) -> None:
    """R-AUTHZ-6: the kana name exactly as typed (not the bank's filed form) and
    the e-mail, in the operation log since ②."""
    new = [e for e in sandbox.oplog() if int(e["id"]) > marks.oplog]
    logged = set(values(new))
    assert name in logged, new
    assert email in logged, new
