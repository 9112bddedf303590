"""The limits of every free parameter (renkei.contract.limits, issue 16): over its limit
a parameter is a clear error, never a 500, and nothing of the request is stored.

Over real HTTP against a sandbox bank in a thread: ``/oauth/authorize`` (an error
page for ``state``, ``redirect_uri`` and ``client_id``, else ``invalid_request``
back to the app), the token, revocation and introspection endpoints, the screens'
fields (R-ERR-INPUT-2's ``invalid``, the catalogue's words), the label of a
maintenance window and of ``POST /sandboxes``; and the ``state`` of a flow stored
once, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from bankdriver import (
    ACCOUNT,
    CUSTOMER,
    REDIRECT,
    Customer,
    PartnerApp,
    bank_config,
    link,
    query,
    walk_json,
)
from sqlalchemy import func, select

from renkei.contract import limits, oauth
from renkei.contract.sandboxes import LABEL_MAX, SANDBOXES_PATH, YAML_MAX
from renkei.contract.screens import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH
from simulator.core import messages
from simulator.scenario import load_scenario
from simulator.store.schema import flows, oplog
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "limits-admin-token"
JSON = {"Accept": "application/json"}


def start(database_url: str) -> RunningServer:
    config = replace(bank_config(Path("."), ADMIN), database_url=database_url)
    bank = start_in_thread(config, load_scenario(ROOT / "scenarios/default.yaml"))
    r = requests.put(
        bank.url + "/sandbox/clock",
        json={"now": "2026-11-24T10:15:00+09:00", "frozen": True},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return bank


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One bank for the module, in service hours (a Tuesday 10:15 JST, frozen)."""
    running = start(f"sqlite:///{tmp_path_factory.mktemp('limits') / 'bank.db'}")
    yield running
    running.stop()


def count(bank: RunningServer, table: object) -> int:
    with bank.service.db.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def authorize(bank: RunningServer, **changed: str) -> requests.Response:
    """``/oauth/authorize`` of the default scenario's app, with ``changed`` parameters."""
    app = PartnerApp(bank.url)
    url = app.authorize_url()
    params = {**query(url), **changed}
    return requests.get(
        bank.url + oauth.AUTHORIZE_PATH,
        params=params,
        headers=JSON,
        allow_redirects=False,
        timeout=10,
    )


# -- /oauth/authorize --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("state", limits.STATE_MAX),
        ("redirect_uri", limits.REDIRECT_URI_MAX),
        ("client_id", limits.CLIENT_ID_MAX),
    ],
)
def test_what_cannot_go_back_to_the_app_gets_the_error_page(
    bank: RunningServer, name: str, limit: int
) -> None:
    """A ``state``, ``redirect_uri`` or ``client_id`` one character over its limit: 400,
    ``invalid_request``, the page naming the parameter and the limit, never a
    redirect (the finding's 60 KB ``state`` is refused the same way); no flow, no
    line of the log."""
    flows_before, lines_before = count(bank, flows), count(bank, oplog)
    for value in (REDIRECT + "x" * (limit + 1 - len(REDIRECT)), "x" * 60_000):
        r = authorize(bank, **{name: value})
        assert r.status_code == 400 and "Location" not in r.headers, r.text
        error = r.json()["errors"][0]
        assert error["code"] == "invalid_request"
        assert error["message"] == limits.too_long(name, limit)
        assert f"'{name}'" in error["message"] and str(limit) in error["message"]
    assert (count(bank, flows), count(bank, oplog)) == (flows_before, lines_before)


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("scope", limits.SCOPE_MAX),
        ("code_challenge", limits.PKCE_MAX),
        ("response_type", limits.WORD_MAX),
        ("code_challenge_method", limits.WORD_MAX),
    ],
)
def test_what_can_go_back_to_the_app_goes_back_as_invalid_request(
    bank: RunningServer, name: str, limit: int
) -> None:
    """An over-long ``scope`` (valid scopes repeated) or ``code_challenge``, with a
    registered client and redirect URI: back to the app (RFC 6749 §4.1.2.1) with
    ``invalid_request``, the state and ``iss``; nothing stored."""
    flows_before = count(bank, flows)
    value = ("accounts " * limit)[: limit + 1] if name == "scope" else "A" * (limit + 1)
    r = authorize(bank, **{name: value}, state="kept")
    assert r.status_code == 302, r.text
    back = query(r.headers["Location"])
    assert r.headers["Location"].startswith(REDIRECT + "?")
    assert back["error"] == "invalid_request" and back["state"] == "kept"
    assert back["error_description"] == limits.too_long(name, limit)
    assert back["iss"] == bank.url
    assert count(bank, flows) == flows_before


