"""Sandboxes on one server (INTERFACE.md §9, R-PLAT-4), over real HTTP.

Each sandbox is created with ``POST /sandboxes`` and driven at its ``base_url``
by the same parties as tests/test_server.py (the partner app, the customer's
browser, the phone with the sandbox's telephony secret, the tester's controls
with the sandbox's own admin token). Isolation is checked through the public
interface only: what one sandbox was given, every other answers as unknown.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from bankdriver import ACCOUNT, CUSTOMER, MANUAL, Customer, PartnerApp, bank_config, query
from sqlalchemy import create_engine, func, select
from test_server_processes import free_port, stop, wait_until_up

from harness.personas import load_personas
from renkei.contract import sandboxes as contract
from renkei.contract.oauth import METADATA_PATH
from renkei.contract.screens import FLOW_COOKIE
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator.core.clock import SystemClock
from simulator.scenario import load_scenario
from simulator.store.schema import WORLD
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "sandboxes-operator-token"
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}
TUESDAY = "2026-11-24T10:15:00+09:00"
LOCKOUT = load_personas()["lockout"]
LOCKOUT_PERSON = LOCKOUT.details(email=CUSTOMER["email"], email_confirm=CUSTOMER["email"])


class Clock:
    """The real time the server measures sandboxes' lives with, moved by the test."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return SystemClock().now() + self.offset


def start(database_url: str, tmp_path: Path, **limits: Any) -> RunningServer:
    config = bank_config(tmp_path, ADMIN)
    config = type(config)(**{**config.__dict__, "database_url": database_url})
    return start_in_thread(config, load_scenario(ROOT / "scenarios/default.yaml"), **limits)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[RunningServer]:
    running = start(database_url, tmp_path, now=clock)
    yield running
    running.stop()
    running.service.db.dispose()


class Box:
    """A sandbox as its creator holds it: the 201's answer, and its parties."""

    def __init__(self, created: dict[str, Any]) -> None:
        self.created = created
        self.id: str = created["id"]
        self.base: str = created["base_url"]
        self.admin = {"Authorization": f"Bearer {created['admin_token']}"}
        self.secret: str = created["telephony_secret"]

    def control(self, method: str, path: str, **json: Any) -> requests.Response:
        return requests.request(
            method, self.base + path, json=json or None, headers=self.admin, timeout=10
        )

    def call(self, caller: str, to: str) -> requests.Response:
        return requests.post(
            self.base + CALLS_PATH,
            json={"from": caller, "to": to, "caller_id": "shown"},
            headers={SECRET_HEADER: self.secret},
            timeout=10,
        )

    def walk(self, until: str = "SOA206", **given: Any) -> tuple[PartnerApp, Customer, Any]:
        """The manual's customer through the screens, in JSON, until ``until`` is shown."""
        app, customer = PartnerApp(self.base), Customer(self.base)
        r = customer.session.get(app.authorize_url(), allow_redirects=False, timeout=10)
        assert r.status_code == 303, r.text
        account = given.get("account", ACCOUNT)
        person = given.get("person", CUSTOMER)
        steps = [
            ("SOA201", "/connect/account", account),
            ("SOA202", "/connect/customer", person),
            ("SOA208", "/connect/phone", None),
            ("SOA209", "/connect/call", None),
            ("SOA211", "/connect/pin", {"pin": MANUAL.pin}),
        ]
        for screen, path, data in steps:
            shown = customer.get(path)
            assert shown.status == 200 and shown.body["screen_id"] == screen, shown
            if screen == until:
                return app, customer, shown
            if screen == "SOA209":
                answer = self.call(person["phone"], shown.body["call_to"])
                assert answer.status_code == 200 and answer.json()["verified"], answer.text
            done = customer.post(path, data)
            assert done.status == 303, done
        shown = customer.get("/connect/consent")
        assert shown.body["screen_id"] == "SOA206", shown
        return app, customer, shown

    def link(self) -> tuple[PartnerApp, str, dict[str, Any]]:
        """The whole flow ① to ⑥, the code's exchange: the app, the callback, the tokens."""
        app, customer, _ = self.walk()
        done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
        assert done.status == 302 and done.location, done
        return app, done.location, app.exchange(done.location)


