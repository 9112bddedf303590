"""Throttling wrong credentials per source (issue 16; docs/hardening.md, "Throttling
wrong credentials"): the rule of :mod:`simulator.core.throttle`, the process's
buckets of :mod:`simulator.web.throttle`, and over real HTTP each kind of credential
(client secrets, bearer tokens, admin tokens, the gateway's secret) refused with
429 and a truthful ``Retry-After`` after its burst, while the right credential from
another source, a legitimate client that never fails and another sandbox go on.

The throttle's clock is the test's own (:class:`Steady`): nothing sleeps. The
servers trust one proxy (``trusted_proxies=1``), so that a request's
``X-Forwarded-For`` is its source and one test can speak from several addresses.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bankdriver import TELEPHONY, bank_config, link
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from harness.hostile.verdict import Seen, faults_of, refused_for_now
from renkei.args import OneLineParser
from renkei.cli import main
from renkei.contract import controls, throttle
from renkei.contract import sandboxes as platform
from renkei.contract.api import ACCOUNTS_PATH, BALANCES_PATH
from renkei.contract.oauth import INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator import serve
from simulator.core.throttle import Bucket, FailureBudget
from simulator.scenario import load_scenario
from simulator.web import openapi
from simulator.web.server import RunningServer, start_in_thread
from simulator.web.throttle import Throttle, behind_proxies, network, proxy_options, source

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "throttle-operator-token"
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}
#: Two sources of the tests, as the trusted proxy reports them.
ATTACKER = {"X-Forwarded-For": "203.0.113.7"}
OTHER = {"X-Forwarded-For": "198.51.100.20"}
TUESDAY = "2026-11-24T10:15:00+09:00"
BUDGET = FailureBudget(burst=20, rate=2.0)


class Steady:
    """A steady clock in seconds that only the test moves."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


# -- the rule ---------------------------------------------------------------------------------


def test_a_source_never_seen_is_judged_and_a_burst_then_the_rate() -> None:
    assert BUDGET.wait(None, 0.0) is None
    bucket = None
    for _ in range(20):
        assert BUDGET.wait(bucket, 0.0) is None
        bucket = BUDGET.spent(bucket, 0.0)
    # Empty: one failure comes back in 0.5 s, said as a whole second.
    assert BUDGET.wait(bucket, 0.0) == 1
    assert BUDGET.wait(bucket, 0.4) == 1
    assert BUDGET.wait(bucket, 0.5) is None


def test_retry_after_is_truthful() -> None:
    """After the whole seconds said, a request is judged; a second earlier it is not."""
    budget = FailureBudget(burst=3, rate=0.25)  # one failure back every 4 s
    bucket = Bucket(-2.5, 0.0)  # three failures judged at once beyond the budget
    seconds = budget.wait(bucket, 0.0)
    assert seconds == 14  # (1 - -2.5) / 0.25
    assert budget.wait(bucket, float(seconds)) is None
    assert budget.wait(bucket, seconds - 1.0) == 1
    assert FailureBudget(burst=1, rate=3.0).wait(Bucket(0.0, 0.0), 0.0) == 1


def test_a_success_spends_nothing_and_gives_nothing_back() -> None:
    """There is no call for a success: an empty bucket stays empty whatever succeeds."""
    bucket = Bucket(0.0, 10.0)
    assert BUDGET.wait(bucket, 10.0) == 1
    assert BUDGET.refilled(bucket, 10.0) == bucket


def test_a_bucket_refills_to_its_burst_and_no_further() -> None:
    assert BUDGET.refilled(Bucket(0.0, 0.0), 3600.0).tokens == 20
    assert BUDGET.is_full(Bucket(0.0, 0.0), 10.0)
    assert not BUDGET.is_full(Bucket(0.0, 0.0), 9.0)
    # A clock that went back gives nothing back.
    assert BUDGET.refilled(Bucket(5.0, 10.0), 2.0) == Bucket(5.0, 10.0)


def test_burst_zero_is_no_throttle_and_a_bad_budget_is_refused() -> None:
    off = FailureBudget(burst=0, rate=0.0)
    assert not off.enabled and off.wait(Bucket(-100.0, 0.0), 0.0) is None
    with pytest.raises(ValueError, match="burst"):
        FailureBudget(burst=-1)
    with pytest.raises(ValueError, match="rate"):
        FailureBudget(burst=5, rate=0.0)


# -- the process's buckets --------------------------------------------------------------------


def test_the_buckets_are_bounded_least_recently_used_first() -> None:
    clock = Steady()
    buckets = Throttle(FailureBudget(burst=1, rate=1.0), now=clock, sources=3)
    for address in ("a", "b", "c", "d"):
        buckets.failed((address, "", "api"))
    assert buckets.kept() == 3
    assert buckets.wait(("a", "", "api")) is None  # forgotten: its whole burst again
    assert buckets.wait(("d", "", "api")) == 1
    # A bucket back to its whole burst is dropped when next looked at.
    clock.advance(1.0)
    assert buckets.wait(("d", "", "api")) is None
    assert buckets.kept() == 2


