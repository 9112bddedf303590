"""Hostile input: a sample of the campaign, and one regression test for each
defect it found.

The sample runs :mod:`harness.hostile` against a sandbox bank in a thread on a
free loopback port: Hypothesis against the screen forms (INTERFACE.md §2, with
and without a valid flow cookie and CSRF token), the OAuth endpoints (§1), the
account API (§5), the telephony gateway (§4) and the controls (§6); Schemathesis
against ``/openapi.json``; 5 MB bodies. Every answer must be a clear error or a
success: no 5xx but a deliberate 503, no traceback, injected markup escaped, no
redirect off the bank but to the registered redirect URI (``harness.hostile.faults_of``).
The whole campaign is ``benchmarks/campaign_hostile.py``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.driver import JSON
from harness.hostile import (
    ACCOUNT,
    CLIENT_ID,
    REDIRECT,
    SCREEN_FIELDS,
    Bench,
    Seen,
    error_codes,
    faults_of,
    fuzz_forms,
    fuzz_openapi,
    huge_bodies,
)
from renkei.contract.errors import LEAVES_SCREEN
from renkei.contract.oauth import (
    AUTHORIZE_PATH,
    INTROSPECT_PATH,
    METADATA_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
)
from renkei.contract.screens import CANCEL_PATH, FIELDS, FLOW_COOKIE, SCREEN_PATHS, SCREENS, Screen
from renkei.contract.telephony import CALLS_PATH
from simulator.core.screens import DETOURS
from simulator.core.throttle import FailureBudget
from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread
from simulator.web.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "hostile-admin-token"
TELEPHONY = "hostile-telephony-secret"
JSON_ACCEPT = {"Accept": "application/json"}
TIMEOUT = 30
ACCOUNT_SCREEN = SCREENS[Screen.ACCOUNT].path
CUSTOMER_SCREEN = SCREENS[Screen.CUSTOMER].path
CONSENT_SCREEN = SCREENS[Screen.CONSENT].path


def start(database_url: str) -> RunningServer:
    config = ServiceConfig(
        database_url=database_url,
        admin_token=ADMIN,
        pin_key=b"p" * 32,
        secret_key=b"s" * 32,
        telephony_secret=TELEPHONY,
        # The generators send wrong and right credentials from one address: with the
        # throttle on, most right ones would answer 429 unread. The throttle has tests
        # of its own (tests/test_throttle.py).
        auth_throttle=FailureBudget(burst=0),
    )
    return start_in_thread(config, load_scenario(ROOT / "scenarios/default.yaml"))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One sandbox bank for the module; each test puts it back to the scenario."""
    path = tmp_path_factory.mktemp("hostile") / "bank.db"
    bank = start(f"sqlite:///{path}")
    yield bank
    bank.stop()


@pytest.fixture
def bench(running: RunningServer) -> Iterator[Bench]:
    """The scenario's data, faults off, a Tuesday 10:15 JST frozen (service hours)."""
    bench = Bench(running.url, ADMIN, telephony_secret=TELEPHONY)
    bench.restore()
    yield bench
    bench.close()


def admin(
    bench: Bench, method: str, path: str, body: bytes | str | None = None
) -> requests.Response:
    return requests.request(
        method,
        bench.url + path,
        data=body,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
    )


def clear(response: requests.Response, bench: Bench) -> list[str]:
    """The codes of an answer that must also pass :func:`faults_of`."""
    faults = faults_of(Seen.of(response), bench.url)
    assert not faults, (faults, response.status_code, response.text[:300])
    return error_codes(Seen.of(response))


# -- the sample --------------------------------------------------------------------------------


def test_generated_requests_get_clear_answers(bench: Bench) -> None:
    """§1, §2, §4–§6: 30 Hypothesis requests per group, the same every run; the
    headers a generator adds to never reach the driver's own, which every browser
    of the bench sends (the admin token once leaked into them that way)."""
    fuzz_forms(bench, examples=30)
    assert bench.census.total == 150
    assert not bench.census.findings, bench.census.report()
    assert JSON == {"Accept": "application/json"}


