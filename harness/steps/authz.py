"""Steps of features/authz.feature (R-AUTHZ, R-FLOW-9): the 認可期間, revocation, tokens,
and what the partner app may and may not receive (no PIN, the completion mail, the log).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from pytest_bdd import parsers, then, when

from harness.driver import Browser, PartnerApp, Phone, Sandbox
from harness.embedded import Target
from harness.personas import Persona
from harness.steps.helpers import (
    Marks,
    Visit,
    grants_of,
    header,
    introspect,
    marks_now,
    pin_fields,
    pin_in,
    scalars_in,
)
from renkei.contract import api, controls
from renkei.contract.screens import SCREEN_PATHS, Screen

#: ②, where the e-mail address is typed.
CUSTOMER_PATH = SCREEN_PATHS[Screen.CUSTOMER.value]


@when(parsers.parse("{days:d} 日待つ"))
def wait_days(sandbox: Sandbox, days: int) -> None:
    sandbox.advance(days * 86400)


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
    phone = Phone.of(target, persona.phone)
    visit = Visit(persona, browser, app, phone, answer)
    if answer.status in (302, 303) and answer.location and not answer.location.startswith("/"):
        visit.returned = answer.location
    return visit


@when(
    parsers.parse('画面②でメールアドレス "{email}" を2回入力して「次へ」を押す'),
    target_fixture="marks",
)
def enter_email(visit: Visit, sandbox: Sandbox, email: str) -> Marks:
    marks = marks_now(sandbox)
    visit.press(CUSTOMER_PATH, visit.persona.details(email=email, email_confirm=email))
    return marks


@when(
    parsers.parse('画面②でお名前 "{name}" とメールアドレス "{email}" を入力して「次へ」を押す'),
    target_fixture="marks",
)
def enter_name_email(visit: Visit, sandbox: Sandbox, name: str, email: str) -> Marks:
    marks = marks_now(sandbox)
    form = visit.persona.details(name_kana=name, email=email, email_confirm=email)
    visit.press(CUSTOMER_PATH, form)
    return marks


@when("連携元アプリが口座情報・残高・明細を照会する", target_fixture="received")
def read_everything(visit: Visit) -> list[str]:
    """Everything the partner app receives from the bank API, as text."""
    token = visit.tokens["access_token"]
    account = visit.persona.account_id
    texts = []
    for path, params in (
        (api.ACCOUNTS_PATH, {}),
        (api.BALANCES_PATH, {"accountId": account}),
        (api.TRANSACTIONS_PATH, {"accountId": account}),
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
        r = sandbox.request("POST", controls.uninstall_path(grant_id))
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


@then("連携元アプリには戻らず、ステータス 400 のエラーページが表示される")
def error_page(visit: Visit) -> None:
    answer = visit.last
    assert answer.status == 400, (answer.status, answer.location, answer.body)
    assert answer.location is None and visit.returned is None, answer.location
    assert answer.codes, answer.body


@then("API連携認証は始まらない")
def no_flow(visit: Visit) -> None:
    """No screen can be opened: the browser was given no flow."""
    answer = visit.browser.get(SCREEN_PATHS[Screen.ACCOUNT.value])
    assert answer.status == 403 and answer.codes == ["flow_lost"], (answer.status, answer.body)


@then("口座照会は 401 で断られる")
def api_unauthorized(visit: Visit) -> None:
    r = visit.app.api(visit.tokens["access_token"], api.ACCOUNTS_PATH)
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
        keys = pin_fields(json.loads(text))
        assert not keys, (keys, text)


@then(parsers.parse('操作ログのどこにも暗証番号 "{wrong}" も正しい暗証番号も現れない'))
def no_pin_in_oplog(visit: Visit, sandbox: Sandbox, wrong: str) -> None:
    entries = sandbox.oplog()
    assert entries, "the operation log is empty"
    text = json.dumps(entries, ensure_ascii=False)
    for pin in (wrong, visit.persona.pin):
        assert not pin_in(text, pin), f"PIN {pin} in the operation log"
    keys = pin_fields(entries)
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
    logged = set(scalars_in(new))
    assert name in logged, new
    assert email in logged, new
