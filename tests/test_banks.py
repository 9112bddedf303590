"""Several credit unions on one platform (INTERFACE.md §10, R-PLAT-1..3), over real HTTP.

A server whose root sandbox is the shipped platform scenario (five banks), and
sandboxes made from it with ``POST /sandboxes``: each bank at ``BASE/banks/CODE/``
with its own issuer, screens, grants and tokens; the first also at BASE; one
clock and one congestion capacity for all; faults and windows a bank's or the
platform's; a deleted sandbox's banks gone with it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bankdriver import TELEPHONY, Customer, PartnerApp, bank_config, walk_persona
from test_sandboxes import rows_of

from harness.personas import BankPeople, Persona, load_banks
from renkei import resources
from renkei.contract import banks as contract
from renkei.contract import sandboxes
from renkei.contract.controls import CLOCK_PATH, FAULTS_PATH
from renkei.contract.oauth import METADATA_PATH
from simulator.scenario import load_platform
from simulator.web.server import RunningServer, start_in_thread

ADMIN = "banks-operator-token"
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}
TUESDAY = "2026-11-24T10:15:00+09:00"
PLATFORM = resources.scenario("platform")
BANKS: dict[str, BankPeople] = load_banks(PLATFORM)
FIRST, SECOND, THIRD = list(BANKS)[:3]


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    config = bank_config(tmp_path, ADMIN)
    config = type(config)(**{**config.__dict__, "database_url": database_url})
    running = start_in_thread(config, load_platform(PLATFORM))
    yield running
    running.stop()
    running.service.db.dispose()


def control(base: str, method: str, path: str, **json: Any) -> requests.Response:
    return requests.request(method, base + path, json=json or None, headers=OPERATOR, timeout=10)


def begin(base: str) -> tuple[PartnerApp, Customer, requests.Response]:
    """A partner app's authorization request at the bank at ``base``, as a browser follows it."""
    app, customer = PartnerApp(base), Customer(base)
    r = customer.session.get(app.authorize_url(), allow_redirects=False, timeout=10)
    return app, customer, r


def link(base: str, persona: Persona, secret: str = TELEPHONY) -> tuple[PartnerApp, Any]:
    """``persona`` links the app end to end at the bank at ``base`` (its gateway given
    ``secret``, the server's by default): the app and its tokens."""
    app = PartnerApp(base)
    return app, app.exchange(walk_persona(base, app.authorize_url(), persona, secret))


def bank_url(base: str, code: str) -> str:
    return base + contract.bank_base(code)


def test_each_bank_is_served_with_its_own_name_and_the_first_also_at_the_base(
    server: RunningServer,
) -> None:
    for code, people in BANKS.items():
        _, customer, r = begin(bank_url(server.url, code))
        assert r.status_code == 303, (code, r.text)
        shown = customer.get("/connect/account")
        assert (shown.status, shown.body["bank_name"]) == (200, people.name), (code, shown)
        assert shown.body["contact_phone"] == people.phone
    _, customer, r = begin(server.url)
    assert customer.get("/connect/account").body["bank_name"] == BANKS[FIRST].name


def test_each_bank_is_its_own_issuer_with_its_metadata_at_both_places(
    server: RunningServer,
) -> None:
    for code in BANKS:
        issuer = bank_url(server.url, code)
        for url in (server.url + contract.metadata_path("", code), issuer + METADATA_PATH):
            r = requests.get(url, timeout=10)
            assert r.status_code == 200, (url, r.text)
            assert r.json()["issuer"] == issuer
            assert r.json()["authorization_endpoint"].startswith(issuer + "/")
    assert requests.get(server.url + METADATA_PATH, timeout=10).json()["issuer"] == server.url


@pytest.mark.parametrize("code", ["1234", "abcd", "99021", ""])
def test_a_code_that_is_no_bank_of_the_platform_is_a_404_naming_it(
    server: RunningServer, code: str
) -> None:
    r = requests.get(server.url + contract.BANK_PREFIX + code + "/connect/account", timeout=10)
    assert r.status_code == 404, r.text
    assert r.json()["errorCode"] == contract.NOT_FOUND