def test_a_source_that_never_fails_has_no_bucket() -> None:
    buckets = Throttle(BUDGET, now=Steady())
    for _ in range(1000):
        assert buckets.wait(("127.0.0.1", "", "oauth")) is None
    assert buckets.kept() == 0


def _source(trusted_proxies: int, remote: str, forwarded: str | None = None) -> str:
    """The source the throttle keys a request by, behind ``trusted_proxies`` proxies."""
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(source(Request(environ)))
        start_response("204 No Content", [])
        return []

    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    environ = EnvironBuilder(environ_base={"REMOTE_ADDR": remote}, headers=headers).get_environ()
    behind_proxies(app, trusted_proxies)(environ, lambda *_: None)
    return seen[0]


def test_x_forwarded_for_is_read_only_behind_trusted_proxies() -> None:
    assert _source(0, "192.0.2.1", "203.0.113.7") == "192.0.2.1"
    assert _source(1, "10.0.0.1", "203.0.113.7") == "203.0.113.7"
    # The client's own entry is not believed: the proxy's is the last one.
    assert _source(1, "10.0.0.1", "1.2.3.4, 203.0.113.7") == "203.0.113.7"
    assert _source(2, "10.0.0.1", "9.9.9.9, 203.0.113.7, 10.0.0.2") == "203.0.113.7"
    assert _source(1, "10.0.0.1", "2001:db8::5") == "2001:db8::/64"
    assert _source(1, "10.0.0.1") == "10.0.0.1"
    assert proxy_options(0) == {}


