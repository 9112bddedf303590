"""The phone check (R-FLOW-4, R-ERR-CALL-1..3) over HTTP.

A call verifies screen ④'s challenge only from the registered number, with
caller ID shown, to the number ④ displayed, within 120 s of ④ being shown.
Every other call — another number, withheld (by setting or by 184), to a number
not shown, too late, made before ④ was shown, or a replayed report of a call —
verifies nothing, and 「確定する」 then answers ``call_pending`` (or
``call_expired``). Outside the sandbox the gateway wants its shared secret.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from bankdriver import CUSTOMER, Customer, PartnerApp, bank_config, call, walk_json

from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread
from simulator.web.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "phone-check-admin"
REGISTERED = CUSTOMER["phone"]
POOL = ("0120111111", "0120222222", "0120333333")


def config(path: Path) -> ServiceConfig:
    return bank_config(path, ADMIN)


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[RunningServer]:
    running = start_in_thread(config(tmp_path), load_scenario(ROOT / "scenarios/default.yaml"))
    admin(running, "PUT", "/sandbox/clock", now="2026-11-24T10:15:00+09:00", frozen=True)
    yield running
    running.stop()


def admin(bank: RunningServer, method: str, path: str, **json: object) -> requests.Response:
    r = requests.request(
        method,
        bank.url + path,
        json=json or None,
        timeout=10,
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    assert r.status_code == 200, r.text
    return r


def on_call(bank: RunningServer) -> tuple[Customer, str]:
    customer = Customer(bank.url)
    shown = walk_json(bank.url, PartnerApp(bank.url), customer, until="SOA209")
    return customer, str(shown.body["call_to"])


@pytest.mark.parametrize(
    ("caller", "dialled", "caller_id"),
    [
        ("09099998888", "{to}", "shown"),  # another phone (R-ERR-CALL-3)
        (REGISTERED, "{to}", "withheld"),  # caller ID withheld by the phone's setting
        (REGISTERED, "184{to}", "shown"),  # withheld by the 184 prefix
        (REGISTERED, "{other}", "shown"),  # a number ④ did not show
        (REGISTERED, "186{other}", "shown"),  # 186 shows the ID, but the number is wrong
    ],
    ids=["another-phone", "withheld", "184", "number-not-shown", "186-wrong-number"],
)
def test_r_err_call_3_such_a_call_never_verifies(
    bank: RunningServer, caller: str, dialled: str, caller_id: str
) -> None:
    customer, to = on_call(bank)
    other = next(n for n in POOL if n != to)
    answer = call(bank.url, caller, dialled.format(to=to, other=other), caller_id)
    assert answer == {"rings": answer["rings"], "answered": False, "verified": False}
    assert answer["rings"] in (2, 3)
    assert customer.post("/connect/call").codes == ["call_pending"]


def test_r_err_call_2_a_call_after_120_s_never_verifies(bank: RunningServer) -> None:
    _, to = on_call(bank)
    admin(bank, "POST", "/sandbox/clock/advance", seconds=120)
    assert call(bank.url, REGISTERED, to)["verified"], "120 s is still in time (inclusive)"
    customer2, to2 = on_call(bank)
    admin(bank, "POST", "/sandbox/clock/advance", seconds=121)
    assert not call(bank.url, REGISTERED, to2)["verified"]
    assert customer2.post("/connect/call").codes == ["call_expired"]


def test_a_call_before_the_number_was_shown_does_not_count(bank: RunningServer) -> None:
    """Calling every number of the pool on ③, before 「電話番号の決定」, verifies nothing."""
    customer = Customer(bank.url)
    walk_json(bank.url, PartnerApp(bank.url), customer, until="SOA208")
    for number in POOL:
        assert not call(bank.url, REGISTERED, number)["verified"]
    assert customer.post("/connect/phone").status == 303
    assert customer.post("/connect/call").codes == ["call_pending"]


def test_a_verified_call_does_not_carry_over_to_the_next_attempt(bank: RunningServer) -> None:
    """R-ERR-CALL-2: after call_expired the flow starts again at ①; the earlier
    verification is forgotten and the new ④ needs a new call."""
    customer, to = on_call(bank)
    assert call(bank.url, REGISTERED, to)["verified"]
    admin(bank, "POST", "/sandbox/clock/advance", seconds=121)
    assert customer.post("/connect/call").codes == ["call_expired"]
    for path, form in (
        ("/connect/account", {"branch_no": "115", "account_type": "1", "account_no": "1100026"}),
        ("/connect/customer", CUSTOMER),
        ("/connect/phone", {}),
    ):
        assert customer.post(path, form).status == 303
    assert customer.post("/connect/call").codes == ["call_pending"]


def test_a_replayed_call_report_verifies_nothing(bank: RunningServer) -> None:
    """The carrier's ``call_id`` (renkei's extension of §4): the same report twice."""
    _, to = on_call(bank)
    report = {"from": REGISTERED, "to": to, "caller_id": "shown", "call_id": "carrier-1"}
    assert requests.post(bank.url + "/telephony/calls", json=report, timeout=10).json()["verified"]
    second, to2 = on_call(bank)
    replayed = requests.post(
        bank.url + "/telephony/calls", json={**report, "to": to2}, timeout=10
    ).json()
    assert replayed == {"rings": 0, "answered": False, "verified": False, "replayed": True}
    assert second.post("/connect/call").codes == ["call_pending"]
    bad = requests.post(
        bank.url + "/telephony/calls", json={**report, "call_id": "x" * 65}, timeout=10
    )
    assert bad.status_code == 400 and "call_id" in bad.json()["errorMessage"]


def test_outside_the_sandbox_the_gateway_wants_its_secret(tmp_path: Path) -> None:
    production = replace(config(tmp_path), sandbox=False, telephony_secret="carrier-secret")
    running = start_in_thread(production, load_scenario(ROOT / "scenarios/default.yaml"))
    try:
        report = {"from": REGISTERED, "to": POOL[0], "caller_id": "shown"}
        url = running.url + "/telephony/calls"
        assert requests.post(url, json=report, timeout=10).status_code == 401
        wrong = {"X-Telephony-Secret": "guess"}
        assert requests.post(url, json=report, headers=wrong, timeout=10).status_code == 401
        right = {"X-Telephony-Secret": "carrier-secret"}
        assert requests.post(url, json=report, headers=right, timeout=10).status_code == 200
    finally:
        running.stop()