def test_a_state_over_its_limit_is_never_echoed(bank: RunningServer) -> None:
    """Another parameter's error would go back to the app with the state: not a state
    over its limit, which gets the error page."""
    long_state = "s" * (limits.STATE_MAX + 1)
    app = PartnerApp(bank.url)
    app.state = long_state
    r = requests.get(
        app.authorize_url() + "&scope=accounts",  # scope given twice
        headers=JSON,
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 400 and "Location" not in r.headers
    assert long_state not in r.text


def test_at_their_limits_the_parameters_are_taken(bank: RunningServer) -> None:
    """A ``state`` of exactly 1,024 characters starts a flow, and comes back with the code."""
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    app.state = "s" * limits.STATE_MAX
    walk_json(bank.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location
    assert query(done.location)["state"] == app.state
    assert app.exchange(done.location)["access_token"]


# -- the token, revocation and introspection endpoints -------------------------------------------


@pytest.mark.parametrize(
    ("path", "form"),
    [
        (oauth.TOKEN_PATH, {"grant_type": "authorization_code", "code": "c" * 257}),
        (
            oauth.TOKEN_PATH,
            {"grant_type": "authorization_code", "code": "c", "code_verifier": "v" * 129},
        ),
        (
            oauth.TOKEN_PATH,
            {"grant_type": "authorization_code", "code": "c", "redirect_uri": "h" * 2049},
        ),
        (oauth.TOKEN_PATH, {"grant_type": "refresh_token", "refresh_token": "r" * 257}),
        (oauth.TOKEN_PATH, {"grant_type": "g" * 65}),
        (
            oauth.TOKEN_PATH,
            {"grant_type": "refresh_token", "refresh_token": "r", "scope": "s" * 257},
        ),
        (oauth.TOKEN_PATH, {"grant_type": "refresh_token", "client_id": "c" * 65}),
        (oauth.TOKEN_PATH, {"grant_type": "refresh_token", "client_secret": "c" * 257}),
        (oauth.REVOKE_PATH, {"token": "t" * 257}),
        (oauth.INTROSPECT_PATH, {"token": "t" * 257}),
        (oauth.INTROSPECT_PATH, {"token": "t", "token_type_hint": "h" * 65}),
    ],
)
def test_the_token_endpoints_refuse_a_parameter_over_its_limit(
    bank: RunningServer, path: str, form: dict[str, str]
) -> None:
    """RFC 6749 §5.2's ``invalid_request`` naming the parameter and its limit."""
    r = requests.post(bank.url + path, data=form, auth=("creco", "creco-secret"), timeout=10)
    assert r.status_code == 400, r.text
    body = r.json()
    long = next(n for n, v in form.items() if len(v) > limits.TOKEN_LIMITS[n])
    assert body == {
        "error": "invalid_request",
        "error_description": limits.too_long(long, limits.TOKEN_LIMITS[long]),
    }


def test_a_token_over_its_limit_spends_nothing(bank: RunningServer) -> None:
    """A revocation whose ``token`` is too long refuses before any lookup: the app's
    real tokens still work."""
    app, token = link(bank.url)
    too_long = token["refresh_token"] + "x" * limits.TOKEN_MAX
    r = app.http.post(
        bank.url + oauth.REVOKE_PATH,
        data={"token": too_long},
        auth=(app.client_id, app.client_secret),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert app.refresh(token["refresh_token"]).status_code == 200


# -- the screens ---------------------------------------------------------------------------------


def test_an_over_long_field_of_a_screen_is_a_field_error(bank: RunningServer) -> None:
    """R-ERR-INPUT-2 for ②'s name (48 half-width kana) and e-mail (64 characters) one
    over: ``invalid`` under each, in the catalogue's words; the flow stays on ②."""
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA201")
    assert customer.post("/connect/account", ACCOUNT).status == 303
    long_mail = "t" * (MAX_EMAIL_LENGTH + 1 - len("@example.jp")) + "@example.jp"
    person = {
        **CUSTOMER,
        "name_kana": "ｱ" * (MAX_NAME_LENGTH + 1),
        "email": long_mail,
        "email_confirm": long_mail,
    }
    bad = customer.post("/connect/customer", person)
    assert bad.status == 422 and bad.screen_id == "SOA202"
    errors = {e["field"]: e for e in bad.body["errors"]}
    assert errors["name_kana"]["code"] == errors["email"]["code"] == "invalid"
    assert errors["name_kana"]["message"] == messages.INVALID["name_kana"]
    assert errors["email"]["message"] == messages.INVALID["email"]
    at_limit = {**CUSTOMER, "name_kana": CUSTOMER["name_kana"]}
    assert customer.post("/connect/customer", at_limit).status == 303


# -- the controls and the sandboxes ----------------------------------------------------------------


def test_a_maintenance_label_over_its_limit_is_refused(bank: RunningServer) -> None:
    """``POST /sandbox/maintenance``: a label of 201 characters is a 400 naming the
    field, and no window is added; one of 200 is taken."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    window = {"start": "2026-11-25T01:00:00+09:00", "end": "2026-11-25T02:00:00+09:00"}
    url = bank.url + "/sandbox/maintenance"
    long = "x" * (limits.MAINTENANCE_LABEL_MAX + 1)
    r = requests.post(url, json={**window, "label": long}, headers=headers, timeout=10)
    assert r.status_code == 400 and "label" in r.json()["errorMessage"], r.text
    assert long not in str(bank.service.maintenance())
    ok = "x" * limits.MAINTENANCE_LABEL_MAX
    r = requests.post(url, json={**window, "label": ok}, headers=headers, timeout=10)
    assert r.status_code in (200, 201), r.text


def test_a_sandbox_label_over_its_limit_is_refused(bank: RunningServer) -> None:
    """``POST /sandboxes``: a label over ``LABEL_MAX``, or an inline scenario over
    ``YAML_MAX``, is a 400 naming the field, and no sandbox is made."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    r = requests.post(
        bank.url + SANDBOXES_PATH,
        json={"label": "x" * (LABEL_MAX + 1)},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 400 and "label" in r.json()["errorMessage"], r.text
    inline = {"scenario": {"yaml": "x" * (YAML_MAX + 1)}}
    r = requests.post(bank.url + SANDBOXES_PATH, json=inline, headers=headers, timeout=10)
    assert r.status_code == 400 and "yaml" in r.json()["errorMessage"], r.text
    listed = requests.get(bank.url + SANDBOXES_PATH, headers=headers, timeout=10).json()
    assert listed["sandboxes"] == []


# -- state stored once -----------------------------------------------------------------------------


def test_the_state_is_stored_once(database_url: str) -> None:
    """The flow's record keeps the ``state``; its ``oauth_params`` do not (nor the
    other values the record holds), and 「許可する」 still sends it back."""
    bank = start(database_url)
    try:
        app, customer = PartnerApp(bank.url), Customer(bank.url)
        app.state = "once-" + "s" * 1000
        walk_json(bank.url, app, customer)
        with bank.service.db.connect() as c:
            row = c.execute(select(flows.c.record, flows.c.oauth_params)).one()
        assert row.record["state"] == app.state
        assert "state" not in row.oauth_params and "redirect_uri" not in row.oauth_params
        stored = f"{row.record}{row.oauth_params}"
        assert stored.count(app.state) == 1
        done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
        assert done.location and query(done.location)["state"] == app.state
        assert app.exchange(done.location)["access_token"]
    finally:
        bank.stop()