def test_the_gateways_requests_reach_past_its_credential(bench: Bench) -> None:
    """§4: most generated calls carry the gateway's secret or the admin token, so that
    their hostile bodies are read and judged (200, or 400 naming the field); the
    others, with none or a wrong one, are the 401 that reads nothing."""
    fuzz_forms(bench, examples=60, groups=("telephony",))
    assert not bench.census.findings, bench.census.report()
    statuses = set(bench.census.statuses[f"POST {CALLS_PATH}"])
    assert 401 in statuses and statuses & {200, 400}, statuses


def test_schemathesis_finds_the_document_kept(bench: Bench) -> None:
    """Every operation of /openapi.json, 3 positive and 3 negative cases each: answers
    as documented, and clear."""
    fuzz_openapi(bench, examples=3)
    # every operation, the five of §9, a bank's metadata (§10) and the footer's
    # three pages among them
    assert len(bench.census.requests) == 52
    assert bench.census.total >= 200
    assert not bench.census.findings, bench.census.report()


def test_five_megabyte_bodies_are_refused_cleanly(bench: Bench) -> None:
    """A body over the server's 64 KiB limit: 413 in the endpoint's own error form."""
    targets = (
        "POST /connect/customer",
        f"POST {TOKEN_PATH}",
        "POST /telephony/calls",
        "PUT /sandbox/clock",
    )
    huge_bodies(bench, targets)
    assert bench.census.total == 3 * len(targets)
    assert not bench.census.findings, bench.census.report()
    assert set(bench.census.statuses[f"POST {TOKEN_PATH} (5 MB)"]) == {413}


def test_right_values_are_the_contracts_fields() -> None:
    """§2: the right values the generators make hostile post what each screen
    posts and have the contract's formats, so that a refusal is the hostile part's."""
    posted = {s.path: set(s.field_names) for s in SCREENS.values()} | {CANCEL_PATH: set()}
    assert {path: set(fields) for path, fields in SCREEN_FIELDS.items()} == posted
    wrong = [
        (name, value)
        for fields in SCREEN_FIELDS.values()
        for name, value in fields.items()
        if not FIELDS[name].matches(value)
    ]
    assert not wrong


def test_the_flows_the_bench_drops_are_where_the_bank_detours() -> None:
    """§2: the bench forgets a held flow after a code that moves it off its screen;
    the contract's list of those codes is the bank's detours, no more, no fewer."""
    assert {d.error.code for d in DETOURS} == LEAVES_SCREEN


# -- what the campaign found -------------------------------------------------------------------


def test_csrf_token_with_non_ascii_is_a_csrf_failure(bench: Bench) -> None:
    """§2: a CSRF token that is not ASCII was a TypeError in hmac.compare_digest (500)."""
    flow = bench.flow_at(ACCOUNT_SCREEN)
    assert flow is not None
    for token in ("０１２", "ﾃﾞｰﾀ", "1357\x00\u202e"):
        r = requests.post(
            bench.url + ACCOUNT_SCREEN,
            data={"csrf_token": token, **ACCOUNT},
            headers={"Cookie": f"{FLOW_COOKIE}={flow.cookie}", **JSON_ACCEPT},
            timeout=TIMEOUT,
        )
        assert r.status_code == 403 and clear(r, bench) == ["csrf_failed"]


@pytest.mark.parametrize(
    ("path", "method"),
    [("/telephony/calls", "POST"), ("/sandbox/clock", "PUT"), ("/sandbox/clock/advance", "POST")],
)
def test_json_nested_too_deep_is_a_bad_request(bench: Bench, path: str, method: str) -> None:
    """§4, §6: 5000 nested arrays exhausted the JSON reader's stack (RecursionError, 500)."""
    r = admin(bench, method, path, "[" * 5000)
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]