def test_an_ipv6_source_is_its_64() -> None:
    assert network("2001:db8:1:2:aaaa::1") == network("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert network("::ffff:192.0.2.5") == "192.0.2.5"
    assert network("192.0.2.5") == "192.0.2.5"
    assert network("") == ""


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Steady:
    return Steady()


@pytest.fixture
def bank(database_url: str, tmp_path: Path, clock: Steady) -> Iterator[RunningServer]:
    config = dataclasses.replace(
        bank_config(tmp_path, ADMIN), database_url=database_url, trusted_proxies=1
    )
    running = start_in_thread(
        config,
        load_scenario(ROOT / "scenarios/default.yaml"),
        throttled=Throttle(config.auth_throttle, now=clock),
    )
    r = requests.put(
        running.url + controls.CLOCK_PATH,
        json={"now": TUESDAY, "frozen": True},
        headers=OPERATOR,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    yield running
    running.stop()
    running.service.db.dispose()


def refused(r: requests.Response) -> int:
    """The seconds a 429 says to wait, having checked it is the throttle's, whole."""
    assert r.status_code == throttle.STATUS, (r.status_code, r.text)
    seconds = r.headers[throttle.RETRY_AFTER]
    assert seconds.isdigit() and int(seconds) >= 1
    return int(seconds)


def introspect(bank: RunningServer, secret: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        bank.url + INTROSPECT_PATH,
        data={"token": "no-such-token"},
        auth=("creco", secret),
        headers=headers,
        timeout=10,
    )


def test_wrong_client_secrets_are_throttled_after_the_burst(
    bank: RunningServer, clock: Steady
) -> None:
    answers = [introspect(bank, f"guess-{i}", ATTACKER) for i in range(25)]
    assert [r.status_code for r in answers[:20]] == [401] * 20
    assert all(r.json()["error"] == "invalid_client" for r in answers[:20])
    for r in answers[20:]:
        assert refused(r) == 1
        assert r.json()["error"] == throttle.OAUTH_ERROR  # RFC 6749 §5.2's form
        assert r.headers["Cache-Control"] == "no-store"
    # The token and revocation endpoints are the same client authentication.
    for path in (TOKEN_PATH, REVOKE_PATH):
        r = requests.post(
            bank.url + path, data={"token": "x"}, auth=("creco", "g"), headers=ATTACKER, timeout=10
        )
        refused(r)
    # The right secret from another source is judged as ever.
    r = introspect(bank, "creco-secret", OTHER)
    assert r.status_code == 200 and r.json() == {"active": False}
    # From the throttled source it is refused unjudged too (the safe choice: a
    # guesser never learns that a guess was right).
    refused(introspect(bank, "creco-secret", ATTACKER))
    # After the Retry-After, an attempt is judged again.
    clock.advance(1)
    assert introspect(bank, "creco-secret", ATTACKER).status_code == 200
    assert introspect(bank, "guess-25", ATTACKER).status_code == 401


def test_a_legitimate_client_at_fifty_a_second_never_sees_429(
    bank: RunningServer, clock: Steady
) -> None:
    """A partner app links, then refreshes and calls the API 50 times a second (the
    throttle's clock), beside an attacker whose client secrets are throttled."""
    app, tokens = link(bank.url)
    for i in range(30):
        introspect(bank, f"guess-{i}", ATTACKER)
    legit, attacker = [], []
    for i in range(150):
        clock.advance(0.02)
        if i % 10 == 0:
            r = app.refresh(tokens["refresh_token"])
            legit.append(r.status_code)
            tokens = r.json()
        legit.append(app.api(tokens["access_token"], ACCOUNTS_PATH).status_code)
        attacker.append(introspect(bank, f"again-{i}", ATTACKER).status_code)
    assert set(legit) == {200}
    assert len(legit) == 165
    # The attacker beside it: 2 a second judged, at most, the rest refused.
    assert attacker.count(401) <= 2 * 3 + 1 and throttle.STATUS in attacker
    # The legitimate client's source was never counted.
    assert bank.platform.throttle.wait(("127.0.0.1", "", "oauth")) is None
    assert bank.platform.throttle.wait(("127.0.0.1", "", "api")) is None
    app.close()


def api_call(bank: RunningServer, token: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(
        bank.url + BALANCES_PATH,
        params={"accountId": "115-1-1100026"},
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=10,
    )


def test_wrong_bearer_tokens_are_throttled_and_a_success_does_not_reset(
    bank: RunningServer, clock: Steady
) -> None:
    app, tokens = link(bank.url)
    good = tokens["access_token"]
    for i in range(19):
        r = api_call(bank, f"guess-{i}", ATTACKER)
        assert r.status_code == 401 and r.json()["errorCode"] == "invalid_token"
    # The right token between the guesses gives nothing back: one failure is left.
    assert api_call(bank, good, ATTACKER).status_code == 200
    assert api_call(bank, "guess-19", ATTACKER).status_code == 401
    r = api_call(bank, "guess-20", ATTACKER)
    assert refused(r) == 1
    assert r.json()["errorCode"] == throttle.ERROR_CODE  # the API's error form
    refused(api_call(bank, good, ATTACKER))  # unjudged, the right token too
    assert api_call(bank, good, OTHER).status_code == 200
    assert api_call(bank, good, {}).status_code == 200  # the app's own address
    # Client authentication is another kind: the attacker's OAuth bucket is whole.
    r = app.refresh(tokens["refresh_token"])
    assert r.status_code == 200
    assert introspect(bank, "guess", ATTACKER).status_code == 401
    clock.advance(0.5)
    assert api_call(bank, r.json()["access_token"], ATTACKER).status_code == 200
    app.close()


def faults(base: str, token: str, headers: dict[str, str]) -> requests.Response:
    return requests.get(
        base + controls.FAULTS_PATH,
        headers={"Authorization": f"Bearer {token}", **headers},
        timeout=10,
    )


def test_wrong_admin_tokens_are_throttled(bank: RunningServer, clock: Steady) -> None:
    answers = [faults(bank.url, f"guess-{i}", ATTACKER) for i in range(21)]
    assert [r.status_code for r in answers[:20]] == [401] * 20
    assert refused(answers[20]) == 1
    assert answers[20].json()["errorCode"] == throttle.ERROR_CODE  # the controls' form
    refused(faults(bank.url, ADMIN, ATTACKER))
    assert faults(bank.url, ADMIN, OTHER).status_code == 200
    # /sandboxes takes the operator's token too: the same bucket, at the root.
    r = requests.get(bank.url + platform.SANDBOXES_PATH, headers=ATTACKER, timeout=10)
    refused(r)
    clock.advance(1)
    assert faults(bank.url, ADMIN, ATTACKER).status_code == 200


def report_call(bank: RunningServer, secret: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        bank.url + CALLS_PATH,
        json={"from": "09012345678", "to": "0120000000", "caller_id": "shown"},
        headers={SECRET_HEADER: secret, **headers},
        timeout=10,
    )


def test_wrong_gateway_secrets_are_throttled(bank: RunningServer, clock: Steady) -> None:
    answers = [report_call(bank, f"guess-{i}", ATTACKER) for i in range(21)]
    assert [r.status_code for r in answers[:20]] == [401] * 20
    assert refused(answers[20]) == 1
    assert answers[20].json()["errorCode"] == throttle.ERROR_CODE
    refused(report_call(bank, TELEPHONY, ATTACKER))
    assert report_call(bank, TELEPHONY, OTHER).status_code == 200
    clock.advance(1)
    assert report_call(bank, TELEPHONY, ATTACKER).status_code == 200


def test_one_sandboxs_failures_do_not_throttle_another(bank: RunningServer) -> None:
    made = []
    for label in ("a", "b"):
        r = requests.post(
            bank.url + platform.SANDBOXES_PATH, json={"label": label}, headers=OPERATOR, timeout=60
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    a, b = made
    for i in range(20):
        assert faults(a["base_url"], f"guess-{i}", ATTACKER).status_code == 401
    refused(faults(a["base_url"], a["admin_token"], ATTACKER))
    # Its record at /sandboxes/ID is the same admin token: the same bucket.
    one = requests.get(
        bank.url + platform.sandbox_path(a["id"]),
        headers={"Authorization": f"Bearer {a['admin_token']}", **ATTACKER},
        timeout=10,
    )
    refused(one)
    # Sandbox b, and the root, from the same source: judged as ever.
    assert faults(b["base_url"], b["admin_token"], ATTACKER).status_code == 200
    assert faults(b["base_url"], "guess", ATTACKER).status_code == 401
    assert faults(bank.url, ADMIN, ATTACKER).status_code == 200


def test_x_forwarded_for_is_not_trusted_by_default(
    database_url: str, tmp_path: Path, clock: Steady
) -> None:
    """Without --trusted-proxies an attacker naming another address each time is
    still one source: waitress drops the header."""
    config = dataclasses.replace(bank_config(tmp_path, ADMIN), database_url=database_url)
    running = start_in_thread(
        config,
        load_scenario(ROOT / "scenarios/default.yaml"),
        throttled=Throttle(config.auth_throttle, now=clock),
    )
    try:
        statuses = [
            introspect(running, "guess", {"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(21)
        ]
        assert statuses == [401] * 20 + [throttle.STATUS]
    finally:
        running.stop()
        running.service.db.dispose()


# -- the hostile-input judge ------------------------------------------------------------------


def test_the_hostile_judge_takes_the_throttles_429_as_a_clear_refusal() -> None:
    json_kind = {"content-type": "application/json"}
    for body in (
        {"errorCode": throttle.ERROR_CODE, "errorMessage": "..."},
        {"error": throttle.OAUTH_ERROR, "error_description": "..."},
    ):
        seen = Seen(throttle.STATUS, {**json_kind, "retry-after": "3"}, json.dumps(body).encode())
        assert faults_of(seen, "http://127.0.0.1:8000") == []
        assert refused_for_now(seen)
        # A 429 that does not say when to come back is not a clear refusal.
        unsaid = Seen(throttle.STATUS, json_kind, json.dumps(body).encode())
        assert faults_of(unsaid, "http://127.0.0.1:8000") == [
            "429 without a Retry-After of whole seconds"
        ]
        assert not refused_for_now(unsaid)


# -- renkei serve ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["20", "x/2", "20/0", "-1/2", "20/inf"])
def test_a_bad_auth_throttle_is_one_line(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", f"--auth-throttle={value}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--auth-throttle" in err


def test_the_options_reach_the_config(tmp_path: Path) -> None:
    parser = OneLineParser(prog="renkei")
    serve.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["serve", "--data-dir", str(tmp_path), "--auth-throttle=5/0.5", "--trusted-proxies=2"]
    )
    config = serve.config_from(args)
    assert config.auth_throttle == FailureBudget(burst=5, rate=0.5)
    assert config.trusted_proxies == 2
    assert Throttle.of(config).budget == config.auth_throttle
    args = parser.parse_args(["serve", "--data-dir", str(tmp_path), "--auth-throttle=off"])
    assert not serve.config_from(args).auth_throttle.enabled
    default = serve.config_from(parser.parse_args(["serve", "--data-dir", str(tmp_path)]))
    assert default.auth_throttle == BUDGET and default.trusted_proxies == 0


# -- the document -----------------------------------------------------------------------------


def test_the_document_names_429_with_retry_after_on_every_throttled_operation() -> None:
    paths = openapi.spec("http://127.0.0.1:8000")["paths"]
    throttled = [
        ("post", TOKEN_PATH),
        ("post", REVOKE_PATH),
        ("post", INTROSPECT_PATH),
        ("get", ACCOUNTS_PATH),
        ("get", BALANCES_PATH),
        ("post", CALLS_PATH),
        ("get", controls.FAULTS_PATH),
        ("put", controls.FAULTS_PATH),
        ("post", platform.SANDBOXES_PATH),
        ("get", platform.SANDBOXES_PATH),
        ("get", platform.sandbox_path("{sandbox_id}")),
        ("delete", platform.sandbox_path("{sandbox_id}")),
    ]
    for method, path in throttled:
        answered = paths[path][method]["responses"]
        assert "429" in answered, (method, path)
        assert answered["429"]["headers"][throttle.RETRY_AFTER]["required"], (method, path)
    # Every control, not only the faults'.
    for path, operations in paths.items():
        if path.startswith(("/sandbox/", "/admin/")):
            for method, operation in operations.items():
                assert "429" in operation["responses"], (method, path)