def create(server: RunningServer, headers: dict[str, str] | None = None, **body: Any) -> Box:
    r = requests.post(
        server.url + contract.SANDBOXES_PATH,
        json=body,
        headers=OPERATOR if headers is None else headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == contract.sandbox_path(r.json()["id"])
    return Box(r.json())


def post(server: RunningServer, body: object, headers: dict[str, str] = OPERATOR) -> Any:
    return requests.post(
        server.url + contract.SANDBOXES_PATH, json=body, headers=headers, timeout=30
    )


# -- creating, listing, deleting ---------------------------------------------------------------


def test_create_from_a_shipped_name_and_the_answer(server: RunningServer) -> None:
    """201 with every member of §9; the sandbox answers at base_url with its own token."""
    box = create(server, scenario="default", label="partner A", ttl_seconds=3600)
    assert set(box.created) == set(contract.CREATED_FIELDS)
    assert contract.is_sandbox_id(box.id)
    assert box.base == box.created["issuer"] == f"{server.url}/s/{box.id}"
    assert box.created["scenario"] == "default"
    expires = dt.datetime.fromisoformat(box.created["expires_at"])
    assert dt.timedelta(minutes=59) < expires - SystemClock().now() <= dt.timedelta(hours=1)
    assert box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True).status_code == 200
    assert box.control("GET", "/sandbox/clock").json()["now"] == TUESDAY
    # The root's clock was not moved.
    root = requests.get(server.url + "/sandbox/clock", headers=OPERATOR, timeout=10).json()
    assert root["real"] is True


def test_create_from_inline_yaml(server: RunningServer) -> None:
    """An inline scenario is the sandbox's: its bank's name shows on its screens."""
    text = (ROOT / "scenarios/default.yaml").read_text(encoding="utf-8")
    renamed = text.replace("name: 中ノ郷信用組合", "name: インライン信用組合", 1)
    assert renamed != text
    box = create(server, scenario={"yaml": renamed}, label="inline")
    assert box.created["scenario"] == contract.INLINE
    box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    _, _, shown = box.walk(until="SOA201")
    assert shown.body["bank_name"] == "インライン信用組合"
    root_app, root_customer = PartnerApp(server.url), Customer(server.url)
    root_customer.session.get(root_app.authorize_url(), allow_redirects=False, timeout=10)
    assert root_customer.get("/connect/account").body["bank_name"] == "中ノ郷信用組合"


