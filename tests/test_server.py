"""End-to-end over real HTTP: a sandbox bank on a free loopback port.

The partner app is Authlib's OAuth client with PKCE; the customer's browser
speaks JSON (and HTML in the form-post test); the phone is the telephony
gateway. Every error code of INTERFACE.md §3 is reached through the public
interface: the personas, the clock and the fault controls.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import flask
import pytest
import requests
from bankdriver import (
    ACCOUNT,
    CUSTOMER,
    REDIRECT,
    Customer,
    PartnerApp,
    bank_config,
    call,
    csrf_from_html,
    link,
    query,
    walk_json,
)

from harness.personas import load_personas
from simulator.core.flow import Event, FlowState
from simulator.scenario import load_scenario
from simulator.store.state import StaleFlow
from simulator.web.app import create_app
from simulator.web.mail import free_port
from simulator.web.server import RunningServer, start_in_thread
from simulator.web.service import FlowRequest, ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "test-admin-token"
#: The persona five identity failures lock (R-ERR-HOST-3), with the manual's e-mail.
LOCKOUT_PERSONA = load_personas()["lockout"]
LOCKOUT = LOCKOUT_PERSONA.account
LOCKOUT_PERSON = LOCKOUT_PERSONA.details(email=CUSTOMER["email"], email_confirm=CUSTOMER["email"])


def config(path: Path) -> ServiceConfig:
    return bank_config(path, ADMIN)


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_in_thread(config(tmp_path), load_scenario(ROOT / "scenarios/default.yaml"))
    yield running
    running.stop()


def admin(bank: RunningServer, method: str, path: str, **json: object) -> requests.Response:
    return requests.request(
        method,
        bank.url + path,
        json=json or None,
        timeout=10,
        headers={"Authorization": f"Bearer {ADMIN}"},
    )


def set_clock(bank: RunningServer, when: str) -> None:
    r = admin(bank, "PUT", "/sandbox/clock", now=when, frozen=True)
    assert r.status_code == 200, r.text


@pytest.fixture
def weekday_morning(bank: RunningServer) -> RunningServer:
    """A Tuesday 10:15 JST, frozen: inside service hours whatever the real time."""
    set_clock(bank, "2026-11-24T10:15:00+09:00")
    return bank


def test_happy_path_json_oauth_and_account_api(weekday_morning: RunningServer) -> None:
    """R-FLOW-1..6, R-AUTHZ-1, R-AUTHZ-5, R-ACCT-4: the whole flow over HTTP."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    consent = walk_json(bank.url, app, customer)
    assert consent.body["client_name"] == "しんくみアプリwithCRECO"
    assert consent.body["expires_in_days"] == 30
    assert consent.body["scopes"] == ["accounts", "transactions"]
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location and done.location.startswith(REDIRECT)
    back = query(done.location)
    assert back["state"] == app.state and back["code"]
    token = app.exchange(done.location)
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]
    accounts = app.api(token["access_token"], "/v1/accounts").json()["accounts"]
    assert accounts[0]["accountId"] == "115-1-1100026"
    assert accounts[0]["accountNameKana"] == "ﾃﾞｰﾀ ﾀﾛｳ"
    balances = app.api(
        token["access_token"], "/v1/accounts/balances", accountId="115-1-1100026"
    ).json()["balances"]
    assert isinstance(balances[0]["balance"], str) and balances[0]["baseTime"].endswith("+09:00")
    history = app.api(
        token["access_token"],
        "/v1/accounts/transactions",
        accountId="115-1-1100026",
        dateFrom="2026-09-01",
        dateTo="2026-11-24",
    ).json()
    assert history["count"] == len(history["transactions"]) > 0
    too_old = app.api(
        token["access_token"],
        "/v1/accounts/transactions",
        accountId="115-1-1100026",
        dateFrom="2026-08-01",
    )
    assert too_old.status_code == 400 and "2026-08-24" in too_old.json()["errorMessage"]
    refreshed = app.refresh(token["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    mail = admin(bank, "GET", "/sandbox/mail").json()["mail"]
    assert mail and mail[-1]["to"] == "taro@example.jp"
    assert "1357" not in str(admin(bank, "GET", "/sandbox/oplog").json())  # R-AUTHZ-2


def test_code_replay_is_refused_and_revokes(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §1: a code is single use; a second use revokes what it issued."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location
    token = app.exchange(done.location)
    again = requests.post(
        bank.url + "/oauth/token",
        auth=("creco", "creco-secret"),
        timeout=10,
        data={
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": query(done.location)["code"],
            "code_verifier": app.verifier,
        },
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert app.api(token["access_token"], "/v1/accounts").status_code == 401


def test_pkce_is_required_with_s256(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §1: no code_challenge, or plain, goes back to the app as an error."""
    base = weekday_morning.url + "/oauth/authorize"
    params = {
        "response_type": "code",
        "client_id": "creco",
        "redirect_uri": REDIRECT,
        "scope": "accounts",
        "state": "s1",
    }
    for extra in ({}, {"code_challenge": "a" * 43, "code_challenge_method": "plain"}):
        r = requests.get(base, params={**params, **extra}, allow_redirects=False, timeout=10)
        assert r.status_code == 302
        assert query(r.headers["Location"])["error"] == "invalid_request"


def test_unknown_client_or_redirect_gets_a_page_not_a_redirect(bank: RunningServer) -> None:
    """RFC 6749 §4.1.2.1."""
    base = bank.url + "/oauth/authorize"
    for params in (
        {"client_id": "nobody", "redirect_uri": REDIRECT},
        {"client_id": "creco", "redirect_uri": REDIRECT + "/extra"},
    ):
        r = requests.get(
            base, params={"response_type": "code", **params}, timeout=10, allow_redirects=False
        )
        assert r.status_code == 400 and "Location" not in r.headers


def test_html_form_posts_through_all_six_screens(weekday_morning: RunningServer) -> None:
    """R-FLOW-1..6 in HTML: each page has its screen ID, and plain form posts work."""
    bank = weekday_morning
    app = PartnerApp(bank.url)
    browser = requests.Session()
    r = browser.get(app.authorize_url(), timeout=10)
    assert r.status_code == 200 and 'content="SOA201"' in r.text and "画面ID : SOA201" in r.text
    assert "免責事項" in r.text and "注意事項" in r.text

    def post(path: str, data: dict[str, str], page: str) -> requests.Response:
        form = {"csrf_token": csrf_from_html(page), **data}
        return browser.post(bank.url + path, data=form, timeout=10, allow_redirects=True)

    r = post("/connect/account", ACCOUNT, r.text)
    assert "SOA202" in r.text and "店番 115 普通預金 1100026" in r.text
    r = post("/connect/customer", CUSTOMER, r.text)
    assert "SOA208" in r.text and "*******3333" in r.text
    r = post("/connect/phone", {}, r.text)
    assert "SOA209" in r.text and 'href="tel:0120' in r.text
    found = re.search(r"data-call-to>([0-9]+)<", r.text)
    assert found and found.group(1).startswith("0120")
    to = found.group(1)
    assert call(bank.url, "09012343333", to)["verified"]
    r = post("/connect/call", {}, r.text)
    assert "SOA211" in r.text
    r = post("/connect/pin", {"pin": "1357"}, r.text)
    assert "SOA206" in r.text and "認可期間" in r.text and "30日" in r.text
    r = browser.post(
        bank.url + "/connect/consent",
        timeout=10,
        allow_redirects=False,
        data={"csrf_token": csrf_from_html(r.text), "decision": "allow", "agree": "1"},
    )
    assert r.status_code == 302 and r.headers["Location"].startswith(REDIRECT)


def test_empty_fields_show_the_dialog_in_html(weekday_morning: RunningServer) -> None:
    """R-ERR-INPUT-1 in HTML: 「エラー」「入力されていない項目があります。」 and per field."""
    bank = weekday_morning
    browser = requests.Session()
    r = browser.get(PartnerApp(bank.url).authorize_url(), timeout=10)
    r = browser.post(
        bank.url + "/connect/account",
        timeout=10,
        data={"csrf_token": csrf_from_html(r.text), "account_type": "1"},
    )
    assert r.status_code == 422
    assert "入力されていない項目があります。" in r.text and "エラー" in r.text
    assert r.text.count("必ず入力して下さい。") == 2
    assert 'data-error-code="required"' in r.text


@pytest.mark.parametrize(
    ("faults", "code", "status", "oauth_error"),
    [
        ({"congestion": True}, "congested", 503, "temporarily_unavailable"),
        ({"system_error": True}, "system_error", 500, "server_error"),
        ({"service_suspended": True}, "service_unavailable", 503, "temporarily_unavailable"),
    ],
)
def test_r_err_sys_faults_on_a_screen(
    weekday_morning: RunningServer,
    faults: dict[str, bool],
    code: str,
    status: int,
    oauth_error: str,
) -> None:
    """R-ERR-SYS-2/3/4: on the current screen; the flow stays; 「連携元画面へ」 returns."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202")
    assert admin(bank, "PUT", "/sandbox/faults", **faults).status_code == 200
    answer = customer.post("/connect/customer", CUSTOMER)
    assert answer.status == status and answer.codes == [code]
    assert answer.body["screen_id"] == "SOA202" and answer.body["return_url"]
    back = customer.get(answer.body["return_url"])
    assert back.status == 303 and back.location
    assert query(back.location) == {
        "error": oauth_error,
        "error_description": code,
        "state": app.state,
        "iss": bank.url,  # RFC 9207: in error responses too
    }


def test_r_err_sys_1_out_of_hours_with_retry_after(bank: RunningServer) -> None:
    """R-ERR-SYS-1 at /oauth/authorize: 503 with Retry-After until 4:05."""
    set_clock(bank, "2026-11-25T04:01:00+09:00")
    r = requests.get(
        PartnerApp(bank.url).authorize_url(),
        allow_redirects=False,
        timeout=10,
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 503 and r.headers["Retry-After"] == "240"
    assert r.json()["errors"][0]["code"] == "out_of_hours"


def test_lockout_and_b84_then_midnight(weekday_morning: RunningServer, tmp_path: Path) -> None:
    """R-ERR-HOST-2/3/4: 4 mismatches, the 5th locks, then B84; the lock survives a
    restart of the server and lifts at 0:00 JST."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202")
    wrong = {**CUSTOMER, "birth_day": "02"}
    codes = [customer.post("/connect/customer", wrong).codes[0] for _ in range(5)]
    assert codes == ["identity_mismatch"] * 4 + ["locked_now"]
    again = Customer(bank.url)
    walk_json(bank.url, PartnerApp(bank.url), again, until="SOA202")
    b84 = again.post("/connect/customer", CUSTOMER)
    assert b84.status == 403 and b84.codes == ["B84"]
    locks = admin(bank, "GET", "/admin/locks").json()["locks"]
    assert [lock["account"] for lock in locks] == ["115-1-1100026"]


def test_call_errors(weekday_morning: RunningServer) -> None:
    """R-ERR-CALL-1/2/3 through the gateway and the clock."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    shown = walk_json(bank.url, app, customer, until="SOA209")
    to = shown.body["call_to"]
    assert customer.post("/connect/call").codes == ["call_pending"]
    assert not call(bank.url, "09012343333", "184" + to)["verified"]
    assert not call(bank.url, "09012343333", to, "withheld")["verified"]
    assert call(bank.url, "09012343333", "186" + to, "withheld")["verified"]
    admin(bank, "POST", "/sandbox/clock/advance", seconds=121)
    late = customer.post("/connect/call")
    assert late.status == 410 and late.codes == ["call_expired"]
    assert customer.get("/connect/account").status == 200


def test_bank_revocation_and_the_30_day_end(weekday_morning: RunningServer) -> None:
    """R-AUTHZ-3 and R-FLOW-9: revoked by the bank; a fresh grant ends after 30 days."""
    bank = weekday_morning
    tokens = [link(bank.url) for _ in range(2)]
    grants = admin(bank, "GET", "/admin/grants").json()["grants"]
    assert len(grants) == 2
    revoked = admin(bank, "POST", f"/admin/grants/{grants[0]['grant_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "bank"
    # Both grants were made at the same frozen instant, so the listing's order does
    # not say which token the first grant issued: exactly one of them is refused.
    status = [app.api(t["access_token"], "/v1/accounts").status_code for app, t in tokens]
    assert sorted(status) == [200, 401], status
    dead, live = (0, 1) if status[0] == 401 else (1, 0)
    app_dead, token_dead = tokens[dead]
    assert app_dead.refresh(token_dead["refresh_token"]).json()["error"] == "invalid_grant"
    admin(bank, "POST", "/sandbox/clock/advance", seconds=30 * 86400)
    app_live, token_live = tokens[live]
    assert app_live.refresh(token_live["refresh_token"]).json()["error"] == "invalid_grant"


def test_moved_account(weekday_morning: RunningServer) -> None:
    """R-ACCT-3: after the move the old link answers 403 account_moved."""
    bank = weekday_morning
    app, token = link(bank.url)
    moved = admin(
        bank,
        "POST",
        "/admin/accounts/move",
        **{
            "from": ACCOUNT,
            "to": {"branch_no": "033", "account_type": "1", "account_no": "3333333"},
        },
    )
    assert moved.status_code == 200, moved.text
    r = app.api(token["access_token"], "/v1/accounts")
    assert r.status_code == 403 and r.json()["errorCode"] == "account_moved"


def test_controls_need_the_admin_token(bank: RunningServer) -> None:
    r = requests.get(bank.url + "/sandbox/clock", timeout=10)
    assert r.status_code == 401 and r.json()["errorCode"] == "unauthorized"
    r = requests.get(
        bank.url + "/sandbox/clock",
        timeout=10,
        headers={"Authorization": f"Bearer {secrets.token_hex(8)}"},
    )
    assert r.status_code == 401


def test_restart_keeps_grants_and_locks(tmp_path: Path) -> None:
    """Stop the server, start another on the same database: all still there."""
    scenario = load_scenario(ROOT / "scenarios/default.yaml")
    first = start_in_thread(config(tmp_path), scenario)
    try:
        set_clock(first, "2026-11-24T10:15:00+09:00")
        app, customer = PartnerApp(first.url), Customer(first.url)
        walk_json(first.url, app, customer)
        done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
        assert done.location
        token = app.exchange(done.location)
        locker = Customer(first.url)
        walk_json(first.url, PartnerApp(first.url), locker, until="SOA202", account=LOCKOUT)
        for _ in range(5):
            locker.post("/connect/customer", {**LOCKOUT_PERSON, "birth_day": "02"})
    finally:
        first.stop()
    second = start_in_thread(config(tmp_path), scenario)
    try:
        app.base = second.url
        assert app.api(token["access_token"], "/v1/accounts").status_code == 200
        assert len(admin(second, "GET", "/admin/grants").json()["grants"]) == 1
        clock = admin(second, "GET", "/sandbox/clock").json()
        assert clock["now"].startswith("2026-11-24T10:15") and clock["frozen"]
        locks = admin(second, "GET", "/admin/locks").json()["locks"]
        assert [(lock["account"], lock["failures"]) for lock in locks] == [("115-1-3000003", 5)]
    finally:
        second.stop()


def test_input_and_account_errors_over_http(weekday_morning: RunningServer) -> None:
    """R-ERR-INPUT-2 and R-ERR-HOST-1 (persona no-card): the codes, statuses and
    where the flow goes (back to ① after account_unavailable)."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA201")
    bad = customer.post("/connect/account", {**ACCOUNT, "branch_no": "１１５"})
    assert bad.status == 422 and bad.codes == ["invalid"]
    assert bad.body["errors"][0]["field"] == "branch_no"
    no_card = {"branch_no": "115", "account_type": "1", "account_no": "2000001"}
    assert customer.post("/connect/account", no_card).status == 303
    refused = customer.post("/connect/customer", CUSTOMER)
    assert refused.status == 422 and refused.codes == ["account_unavailable"]
    assert refused.body["screen_id"] == "SOA201" and refused.body["return_url"]
    assert refused.body["errors"][0]["message"] == (
        "ご指定の口座は、本サービスではお取り扱いできません。"
    )


def test_order_csrf_and_lost_flow(weekday_morning: RunningServer) -> None:
    """R-FLOW-8 (403, the flow stays), a missing CSRF token (403), R-ERR-CALL-4 (no flow)."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202")
    ahead = customer.get("/connect/pin")
    assert ahead.status == 403 and ahead.codes == ["out_of_order"]
    assert ahead.body["screen_id"] == "SOA202"
    customer.csrf = "forged"
    assert customer.post("/connect/customer", CUSTOMER).codes == ["csrf_failed"]
    stranger = Customer(bank.url)
    lost = stranger.get("/connect/customer")
    assert lost.status == 403 and lost.codes == ["flow_lost"]


def test_cancel_returns_access_denied(weekday_morning: RunningServer) -> None:
    """R-FLOW-7: 「中止する」 shows 「API連携認証を中止しました。」 and 「連携元画面へ」."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA208")
    cancelled = customer.post("/connect/cancel")
    assert cancelled.status == 200 and cancelled.body["message"] == "API連携認証を中止しました。"
    assert query(cancelled.body["return_url"]) == {
        "error": "access_denied",
        "state": app.state,
        "iss": bank.url,  # RFC 9207
    }


def test_introspection_and_app_revocation(weekday_morning: RunningServer) -> None:
    """RFC 7662 and RFC 7009: active until the app revokes its refresh token, which
    ends every token of the grant; metadata (RFC 8414) names both endpoints."""
    bank = weekday_morning
    meta = requests.get(bank.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["revocation_endpoint"].endswith("/oauth/revoke")
    app, token = link(bank.url)
    creds = ("creco", "creco-secret")
    seen = requests.post(bank.url + "/oauth/introspect", auth=creds, timeout=10,
                         data={"token": token["access_token"]}).json()  # fmt: skip
    assert seen["active"] and seen["client_id"] == "creco" and "transactions" in seen["scope"]
    other = requests.post(bank.url + "/oauth/introspect", auth=("kakeibo", "kakeibo-secret"),
                          data={"token": token["access_token"]}, timeout=10)  # fmt: skip
    assert other.json() == {"active": False}
    gone = requests.post(bank.url + "/oauth/revoke", auth=creds, timeout=10,
                         data={"token": token["refresh_token"],
                               "token_type_hint": "refresh_token"})  # fmt: skip
    assert gone.status_code == 200
    after = requests.post(bank.url + "/oauth/introspect", auth=creds, timeout=10,
                          data={"token": token["access_token"]}).json()  # fmt: skip
    assert after == {"active": False}
    assert app.api(token["access_token"], "/v1/accounts").status_code == 401
    grants = admin(bank, "GET", "/admin/grants").json()["grants"]
    assert grants[0]["revoked_by"] == "app" and not grants[0]["active"]


def test_r_authz_4_uninstall_grace_period(weekday_morning: RunningServer) -> None:
    """R-AUTHZ-4: after the partner reports the uninstall, the link goes on for the
    grace period (14 days by default), then refresh answers invalid_grant."""
    bank = weekday_morning
    app, token = link(bank.url)
    grant = admin(bank, "GET", "/admin/grants").json()["grants"][0]
    noticed = admin(bank, "POST", f"/sandbox/grants/{grant['grant_id']}/uninstall").json()
    assert noticed["active"] and noticed["ends_at"].startswith("2026-12-08T10:15")
    admin(bank, "POST", "/sandbox/clock/advance", seconds=13 * 86400)
    renewed = app.refresh(token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    admin(bank, "POST", "/sandbox/clock/advance", seconds=86400)
    ended = app.refresh(renewed.json()["refresh_token"])
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"


def test_a_failed_code_verifier_burns_the_code(weekday_morning: RunningServer) -> None:
    """RFC 7636 §4.6 with RFC 6749 §4.1.2: a wrong verifier fails, and the code is gone."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT,
            "code": query(done.location)["code"]}  # fmt: skip
    for verifier in ("x" * 43, app.verifier):
        r = requests.post(bank.url + "/oauth/token", auth=("creco", "creco-secret"),
                          data={**form, "code_verifier": verifier}, timeout=10)  # fmt: skip
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_account_api_errors(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §5: 401 with WWW-Authenticate, 403 scope, 404 another account,
    400 bad dates, 503 with Retry-After out of hours."""
    bank = weekday_morning
    app, token = link(bank.url)
    access = token["access_token"]
    none = requests.get(bank.url + "/v1/accounts", timeout=10)
    assert none.status_code == 401 and none.headers["WWW-Authenticate"].startswith("Bearer")
    other = app.api(access, "/v1/accounts/balances", accountId="115-1-2000001")
    assert other.status_code == 404
    backwards = app.api(access, "/v1/accounts/transactions", accountId="115-1-1100026",
                        dateFrom="2026-11-20", dateTo="2026-11-01")  # fmt: skip
    assert backwards.status_code == 400 and backwards.json()["errorCode"] == "invalid_parameter"
    garbage = app.api(access, "/v1/accounts/transactions", accountId="115-1-1100026",
                      dateFrom="yesterday")  # fmt: skip
    assert garbage.status_code == 400
    admin(bank, "POST", "/sandbox/maintenance", start="2026-11-24T10:00:00+09:00",
          end="2026-11-24T11:00:00+09:00")  # fmt: skip
    closed = app.api(access, "/v1/accounts")
    assert closed.status_code == 503 and closed.json()["errorCode"] == "out_of_hours"
    assert closed.headers["Retry-After"] == str(45 * 60)


def test_scope_is_enforced(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §5: the kakeibo app holds `accounts` only: 明細 answers 403."""
    bank = weekday_morning
    app = PartnerApp(bank.url, client_id="kakeibo", client_secret="kakeibo-secret",
                     scope="accounts")  # fmt: skip
    app.oauth.redirect_uri = "http://127.0.0.1:8766/callback"
    customer = Customer(bank.url)
    walk_json(bank.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location and done.location.startswith("http://127.0.0.1:8766/callback")
    token = app.exchange(done.location)
    assert app.api(token["access_token"], "/v1/accounts").status_code == 200
    r = app.api(token["access_token"], "/v1/accounts/transactions", accountId="115-1-1100026")
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


def lock_out(bank: RunningServer) -> None:
    """Five identity failures of the lockout persona on ②: its account is locked."""
    customer = Customer(bank.url)
    walk_json(bank.url, PartnerApp(bank.url), customer, until="SOA202", account=LOCKOUT)
    for _ in range(5):
        customer.post("/connect/customer", {**LOCKOUT_PERSON, "birth_day": "02"})
    assert admin(bank, "GET", "/admin/locks").json()["locks"]


def test_an_unlock_forgets_the_failures_of_every_day(weekday_morning: RunningServer) -> None:
    """An operator's unlock after the sandbox clock moved on past 0:00 JST: setting
    the clock back to the day of the failures finds the account unlocked (the
    features lock on one day, wait for the next and unlock; a later scenario back
    on the first day got B84 in a parallel run)."""
    bank = weekday_morning
    lock_out(bank)
    set_clock(bank, "2026-11-25T10:15:00+09:00")
    assert admin(bank, "DELETE", "/admin/locks/115-1-3000003").status_code == 200
    set_clock(bank, "2026-11-24T10:30:00+09:00")
    assert admin(bank, "GET", "/admin/locks").json()["locks"] == []
    again = Customer(bank.url)
    walk_json(bank.url, PartnerApp(bank.url), again, until="SOA202", account=LOCKOUT)
    answer = again.post("/connect/customer", LOCKOUT_PERSON)
    assert answer.status == 303, (answer.status, answer.body)


def test_controls_reset_unlock_and_bad_input(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §6: an operator's unlock, reset to the scenario, and clear 400s."""
    bank = weekday_morning
    lock_out(bank)
    assert admin(bank, "DELETE", "/admin/locks/115-1-3000003").status_code == 200
    assert admin(bank, "GET", "/admin/locks").json()["locks"] == []
    assert admin(bank, "DELETE", "/admin/locks/not-an-account").status_code == 400
    assert admin(bank, "PUT", "/sandbox/faults", congestion="yes").status_code == 400
    assert admin(bank, "PUT", "/sandbox/faults", meteor=True).status_code == 400
    assert admin(bank, "PUT", "/sandbox/clock", now="tomorrow").status_code == 400
    assert admin(bank, "POST", "/sandbox/clock/advance", seconds=-1).status_code == 400
    assert admin(bank, "POST", "/sandbox/maintenance", start="2026-11-24T12:00:00+09:00",
                 end="2026-11-24T11:00:00+09:00").status_code == 400  # fmt: skip
    reset = admin(bank, "POST", "/sandbox/reset").json()
    assert reset["clock"]["real"] and admin(bank, "GET", "/sandbox/oplog").json()["entries"] == []


def test_mail_failure_does_not_undo_the_grant(tmp_path: Path) -> None:
    """R-AUTHZ-5: an SMTP server that refuses: logged, and the authorization stands
    (one attempt allowed here: the outbox's retries are tests/test_mail_outbox.py's)."""
    cfg = replace(config(tmp_path), smtp_host="127.0.0.1", smtp_port=free_port(), mail_attempts=1)
    running = start_in_thread(cfg, load_scenario(ROOT / "scenarios/default.yaml"))
    try:
        set_clock(running, "2026-11-24T10:15:00+09:00")
        app, token = link(running.url)
        assert app.api(token["access_token"], "/v1/accounts").status_code == 200
        mail = admin(running, "GET", "/sandbox/mail").json()["mail"]
        assert [m["status"] for m in mail] == ["failed"]
        kinds = [e["kind"] for e in admin(running, "GET", "/sandbox/oplog").json()["entries"]]
        assert "mail_failed" in kinds and "granted" in kinds
    finally:
        running.stop()


def test_openapi_describes_the_interface(bank: RunningServer) -> None:
    spec = requests.get(bank.url + "/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/v1/accounts", "/v1/accounts/transactions", "/telephony/calls",
                 "/sandbox/clock", "/admin/accounts/move"):  # fmt: skip
        assert path in spec["paths"]
    page = requests.get(bank.url + "/docs", timeout=10)
    assert page.status_code == 200 and "/v1/accounts/balances" in page.text


def test_screens_take_a_json_body(weekday_morning: RunningServer) -> None:
    """INTERFACE.md §2: the JSON form also accepts a JSON body."""
    bank = weekday_morning
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA201")
    r = customer.session.post(bank.url + "/connect/account", timeout=10, allow_redirects=False,
                              json={"csrf_token": customer.csrf, **ACCOUNT},
                              headers={"Accept": "application/json"})  # fmt: skip
    assert r.status_code == 303 and r.json() == {"next": "/connect/customer",
                                                 "screen_id": "SOA202"}  # fmt: skip
    bad = customer.session.post(bank.url + "/connect/customer", timeout=10,
                                data="[1, 2", headers={"Content-Type": "application/json",
                                                       "Accept": "application/json"})  # fmt: skip
    assert bad.status_code == 403 and bad.json()["errors"][0]["code"] == "csrf_failed"


def test_authorize_without_scope_gets_the_clients_scopes(weekday_morning: RunningServer) -> None:
    """RFC 6749 §3.3: a request without ``scope`` starts a flow with the client's scopes."""
    bank = weekday_morning
    params = {
        "response_type": "code",
        "client_id": "creco",
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    r = requests.get(
        bank.url + "/oauth/authorize", params=params, allow_redirects=False, timeout=10
    )
    assert r.status_code == 303 and r.headers["Location"] == "/connect/account"


def test_every_answer_says_how_long_the_bank_took(bank: RunningServer) -> None:
    """Server-Timing: on a page, an API error and a 404 alike."""
    for path in ("/oauth/authorize", "/api/v1/accounts", "/no-such-page"):
        timing = requests.get(bank.url + path, timeout=10).headers.get("Server-Timing", "")
        name, _, duration = timing.partition(";dur=")
        assert name == "app" and float(duration) >= 0, (path, timing)


def test_no_flask_session_is_kept(bank: RunningServer) -> None:
    """The flow lives in the database: no session cookie is set, and a
    write to Flask's session by mistake fails instead of signing a cookie."""
    app = create_app(bank.service)
    with app.test_request_context("/"), pytest.raises(RuntimeError):
        flask.session["flow"] = "x"
    answer = requests.get(bank.url + "/oauth/authorize", timeout=10)
    assert "session=" not in answer.headers.get("Set-Cookie", "")


def test_log_lines_are_written_with_the_flow_save_or_as_the_request_ends(
    weekday_morning: RunningServer,
) -> None:
    """R-AUTHZ-6: a request's lines, the flow engine's and the adapter's, wait in its
    FlowRequest for the flow's save and go in its transaction; a stale save writes
    nothing and keeps them waiting; the lines no save took are written as the
    request is done with the flow, in order. No request context: nothing of it
    rides in ``flask.g``."""
    b = weekday_morning.service

    def kinds() -> list[str]:
        return [e["kind"] for e in b.log.entries()]

    with FlowRequest(b) as fr:
        flow = fr.engine.start("creco", REDIRECT, ("accounts",), "s" * 22, "c" * 43)
        assert "start" not in kinds()  # waiting for the save
        fr.save(flow)
        assert kinds()[-1] == "start" and fr.waiting == ()
        stale = b.flows.load(flow.flow_id)
        assert stale is not None
        FlowRequest(b).save(flow)  # another request's save: the copy loaded is now stale
        fr.note("first")
        with pytest.raises(StaleFlow):
            fr.save(stale)
        fr.note("second")
        assert kinds()[-1] == "start"
        assert [e.kind for e in fr.waiting] == ["first", "second"]
    assert kinds()[-2:] == ["first", "second"]


def test_a_request_that_fails_still_writes_its_lines(weekday_morning: RunningServer) -> None:
    """The lines tell of moves already made: a request ending in an exception
    (answered 500 by the app) writes them all the same."""
    b = weekday_morning.service
    with pytest.raises(RuntimeError), FlowRequest(b) as fr:
        fr.note("before_the_fault")
        raise RuntimeError("a fault midway")
    assert b.log.entries()[0]["kind"] == "before_the_fault"


def test_a_stale_save_is_retried_on_one_load_of_the_newer_copy(
    weekday_morning: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """① 「次へ」 whose flow another request saved first, still on ①: pressed again on
    the newer copy, which is loaded once, both to see where it is and to press
    again (two loads for the button: the first copy and the newer one)."""
    b = weekday_morning.service
    app, customer = PartnerApp(weekday_morning.url), Customer(weekday_morning.url)
    assert walk_json(weekday_morning.url, app, customer, until="SOA201").status == 200
    load, save = b.flows.load, b.flows.save
    loads: list[str] = []
    rivals: list[str] = []

    def counted_load(flow_id: str) -> FlowState | None:
        loads.append(flow_id)
        return load(flow_id)

    def save_after_a_rival(
        flow: FlowState, oauth_params: dict[str, str] | None = None, log: Sequence[Event] = ()
    ) -> None:
        if not rivals:  # the gateway, say, saves the same flow first, leaving it on ①
            rival = load(flow.flow_id)
            assert rival is not None and rival.revision == flow.revision
            save(rival)
            rivals.append(flow.flow_id)
        save(flow, oauth_params, log)

    monkeypatch.setattr(b.flows, "load", counted_load)
    monkeypatch.setattr(b.flows, "save", save_after_a_rival)
    done = customer.post("/connect/account", ACCOUNT)
    assert done.status == 303 and done.location == "/connect/customer", done
    assert len(rivals) == 1 and len(loads) == 2 and len(set(loads)) == 1