def test_json_nested_too_deep_on_a_screen_is_no_fields(bench: Bench) -> None:
    """§2: the JSON form of a screen reads such a body as no fields (no CSRF token)."""
    flow = bench.flow_at(ACCOUNT_SCREEN)
    assert flow is not None
    r = requests.post(
        bench.url + ACCOUNT_SCREEN,
        data="[" * 5000,
        headers={
            "Cookie": f"{FLOW_COOKIE}={flow.cookie}",
            "Content-Type": "application/json",
            **JSON_ACCEPT,
        },
        timeout=TIMEOUT,
    )
    assert r.status_code == 403 and clear(r, bench) == ["csrf_failed"]


@pytest.mark.parametrize(
    "body",
    ['{"seconds": NaN}', '{"seconds": Infinity}', '{"seconds": 1e400}', '{"seconds": -1}'],
)
def test_clock_advance_takes_only_finite_seconds(bench: Bench, body: str) -> None:
    """§6: NaN reached int() in the clock (ValueError, 500)."""
    r = admin(bench, "POST", "/sandbox/clock/advance", body)
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]
    assert admin(bench, "GET", "/sandbox/clock").json()["now"].startswith("2026-11-24T10:15")


@pytest.mark.parametrize(
    "now", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+09:00", "1999-12-31T23:59:59+09:00"]
)
def test_clock_is_set_only_within_the_sandbox_years(bench: Bench, now: str) -> None:
    """§6: 0001-01-01 overflowed (500), and 9999-12-31 was taken and broke the date
    arithmetic of the requests after it."""
    r = admin(bench, "PUT", "/sandbox/clock", json.dumps({"now": now, "frozen": True}))
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]
    assert "2000-01-01" in r.json()["errorMessage"]
    assert admin(bench, "GET", "/sandbox/clock").json()["now"].startswith("2026-11-24T10:15")


def test_clock_cannot_be_advanced_past_the_sandbox_years(bench: Bench) -> None:
    """§6: ten years at a time, but never beyond 2099 (repeated advances overflowed)."""
    admin(bench, "PUT", "/sandbox/clock", json.dumps({"now": "2095-01-01T10:00:00+09:00"}))
    r = admin(bench, "POST", "/sandbox/clock/advance", json.dumps({"seconds": 9 * 365 * 86400}))
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]


def test_maintenance_window_within_the_sandbox_years(bench: Bench) -> None:
    """§6, R-HOURS-6: a window from year 1 to 9999 overflowed (500)."""
    window = {"start": "0001-01-01T00:00:00+00:00", "end": "9999-12-31T23:59:59+00:00"}
    r = admin(bench, "POST", "/sandbox/maintenance", json.dumps(window))
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]
    assert admin(bench, "GET", "/sandbox/maintenance").json() == {"maintenance": []}


@pytest.mark.parametrize("today", ["2000-01-01", "0001-01-01", "9999-12-31"])
def test_reset_to_a_day_the_scenario_cannot_be_built_on(bench: Bench, today: str) -> None:
    """§6: a day before the personas' accounts were opened was a ScenarioError (500)."""
    r = admin(bench, "POST", "/sandbox/reset", json.dumps({"today": today}))
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]


@pytest.mark.parametrize(
    "to",
    [
        {"branch_no": "\x00", "account_type": "1", "account_no": "1"},
        {"branch_no": 22, "account_type": 1, "account_no": 7654321},
        {"branch_no": "０２２", "account_type": "1", "account_no": "7654321"},
        {"branch_no": "022", "account_type": "1", "account_no": "' OR '1'='1"},
    ],
)
def test_move_only_to_an_account_number_a_customer_could_type(bench: Bench, to: object) -> None:
    """§6, R-ACCT-3: the manual's account was moved to "\\x00-1-1" (and numbers were
    taken for strings)."""
    r = admin(bench, "POST", "/admin/accounts/move", json.dumps({"from": ACCOUNT, "to": to}))
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]
    assert bench.flow_at(CUSTOMER_SCREEN) is not None  # ① still finds 115-1-1100026