def test_broken_yaml_names_the_line_and_the_field(server: RunningServer) -> None:
    text = (ROOT / "scenarios/default.yaml").read_text(encoding="utf-8")
    bad = text.replace('phone: "09012343333"', 'phone: "abc"', 1)
    line = 1 + text[: text.index('phone: "09012343333"')].count("\n")
    r = post(server, {"scenario": {"yaml": bad}})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["errorCode"] == "invalid_parameter"
    assert body["field"] == "personas[0].phone" and body["line"] == line
    assert f"line {line}: personas[0].phone" in body["errorMessage"]
    syntax = post(server, {"scenario": {"yaml": "branches: [1\n"}})
    assert syntax.status_code == 400 and syntax.json()["line"] == 2
    assert "line 2, column 1" in syntax.json()["errorMessage"]


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (
            {"scenario": "nope"},
            "'scenario': no shipped scenario 'nope': one of default, load, platform",
        ),
        ({"scenario": 7}, "'scenario': must be a shipped scenario's name or"),
        ({"ttl_seconds": 59}, "'ttl_seconds'"),
        ({"ttl_seconds": 604_801}, "'ttl_seconds'"),
        ({"ttl_seconds": "60"}, "'ttl_seconds': must be a whole number"),
        ({"label": "x" * 201}, "'label'"),
        ({"labels": "x"}, "'labels': not a field of this body"),
        ([], "the body must be a JSON object"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(
    server: RunningServer, body: object, said: str
) -> None:
    r = post(server, body)
    assert r.status_code == 400, r.text
    assert r.json()["errorCode"] == "invalid_parameter" and said in r.json()["errorMessage"]


def test_list_get_delete_and_unknown_ids(server: RunningServer) -> None:
    first = create(server, label="one")
    second = create(server, label="two", scenario="default")
    listed = requests.get(server.url + contract.SANDBOXES_PATH, headers=OPERATOR, timeout=10)
    assert [s["id"] for s in listed.json()["sandboxes"]] == [first.id, second.id]
    assert set(listed.json()["sandboxes"][0]) == set(contract.LISTED_FIELDS)
    first.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    first.walk(until="SOA202")
    one = requests.get(
        server.url + contract.sandbox_path(first.id), headers=first.admin, timeout=10
    )
    assert one.status_code == 200
    assert one.json()["label"] == "one" and one.json()["counts"] == {
        "flows": 1,
        "grants": 0,
        "mails": 0,
    }
    # A sandbox's own admin token is no operator's: not for another sandbox, nor the list.
    other = requests.get(server.url + contract.sandbox_path(first.id), headers=second.admin)
    assert other.status_code == 401
    assert (
        requests.get(server.url + contract.SANDBOXES_PATH, headers=first.admin).status_code == 401
    )
    gone = requests.delete(server.url + contract.sandbox_path(first.id), headers=first.admin)
    assert gone.status_code == 204
    for method, path in (
        ("GET", contract.sandbox_path(first.id)),
        ("DELETE", contract.sandbox_path(first.id)),
        ("GET", contract.sandbox_path("0123456789abcdef")),
        ("GET", contract.sandbox_path("root")),
        ("GET", contract.sandbox_base(first.id) + "/sandbox/clock"),
        ("GET", contract.metadata_path(first.id)),
    ):
        r = requests.request(method, server.url + path, headers=OPERATOR, timeout=10)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["errorCode"] == contract.NOT_FOUND
    listed = requests.get(server.url + contract.SANDBOXES_PATH, headers=OPERATOR, timeout=10)
    assert [s["id"] for s in listed.json()["sandboxes"]] == [second.id]


def test_the_endpoints_take_the_operators_token(server: RunningServer) -> None:
    for method, path in (
        ("POST", contract.SANDBOXES_PATH),
        ("GET", contract.SANDBOXES_PATH),
    ):
        r = requests.request(method, server.url + path, json={}, timeout=10)
        assert r.status_code == 401 and r.json()["errorCode"] == "unauthorized"


# -- isolation ---------------------------------------------------------------------------------


def test_two_sandboxes_run_the_whole_flow_at_once_with_their_own_clocks_and_faults(
    server: RunningServer,
) -> None:
    """R-PLAT-4: ① to ⑥, the token exchange and the account API in two sandboxes at
    the same time, one on a Tuesday morning, the other a Wednesday with a fault
    switched on and off again; each answers with its own clock."""
    a, b = create(server, label="a"), create(server, label="b")
    wednesday = "2026-11-25T11:00:00+09:00"
    assert a.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True).status_code == 200
    assert b.control("PUT", "/sandbox/clock", now=wednesday, frozen=True).status_code == 200
    assert b.control("PUT", "/sandbox/faults", system_error=True).status_code == 200
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(box: Box) -> None:
        try:
            if box is b:
                refused = requests.get(
                    PartnerApp(box.base).authorize_url(), allow_redirects=False, timeout=10
                )
                assert refused.status_code == 500 and "system_error" in refused.text
                box.control("PUT", "/sandbox/faults", system_error=False)
            app, _, tokens = box.link()
            api = app.api(
                tokens["access_token"], "/v1/accounts/balances", accountId="115-1-1100026"
            )
            assert api.status_code == 200, api.text
            results[box.id] = api.json()["balances"][0]["baseTime"]
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(box,)) for box in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert results == {a.id: "10:15:00+09:00", b.id: "11:00:00+09:00"}
    for box, when in ((a, TUESDAY), (b, wednesday)):
        assert [m["to"] for m in box.control("GET", "/sandbox/mail").json()["mail"]] == [
            CUSTOMER["email"]
        ]
        grants = box.control("GET", "/admin/grants").json()["grants"]
        assert [g["granted_at"] for g in grants] == [when]
    assert requests.get(server.url + "/admin/grants", headers=OPERATOR).json()["grants"] == []