def test_a_token_of_one_bank_is_unknown_at_another_and_good_where_it_was_issued(
    server: RunningServer,
) -> None:
    """R-PLAT-2, with the same customer at two banks and one partner app."""
    one, other = bank_url(server.url, SECOND), bank_url(server.url, THIRD)
    app, tokens = link(one, BANKS[SECOND].personas["two-banks"])
    _, theirs = link(other, BANKS[THIRD].personas["two-banks"])
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 200
    app.base = other
    refused = app.api(tokens["access_token"], "/v1/accounts")
    assert (refused.status_code, refused.json()["errorCode"]) == (401, "invalid_token")
    refresh = app.refresh(tokens["refresh_token"])
    assert (refresh.status_code, refresh.json()["error"]) == (400, "invalid_grant")
    assert app.api(theirs["access_token"], "/v1/accounts").status_code == 200


def test_the_clock_is_the_platforms_and_faults_are_a_banks_or_the_platforms(
    server: RunningServer,
) -> None:
    second = bank_url(server.url, SECOND)
    assert control(second, "PUT", CLOCK_PATH, now=TUESDAY, frozen=True).status_code == 200
    for base in (server.url, bank_url(server.url, THIRD)):
        assert control(base, "GET", CLOCK_PATH).json()["now"].startswith("2026-11-24T10:15:00")

    shared = control(server.url, "PUT", FAULTS_PATH, system_error=True, scope="platform")
    assert shared.json() == {
        "congestion": False,
        "system_error": True,
        "service_suspended": False,
        "scope": "platform",
    }
    for code in BANKS:
        _, _, r = begin(bank_url(server.url, code))
        assert r.status_code == 500, (code, r.status_code)
    # A bank's own switch is apart from the platform's, and GET shows both together.
    own = control(second, "PUT", FAULTS_PATH, service_suspended=True)
    assert own.json() == {"congestion": False, "system_error": False, "service_suspended": True}
    assert control(second, "GET", FAULTS_PATH).json()["system_error"] is True
    control(server.url, "PUT", FAULTS_PATH, system_error=False, scope="platform")
    assert begin(second)[2].status_code == 503
    assert begin(bank_url(server.url, THIRD))[2].status_code == 303
    assert begin(server.url)[2].status_code == 303


def test_a_platform_window_closes_every_bank_and_a_banks_only_that_bank(
    server: RunningServer,
) -> None:
    control(server.url, "PUT", CLOCK_PATH, now=TUESDAY, frozen=True)
    window = {"start": "2026-11-24T10:00:00+09:00", "end": "2026-11-24T11:00:00+09:00"}
    third = bank_url(server.url, THIRD)
    mine = control(third, "POST", "/sandbox/maintenance", **window)
    assert mine.status_code == 200 and "scope" not in mine.json(), mine.text
    assert begin(third)[2].status_code == 503
    assert begin(server.url)[2].status_code == 303
    everyone = control(server.url, "POST", "/sandbox/maintenance", **window, scope="platform")
    assert everyone.json()["scope"] == "platform" and len(everyone.json()["maintenance"]) == 1
    for code in BANKS:
        assert begin(bank_url(server.url, code))[2].status_code == 503, code


def test_a_sandbox_of_the_platform_serves_every_bank_and_goes_with_all_their_rows(
    server: RunningServer, database_url: str
) -> None:
    made = requests.post(
        server.url + sandboxes.SANDBOXES_PATH,
        json={"scenario": "platform"},
        headers=OPERATOR,
        timeout=30,
    )
    assert made.status_code == 201, made.text
    box = made.json()
    base, secret = box["base_url"], box["telephony_secret"]
    app, tokens = link(bank_url(base, SECOND), BANKS[SECOND].personas["happy"], secret)
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 200
    # Not at the same bank of the root, nor of another sandbox.
    app.base = bank_url(server.url, SECOND)
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 401
    metadata = requests.get(
        server.url + contract.metadata_path(sandboxes.sandbox_base(box["id"]), SECOND), timeout=10
    )
    assert metadata.json()["issuer"] == bank_url(base, SECOND)
    listed = requests.get(
        server.url + sandboxes.sandbox_path(box["id"]), headers=OPERATOR, timeout=10
    )
    assert listed.json()["counts"]["grants"] == 1
    keys = [box["id"], *(f"{box['id']}.{code}" for code in list(BANKS)[1:])]
    assert all(rows_of(database_url, key) > 0 for key in keys)

    gone = requests.delete(
        server.url + sandboxes.sandbox_path(box["id"]), headers=OPERATOR, timeout=10
    )
    assert gone.status_code == 204
    assert [rows_of(database_url, key) for key in keys] == [0] * len(keys)
    after = requests.get(bank_url(base, SECOND) + "/connect/account", timeout=10)
    assert (after.status_code, after.json()["errorCode"]) == (404, sandboxes.NOT_FOUND)
    app.base = bank_url(base, SECOND)
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 404