def test_lone_surrogate_in_json_is_a_bad_request(bench: Bench) -> None:
    """§6: ``"\\ud800"`` is valid JSON text but no database stores it."""
    window = (
        '{"start": "2026-11-25T01:00:00+09:00", "end": "2026-11-25T02:00:00+09:00", '
        '"label": "\\ud800"}'
    )
    r = admin(bench, "POST", "/sandbox/maintenance", window)
    assert r.status_code == 400 and clear(r, bench) == ["invalid_parameter"]


@pytest.mark.parametrize("response_type", ["cöde", 'code"', "code\\", "\u202e"])
def test_authorize_with_a_response_type_authlib_cannot_quote(
    bench: Bench, response_type: str
) -> None:
    """§1: Authlib quoted the response_type in its error description, then refused
    its own error (ValueError, 500). A known client is sent back with the error."""
    params = {
        "response_type": response_type,
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    r = requests.get(
        bench.url + AUTHORIZE_PATH, params=params, allow_redirects=False, timeout=TIMEOUT
    )
    clear(r, bench)
    assert r.status_code == 302 and r.headers["Location"].startswith(REDIRECT + "?")
    assert "error=unsupported_response_type" in r.headers["Location"]
    assert "state=s" in r.headers["Location"]
    unknown = {**params, "client_id": "nobody"}
    r = requests.get(
        bench.url + AUTHORIZE_PATH, params=unknown, allow_redirects=False, timeout=TIMEOUT
    )
    assert r.status_code == 400 and clear(r, bench) == ["unsupported_response_type"]


def test_authorize_with_an_unregistered_redirect_uri_authlib_cannot_quote(bench: Bench) -> None:
    """§1, RFC 6749 §4.1.2.1: an error page, never a redirect (it was a 500)."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": 'http://evil.example/ö"',
        "code_challenge": "a" * 43,
        "code_challenge_method": "S256",
    }
    r = requests.get(
        bench.url + AUTHORIZE_PATH, params=params, allow_redirects=False, timeout=TIMEOUT
    )
    assert r.status_code == 400 and clear(r, bench) == ["invalid_request"]
    assert "Location" not in r.headers


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic " + base64.b64encode(b"\x9e\xff:secret").decode(),  # not UTF-8
        "Basic \xf3\xa9",  # not base64 (not ASCII)
    ],
)
@pytest.mark.parametrize("path", [TOKEN_PATH, REVOKE_PATH, INTROSPECT_PATH])
def test_client_credentials_that_cannot_be_read(
    bench: Bench, authorization: str, path: str
) -> None:
    """§1: Authlib let a UnicodeDecodeError or ValueError through (500): invalid_client."""
    form = {"grant_type": "refresh_token", "refresh_token": "r" * 40, "token": "t" * 40}
    r = requests.post(
        bench.url + path, data=form, headers={"Authorization": authorization}, timeout=TIMEOUT
    )
    assert r.status_code == 401 and clear(r, bench) == ["invalid_client"]


def test_consent_shows_an_invalid_decision(bench: Bench) -> None:
    """§2 ⑥ SOA206: a decision other than allow or deny was refused with no message on
    the HTML screen (no data-error-code for the field)."""
    flow = bench.flow_at(CONSENT_SCREEN)
    assert flow is not None
    r = requests.post(
        bench.url + CONSENT_SCREEN,
        data={"csrf_token": flow.csrf, "decision": "<script>alert(1)</script>", "agree": "1"},
        headers={"Cookie": f"{FLOW_COOKIE}={flow.cookie}"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 422 and clear(r, bench) == ["invalid"]
    assert re.search(r'data-error-code="invalid" data-field="decision"', r.text)


def test_http_errors_in_each_endpoints_own_form(bench: Bench) -> None:
    """A body over the limit, a method not served: §2's screen model on the screens,
    RFC 6749 §5.2 on the token endpoint, §5's errorCode on the API (405 with Allow)."""
    big = "a=" + "x" * (64 * 1024 + 1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = requests.post(
        bench.url + ACCOUNT_SCREEN, data=big, headers={**form, **JSON_ACCEPT}, timeout=TIMEOUT
    )
    assert r.status_code == 413 and r.json()["errors"][0]["code"] == "too_large"
    assert r.json()["screen_id"] is None
    r = requests.post(bench.url + ACCOUNT_SCREEN, data=big, headers=form, timeout=TIMEOUT)
    assert r.status_code == 413 and clear(r, bench) == ["too_large"]
    assert "送信された内容が大きすぎます。" in r.text
    r = requests.post(bench.url + TOKEN_PATH, data=big, headers=form, timeout=TIMEOUT)
    assert r.status_code == 413
    assert r.json() == {"error": "invalid_request", "error_description": "too_large"}
    r = requests.post(bench.url + "/v1/accounts", timeout=TIMEOUT)
    assert r.status_code == 405 and clear(r, bench) == ["method_not_allowed"]
    assert "GET" in r.headers["Allow"]


@pytest.mark.parametrize(
    "cookie", [f'{FLOW_COOKIE}="\\000"', f'{FLOW_COOKIE}="ab\\000cd"', f"{FLOW_COOKIE}=%00"]
)
def test_flow_cookie_with_a_nul(database_url: str, cookie: str) -> None:
    """§2: a quoted cookie decodes ``"\\000"`` to NUL, which PostgreSQL refuses in a
    query (500): it names no flow (on SQLite and PostgreSQL alike)."""
    bank = start(database_url)
    try:
        bench = Bench(bank.url, ADMIN)
        bench.baseline()
        r = requests.post(
            bank.url + ACCOUNT_SCREEN,
            data=ACCOUNT,
            timeout=TIMEOUT,
            headers={"Cookie": cookie, **JSON_ACCEPT},
        )
        assert r.status_code == 403 and clear(r, bench) == ["flow_lost"]
        for path in ("/admin/grants/%00/revoke", "/sandbox/grants/a%00b/uninstall"):
            r = admin(bench, "POST", path)
            assert r.status_code == 404 and clear(r, bench) == ["not_found"]
        bench.close()
    finally:
        bank.stop()


# -- the document Schemathesis reads -----------------------------------------------------------

#: Every public endpoint of INTERFACE.md (§1, §2, §4–§6).
INTERFACE = [
    ("get", METADATA_PATH),
    ("get", AUTHORIZE_PATH),
    ("post", TOKEN_PATH),
    ("post", REVOKE_PATH),
    ("post", INTROSPECT_PATH),
    *[(m, path) for path in SCREEN_PATHS.values() for m in ("get", "post")],
    ("post", CANCEL_PATH),
    ("post", "/telephony/calls"),
    ("get", "/v1/accounts"),
    ("get", "/v1/accounts/balances"),
    ("get", "/v1/accounts/transactions"),
    ("get", "/sandbox/clock"),
    ("put", "/sandbox/clock"),
    ("post", "/sandbox/clock/advance"),
    ("delete", "/sandbox/clock"),
    ("put", "/sandbox/faults"),
    ("post", "/sandbox/maintenance"),
    ("post", "/sandbox/reset"),
    ("get", "/sandbox/mail"),
    ("get", "/sandbox/oplog"),
    ("get", "/admin/locks"),
    ("delete", "/admin/locks/{account}"),
    ("get", "/admin/grants"),
    ("post", "/admin/grants/{grant_id}/revoke"),
    ("post", "/admin/accounts/move"),
]


def test_openapi_describes_every_public_endpoint(bench: Bench) -> None:
    """The document lists every endpoint of INTERFACE.md, each with its errors."""
    spec = requests.get(bench.url + "/openapi.json", timeout=TIMEOUT).json()
    missing = [f"{m.upper()} {p}" for m, p in INTERFACE if m not in spec["paths"].get(p, {})]
    assert not missing
    for method, path in INTERFACE[1:]:  # all but the metadata answer errors
        codes = set(spec["paths"][path][method]["responses"])
        assert codes & {"400", "401", "403", "422"}, f"{method} {path} documents no error"
    assert spec["paths"]["/sandbox/clock"]["get"]["security"] == [{"adminToken": []}]