def test_what_one_sandbox_gave_the_other_refuses_as_unknown(server: RunningServer) -> None:
    """A token, a code, a cookie, a flow id, a call and an admin token of A, at B."""
    a, b = create(server), create(server)
    for box in (a, b):
        box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    app, _, tokens = a.link()
    at_b = PartnerApp(b.base)
    # The access token and the refresh token.
    assert at_b.api(tokens["access_token"], "/v1/accounts").status_code == 401
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 200
    refreshed = at_b.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    # A code of A (a fresh one, unused), exchanged at B.
    app2, customer2, _ = a.walk()
    done = customer2.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location
    code = query(done.location)["code"]
    r = at_b.token_request(
        grant_type="authorization_code",
        code=code,
        redirect_uri=app2.redirect_uri,
        code_verifier=app2.verifier,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert app2.exchange(done.location)["access_token"]  # A still takes it: B did not spend it
    # The flow cookie of a flow in progress at A, and its id, sent to B.
    _, customer3, shown = a.walk(until="SOA209")
    flow_id = customer3.session.cookies.get(FLOW_COOKIE)
    assert flow_id
    stolen = requests.get(
        b.base + "/connect/account",
        cookies={FLOW_COOKIE: flow_id},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    root_unknown = requests.get(
        server.url + "/connect/account",
        cookies={FLOW_COOKIE: "0" * 32},
        headers={"Accept": "application/json"},
        timeout=10,
    )
    assert stolen.status_code == root_unknown.status_code >= 400
    assert stolen.json()["errors"] == root_unknown.json()["errors"]
    assert stolen.json()["screen_id"] is None
    # The call A's flow waits for, reported to B: nothing rings there; A still waits.
    assert b.call(CUSTOMER["phone"], shown.body["call_to"]).json()["verified"] is False
    assert customer3.post("/connect/call").codes == ["call_pending"]
    # A's telephony secret and admin token at B.
    wrong = requests.post(
        b.base + CALLS_PATH,
        json={"from": CUSTOMER["phone"], "to": shown.body["call_to"], "caller_id": "shown"},
        headers={SECRET_HEADER: a.secret},
        timeout=10,
    )
    assert wrong.status_code == 401
    assert requests.get(b.base + "/sandbox/clock", headers=a.admin).status_code == 401
    assert requests.get(server.url + "/sandbox/clock", headers=a.admin).status_code == 401
    # The operator's token works on every sandbox.
    assert requests.get(b.base + "/sandbox/clock", headers=OPERATOR).status_code == 200


def test_a_deleted_sandboxs_token_and_cookie_answer_as_unknown(server: RunningServer) -> None:
    box = create(server)
    box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    app, _, tokens = box.link()
    _, customer, _ = box.walk(until="SOA202")
    assert requests.delete(server.url + contract.sandbox_path(box.id), headers=OPERATOR).ok
    gone = app.api(tokens["access_token"], "/v1/accounts")
    assert gone.status_code == 404 and gone.json()["errorCode"] == contract.NOT_FOUND
    assert customer.get("/connect/customer").status == 404
    introspect = requests.post(
        server.url + "/oauth/introspect",
        data={"token": tokens["access_token"]},
        auth=("creco", "creco-secret"),
        timeout=10,
    )
    assert introspect.json() == {"active": False}  # nor is it the root's


def test_sandboxes_that_sent_mail_leave_no_thread_nor_service_when_deleted(
    server: RunningServer,
) -> None:
    """A long-running server creates and deletes sandboxes all day: each one's
    completion mail goes through the process's one outbox, so that deleting
    them gives back every thread, and the platform keeps none of their Services."""

    def one_that_mailed() -> weakref.ref[Any]:
        box = create(server)
        box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
        box.link()
        mail = box.control("GET", "/sandbox/mail").json()["mail"]
        assert [(m["to"], m["status"]) for m in mail] == [(CUSTOMER["email"], "delivered")]
        served = server.platform.served(box.id)
        assert served is not None
        gone = requests.delete(server.url + contract.sandbox_path(box.id), headers=OPERATOR)
        assert gone.status_code == 204
        return weakref.ref(served.service)

    one_that_mailed()  # the outbox's thread starts with the first mail
    before = {t.ident for t in threading.enumerate()}
    services = [one_that_mailed() for _ in range(10)]
    assert {t.ident for t in threading.enumerate()} == before
    assert [t.name for t in threading.enumerate()].count("renkei-outbox") == 1
    gc.collect()
    assert [ref for ref in services if ref() is not None] == []


def test_one_sandboxs_congestion_and_lockout_leave_the_other_free(server: RunningServer) -> None:
    a, b = create(server), create(server)
    for box in (a, b):
        box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    assert a.control("PUT", "/sandbox/faults", congestion=True).status_code == 200
    for box, status in ((a, 503), (b, 303)):
        r = requests.get(PartnerApp(box.base).authorize_url(), allow_redirects=False, timeout=10)
        assert r.status_code == status, r.text
    assert "congested" in requests.get(PartnerApp(a.base).authorize_url(), timeout=10).text
    # A locks the lockout persona's account; B's same account stays open.
    a.control("PUT", "/sandbox/faults", congestion=False)
    _, locker, _ = a.walk(until="SOA202", account=LOCKOUT.account, person=LOCKOUT_PERSON)
    wrong = {**LOCKOUT_PERSON, "birth_day": "02"}
    codes = [locker.post("/connect/customer", wrong).codes[0] for _ in range(5)]
    assert codes[-1] == "locked_now"
    assert [x["account"] for x in a.control("GET", "/admin/locks").json()["locks"]]
    assert b.control("GET", "/admin/locks").json()["locks"] == []
    assert b.control("GET", "/sandbox/faults").json()["congestion"] is False
    _, free, _ = b.walk(until="SOA202", account=LOCKOUT.account, person=LOCKOUT_PERSON)
    assert free.post("/connect/customer", LOCKOUT_PERSON).status == 303
    app, _, tokens = b.link()
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 200


def test_metadata_at_both_places_and_the_cookies_path(server: RunningServer) -> None:
    """RFC 8414 §3.1's place and the sandbox's own; the flow cookie is scoped to /s/ID/."""
    box = create(server)
    issuer = f"{server.url}/s/{box.id}"
    for url in (server.url + contract.metadata_path(box.id), box.base + METADATA_PATH):
        metadata = requests.get(url, timeout=10).json()
        assert metadata["issuer"] == issuer
        assert metadata["token_endpoint"] == issuer + "/oauth/token"
    root = requests.get(server.url + METADATA_PATH, timeout=10).json()
    assert root["issuer"] == server.url
    app = PartnerApp(box.base)
    r = requests.get(app.authorize_url(), allow_redirects=False, timeout=10)
    assert r.status_code == 303 and r.headers["Location"] == f"/s/{box.id}/connect/account"
    cookie = r.headers["Set-Cookie"]
    assert f"Path=/s/{box.id}/" in cookie
    root_r = requests.get(PartnerApp(server.url).authorize_url(), allow_redirects=False)
    assert "Path=/;" in root_r.headers["Set-Cookie"] + ";"


# -- limits and lives --------------------------------------------------------------------------


def test_max_sandboxes(database_url: str, tmp_path: Path) -> None:
    running = start(database_url, tmp_path, max_sandboxes=2)
    try:
        create(running)
        create(running)
        r = post(running, {})
        assert r.status_code == 409 and r.json()["errorCode"] == contract.LIMIT
        assert "--max-sandboxes" in r.json()["errorMessage"]
    finally:
        running.stop()
        running.service.db.dispose()
    only_root = start(database_url, tmp_path / "again", max_sandboxes=0)
    try:
        assert post(only_root, {}).status_code == 409
    finally:
        only_root.stop()
        only_root.service.db.dispose()


def test_open_sandboxes(database_url: str, tmp_path: Path) -> None:
    """Anyone creates one without the operator's token, at most N at once; the
    operator's own creates are limited by --max-sandboxes alone."""
    running = start(database_url, tmp_path, open_sandboxes=2)
    try:
        mine = create(running, headers={}, label="vendor")
        create(running, headers={})
        full = post(running, {}, headers={})
        assert full.status_code == 429 and full.json()["errorCode"] == contract.FULL
        assert full.headers["Retry-After"]
        create(running)  # the operator
        assert requests.delete(running.url + contract.sandbox_path(mine.id), headers=mine.admin)
        assert post(running, {}, headers={}).status_code == 429  # still 2 others
        listed = requests.get(running.url + contract.SANDBOXES_PATH, timeout=10)
        assert listed.status_code == 401
    finally:
        running.stop()
        running.service.db.dispose()


def rows_of(database_url: str, sandbox_id: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as c:
            return sum(
                int(
                    c.execute(
                        select(func.count()).select_from(t).where(t.c.sandbox == sandbox_id)
                    ).scalar_one()
                )
                for t in WORLD
            )
    finally:
        engine.dispose()


def test_an_expired_sandbox_is_removed_with_all_its_rows(
    server: RunningServer, clock: Clock, database_url: str
) -> None:
    short = create(server, ttl_seconds=60)
    long = create(server, ttl_seconds=3600)
    short.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    app, _, tokens = short.link()
    assert rows_of(database_url, short.id) > 0
    clock.offset = dt.timedelta(seconds=61)
    # Past its time it answers as unknown at once, before any sweep.
    assert app.api(tokens["access_token"], "/v1/accounts").status_code == 404
    assert server.platform.sweep() == [short.id]
    assert server.platform.sweep() == []  # idempotent
    assert rows_of(database_url, short.id) == 0
    assert rows_of(database_url, long.id) > 0
    listed = requests.get(server.url + contract.SANDBOXES_PATH, headers=OPERATOR, timeout=10)
    assert [s["id"] for s in listed.json()["sandboxes"]] == [long.id]


def test_the_listing_sweeps(server: RunningServer, clock: Clock, database_url: str) -> None:
    short = create(server, ttl_seconds=60)
    clock.offset = dt.timedelta(minutes=5)
    listed = requests.get(server.url + contract.SANDBOXES_PATH, headers=OPERATOR, timeout=10)
    assert listed.json()["sandboxes"] == []
    assert rows_of(database_url, short.id) == 0


# -- several processes ---------------------------------------------------------------------------


@pytest.fixture
def two_processes(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two ``renkei serve`` processes over one database."""
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "renkei", "serve", "--port", str(port),
                 "--data-dir", str(tmp_path), "--admin-token", ADMIN,
                 "--database-url", database_url],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            wait_until_up(urls[-1], process)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            stop(process)


def test_sandboxes_across_processes(two_processes: tuple[str, str]) -> None:
    """Created in one process, served by the other; a token of one sandbox refused by
    another in either process; deleted in one, unknown in the other at once."""
    first, second = two_processes
    made = []
    for url in (first, second):
        r = requests.post(url + contract.SANDBOXES_PATH, json={}, headers=OPERATOR, timeout=30)
        assert r.status_code == 201, r.text
        made.append(Box(r.json()))
    a, b = made
    a.base = a.base.replace(first, second)  # A, made by the first process, at the second
    for box in (a, b):
        box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    _, _, tokens = a.link()
    for url in (first, second):
        at_a = PartnerApp(url + contract.sandbox_base(a.id))
        at_b = PartnerApp(url + contract.sandbox_base(b.id))
        assert at_a.api(tokens["access_token"], "/v1/accounts").status_code == 200
        assert at_b.api(tokens["access_token"], "/v1/accounts").status_code == 401
    assert b.control("GET", "/sandbox/clock").json()["now"] == TUESDAY
    gone = requests.delete(first + contract.sandbox_path(a.id), headers=OPERATOR, timeout=10)
    assert gone.status_code == 204
    at_second = PartnerApp(second + contract.sandbox_base(a.id))
    assert at_second.api(tokens["access_token"], "/v1/accounts").status_code == 404


# -- the documents and pages of a sandbox ---------------------------------------------------------


def test_the_document_covers_the_endpoints_and_a_sandbox_has_its_own(
    server: RunningServer,
) -> None:
    """The root's /openapi.json has §9's operations; a sandbox's is served from its base."""
    root = requests.get(server.url + "/openapi.json", timeout=10).json()
    assert set(root["paths"][contract.SANDBOXES_PATH]) == {"post", "get"}
    assert set(root["paths"][contract.sandbox_path("{sandbox_id}")]) == {"get", "delete"}
    assert "get" in root["paths"][contract.metadata_path("{sandbox_id}")]
    assert set(root["paths"][contract.SANDBOXES_PATH]["post"]["responses"]) >= {
        "201", "400", "401", "409", "429",
    }  # fmt: skip
    box = create(server)
    own = requests.get(box.base + "/openapi.json", timeout=10).json()
    assert own["servers"] == [{"url": box.base}]
    assert contract.SANDBOXES_PATH not in own["paths"] and "/oauth/token" in own["paths"]


def test_a_sandboxs_pages_link_within_it(server: RunningServer) -> None:
    """The home page's links, the screens' form actions and footer stay under /s/ID/."""
    box = create(server)
    box.control("PUT", "/sandbox/clock", now=TUESDAY, frozen=True)
    home = requests.get(box.base + "/", timeout=10).text
    prefix = contract.sandbox_base(box.id)
    assert f'href="{prefix}/oauth/authorize?' in home.replace("&amp;", "&")
    assert f'href="{prefix}/sandbox/clock"' in home
    assert 'href="/oauth/' not in home and 'href="/sandbox/' not in home
    _, customer, _ = box.walk(until="SOA201")
    page = customer.html("/connect/account").text
    assert f'action="{prefix}/connect/account"' in page
    assert f'href="{prefix}/static/renkei.css"' in page
    done = customer.post("/connect/account", ACCOUNT)
    assert done.location == f"{prefix}/connect/customer"
    assert done.body["next"] == f"{prefix}/connect/customer"


@pytest.mark.parametrize(
    "url", ["ftp://sandbox.example.jp", "https://sandbox.example.jp/path", "sandbox.example.jp"]
)
def test_serve_refuses_a_public_url_that_is_no_origin(url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "renkei", "serve", "--data-dir", str(tmp_path),
         "--port", str(free_port()), "--public-url", url],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"renkei: --public-url wants an origin such as https://host[:port], not {url!r}"
    )
