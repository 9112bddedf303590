"""The host's slots over real HTTP, on SQLite and PostgreSQL (issue 16, docs/hardening.md).

A bank of 4 slots (each partner app's early flows at most 2 of them) and three
partner apps is filled by anonymous authorization requests nobody follows: the
next customer is refused ``congested`` with a Retry-After that says when a slot
frees, and at that time, the sandbox clock moved on, a customer gets one and
links the app; the flood's flows answer the lost-flow error; a flow kept alive by
GETs is lost at its lifetime. renkei's rules, not the manual's (simulator.core.faults.SlotRule).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from bankdriver import Customer, PartnerApp, bank_config, query, walk_json
from helpers import MANUAL, account_form

from renkei.contract.controls import CLOCK_ADVANCE_PATH, CLOCK_PATH
from simulator.core import messages
from simulator.core.clock import FixedClock
from simulator.core.faults import Occupancy, SlotRule
from simulator.core.flow import ConnectFlow, FlowState
from simulator.scenario import load_scenario
from simulator.store.database import open_database
from simulator.store.state import SqlFlows
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "slots-operator-token"
OPERATOR = {"Authorization": f"Bearer {ADMIN}"}
TUESDAY = "2026-11-24T10:15:00+09:00"
#: A third partner app beside the default scenario's two.
THIRD = """\
  - client_id: sanbanme
    client_secret: sanbanme-secret
    name: 三番目アプリ
    company: 試験株式会社
    redirect_uris: [http://127.0.0.1:8767/callback]
    scopes: [accounts]

personas:
"""


@pytest.fixture
def bank(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    text = (ROOT / "scenarios/default.yaml").read_text("utf-8")
    small = tmp_path / "small.yaml"
    text = text.replace("capacity_flows: 200", "capacity_flows: 4", 1)
    small.write_text(text.replace("\npersonas:\n", "\n" + THIRD, 1), "utf-8")
    config = bank_config(tmp_path, ADMIN)
    config = type(config)(**{**config.__dict__, "database_url": database_url})
    running = start_in_thread(config, load_scenario(small))
    control(running, "PUT", CLOCK_PATH, now=TUESDAY, frozen=True)
    yield running
    running.stop()
    running.service.db.dispose()


def control(bank: RunningServer, method: str, path: str, **json: object) -> None:
    r = requests.request(method, bank.url + path, json=json, headers=OPERATOR, timeout=10)
    assert r.status_code == 200, r.text


def wait(bank: RunningServer, seconds: float) -> None:
    """The sandbox clock moves on (INTERFACE.md §6); it stays frozen there."""
    control(bank, "POST", CLOCK_ADVANCE_PATH, seconds=seconds)


def app_of(bank: RunningServer, client: str) -> PartnerApp:
    port = {"creco": 8765, "kakeibo": 8766, "sanbanme": 8767}[client]
    scope = "accounts transactions" if client == "creco" else "accounts"
    return PartnerApp(
        bank.url, client, f"{client}-secret", f"http://127.0.0.1:{port}/callback", scope
    )


def authorize(bank: RunningServer, client: str) -> tuple[Customer, int, dict[str, str]]:
    """One GET /oauth/authorize nobody follows: the browser, the status, its headers."""
    browser = Customer(bank.url)
    answer = browser.open(app_of(bank, client).authorize_url())
    if answer.status == 503:
        assert answer.codes == ["congested"], answer.body
        assert answer.body["errors"][0]["message"] == messages.MESSAGES["congested"]
    return browser, answer.status, answer.headers


def test_a_flood_of_authorizations_holds_the_slots_only_until_its_early_lapse(
    bank: RunningServer,
) -> None:
    creco = [authorize(bank, "creco") for _ in range(2)]
    assert [status for _, status, _ in creco] == [303, 303]
    # creco's early flows hold its share (2 of 4): the first of them lapses 120 s after
    # it started and holds until then: retry in 121 s.
    _, status, headers = authorize(bank, "creco")
    assert (status, headers["Retry-After"]) == (503, "121")
    wait(bank, 30)
    # Another app's customers still get slots, until the capacity is full.
    kakeibo = [authorize(bank, "kakeibo") for _ in range(2)]
    assert [status for _, status, _ in kakeibo] == [303, 303]
    # Full: the first slot to free is creco's first flow's, 90 s from now.
    _, status, headers = authorize(bank, "sanbanme")
    assert (status, headers["Retry-After"]) == (503, "91")
    _, status, headers = authorize(bank, "kakeibo")  # at its share: its own first, 120 s
    assert (status, headers["Retry-After"]) == (503, "121")

    wait(bank, 91)  # the truthful Retry-After: creco's two early flows have lapsed
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location and query(done.location)["code"]
    assert app.exchange(done.location)["access_token"]
    assert authorize(bank, "sanbanme")[1] == 303  # the retry at that time is admitted

    browser, _, _ = creco[0]  # the flood's flow, past its lapse: lost
    lost = browser.get("/connect/account")
    assert (lost.status, lost.codes) == (403, ["flow_lost"])
    # kakeibo's flows lapse 150 s after the start, 29 s from now.
    _, status, headers = authorize(bank, "kakeibo")
    assert (status, headers["Retry-After"]) == (503, "30")
    wait(bank, 30)
    assert [authorize(bank, "kakeibo")[1] for _ in range(2)] == [303, 303]


def test_racing_authorizations_take_no_more_than_the_share_and_the_capacity(
    bank: RunningServer,
) -> None:
    """The slots are counted and the new flow saved under one lock (SqlFlows.admission):
    36 requests racing on 12 connections (the server's 8 threads) take exactly the
    app's 2 slots, then the 4 of the host with the other apps' 2 each."""

    def flood(clients: list[str]) -> Counter[int]:
        with ThreadPoolExecutor(12) as pool:
            return Counter(pool.map(lambda client: authorize(bank, client)[1], clients))

    assert flood(["creco"] * 36) == {303: 2, 503: 34}
    assert flood(["kakeibo", "sanbanme"] * 18) == {303: 2, 503: 34}


def test_a_flow_kept_alive_by_gets_is_lost_at_its_lifetime(bank: RunningServer) -> None:
    """Issue 16 item 7: 60 minutes after it started, however often it is touched."""
    app, customer = PartnerApp(bank.url), Customer(bank.url)
    walk_json(bank.url, app, customer, until="SOA202")  # ① posted: not early
    for _ in range(2):
        wait(bank, 25 * 60)
        shown = customer.get("/connect/customer")
        assert (shown.status, shown.body["screen_id"]) == (200, "SOA202")
    wait(bank, 10 * 60 + 1)
    lost = customer.get("/connect/customer")
    assert (lost.status, lost.codes) == (403, ["flow_lost"])


def test_the_stores_count_is_the_cores(database_url: str, engine: ConnectFlow) -> None:
    """SqlFlows.occupancy, one SQL query, answers what Occupancy.of reads of the same
    flows at every instant: the holders, the first to lapse, the app's early ones."""
    db = open_database(database_url)
    rule = SlotRule(early=dt.timedelta(seconds=60))
    store = SqlFlows(db, slots=rule)
    clock = engine.clock
    assert isinstance(clock, FixedClock)
    flows: list[FlowState] = []
    for client, posts in [("creco", False), ("kakeibo", False), ("creco", True), ("creco", False)]:
        flow = engine.start(client, "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
        if posts:
            engine.submit_account(flow, account_form(MANUAL))
        store.save(flow)
        flows.append(flow)
        clock.advance(20)
    ended = flows[1]
    engine.cancel(engine.submit_account(ended, account_form(MANUAL)))  # ②'s 「中止する」
    store.save(ended)
    try:
        for seconds in (0, 30, 50, 61, 90, 1800, 4000):
            now = flows[0].started_at + dt.timedelta(seconds=seconds)
            for client in ("creco", "kakeibo"):
                assert store.occupancy(now, client) == Occupancy.of(flows, now, rule, client)
        assert store.occupancy(flows[0].started_at, "creco").held == 3
    finally:
        db.dispose()
