"""The phone check (R-FLOW-4, R-ERR-CALL-1..3) over HTTP.

A call verifies screen ④'s challenge only from the registered number, with
caller ID shown, to the number ④ displayed, within 120 s of ④ being shown.
Every other call — another number, withheld (by setting or by 184), to a number
not shown, too late, made before ④ was shown, or a replayed report of a call —
verifies nothing, and 「確定する」 then answers ``call_pending`` (or
``call_expired``). One call answers one screen: a phone on ④ in several flows
sees a number of its own on each while any is left, and a call verifies the one
shown last that it fits.

Nobody but the carrier reports a call (INTERFACE.md §4): every report carries the
gateway's secret (the server's, or the sandbox's own) or an admin token of the
sandbox (the operator's, or its own) as a Bearer token; anything else is a 401
that judges nothing — in the root sandbox, a sandbox of §9 and a bank of §10 in
it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import requests
from bankdriver import (
    CUSTOMER,
    MANUAL,
    TELEPHONY,
    Customer,
    PartnerApp,
    bank_config,
    call,
    walk_json,
)

from harness.driver import Platform
from harness.personas import Persona, load_banks
from renkei import resources
from renkei.contract.banks import bank_base
from renkei.contract.controls import CLOCK_PATH, OPLOG_PATH
from renkei.contract.telephony import CALLS_PATH, SECRET_HEADER
from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread
from simulator.web.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "phone-check-admin"
REGISTERED = CUSTOMER["phone"]
POOL = ("0120111111", "0120222222", "0120333333")
TUESDAY = "2026-11-24T10:15:00+09:00"
#: The shipped platform's banks (INTERFACE.md §10): its sandbox's first and second.
BANKS = load_banks(resources.scenario("platform"))


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
    url, carrier = bank.url + CALLS_PATH, {SECRET_HEADER: TELEPHONY}
    assert requests.post(url, json=report, headers=carrier, timeout=10).json()["verified"]
    second, to2 = on_call(bank)
    replayed = requests.post(url, json={**report, "to": to2}, headers=carrier, timeout=10).json()
    assert replayed == {"rings": 0, "answered": False, "verified": False, "replayed": True}
    assert second.post("/connect/call").codes == ["call_pending"]
    bad = requests.post(url, json={**report, "call_id": "x" * 65}, headers=carrier, timeout=10)
    assert bad.status_code == 400 and "call_id" in bad.json()["errorMessage"]


def test_two_flows_of_one_phone_on_4_are_shown_different_numbers(bank: RunningServer) -> None:
    """Four flows of the manual's customer on ④ at once, on a pool of three: the
    first three show the three numbers, the fourth one of them. A call to the shared
    number verifies the fourth alone (shown last); the others stay pending; a second
    call verifies the earlier flow that shows it."""
    flows = [on_call(bank) for _ in range(4)]
    numbers = [to for _, to in flows]
    assert sorted(numbers[:3]) == sorted(POOL)
    shared = numbers[3]
    earlier = numbers.index(shared)
    assert call(bank.url, REGISTERED, shared)["verified"]
    assert flows[3][0].post("/connect/call").status == 303
    for i, (customer, _) in enumerate(flows[:3]):
        assert customer.post("/connect/call").codes == ["call_pending"], i
    assert call(bank.url, REGISTERED, shared)["verified"]
    assert flows[earlier][0].post("/connect/call").status == 303
    waiting = [c for i, (c, _) in enumerate(flows[:3]) if i != earlier]
    assert [c.post("/connect/call").codes for c in waiting] == [["call_pending"]] * 2
    # Nothing left on ④ shows that number: a third call verifies nothing.
    assert not call(bank.url, REGISTERED, shared)["verified"]


@dataclass
class World:
    """Where a gateway is (the root, a sandbox of §9, a bank of §10 in it), whose
    phone calls it, what it must take and what it must refuse."""

    base: str
    persona: Persona
    #: The credentials it takes: its own secret and admin token, the server's, the operator's.
    taken: dict[str, dict[str, str]]
    #: What it refuses: none, guesses, the wrong scheme, another sandbox's.
    refused: dict[str, dict[str, str]]


def secret(value: str) -> dict[str, str]:
    return {SECRET_HEADER: value}


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture(params=["root", "sandbox", "bank"])
def world(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[World]:
    """A server of the default scenario holding a sandbox of the shipped platform and
    one of the default scenario (the other's), its clock frozen on a Tuesday morning."""
    settings = replace(config(tmp_path), database_url=database_url)
    running = start_in_thread(settings, load_scenario(ROOT / "scenarios/default.yaml"))
    platform = Platform(running.url, ADMIN)
    try:
        made, other = platform.create("platform"), platform.create("default")
        for base in (running.url, made.base_url):
            r = requests.put(
                base + CLOCK_PATH,
                json={"now": TUESDAY, "frozen": True},
                headers=bearer(ADMIN),
                timeout=10,
            )
            assert r.status_code == 200, r.text
        guesses = {
            "none": {},
            "a wrong secret": secret("guess"),
            "an empty secret": secret(""),
            "a wrong token": bearer("guess"),
            "another scheme": {"Authorization": f"Basic {TELEPHONY}"},
            "another sandbox's secret": secret(other.telephony_secret),
            "another sandbox's admin token": bearer(other.admin_token),
        }
        if request.param == "root":
            chosen = World(
                running.url,
                MANUAL,
                {"the secret": secret(TELEPHONY), "the admin token": bearer(ADMIN)},
                {
                    **guesses,
                    "a sandbox's secret": secret(made.telephony_secret),
                    "the secret as a token": bearer(TELEPHONY),
                    "the admin token as the secret": secret(ADMIN),
                },
            )
        else:
            first, second = list(BANKS.values())[:2]
            at_bank = request.param == "bank"
            chosen = World(
                made.base_url + (bank_base(str(second.code)) if at_bank else ""),
                second.personas["happy"] if at_bank else first.personas["manual"],
                {
                    "its own secret": secret(made.telephony_secret),
                    "the server's secret": secret(TELEPHONY),
                    "its own admin token": bearer(made.admin_token),
                    "the operator's token": bearer(ADMIN),
                },
                {
                    **guesses,
                    "its secret as a token": bearer(made.telephony_secret),
                    "its admin token as the secret": secret(made.admin_token),
                },
            )
        yield chosen
    finally:
        platform.close()
        running.stop()
        running.service.db.dispose()


def on_call_at(world: World) -> tuple[Customer, str]:
    """A new flow of the world's customer on ④: the browser and the number shown."""
    customer, person = Customer(world.base), world.persona
    shown = walk_json(
        world.base,
        PartnerApp(world.base),
        customer,
        until="SOA209",
        account=person.account,
        person=person.details(email="p@example.jp", email_confirm="p@example.jp"),
        pin=person.pin,
    )
    return customer, str(shown.body["call_to"])


def report(world: World, to: str, headers: dict[str, str]) -> requests.Response:
    body = {"from": world.persona.phone, "to": to, "caller_id": "shown"}
    return requests.post(world.base + CALLS_PATH, json=body, headers=headers, timeout=10)


def test_the_gateway_judges_only_calls_with_its_credentials(world: World) -> None:
    """The right call without a credential the gateway takes: 401 ``unauthorized``
    with ``WWW-Authenticate``, nothing judged (no ``call`` line in the operation log)
    and ④ still waiting; then each credential it takes verifies a flow of its own."""
    customer, to = on_call_at(world)
    for what, headers in world.refused.items():
        r = report(world, to, headers)
        assert r.status_code == 401, (what, r.text)
        assert r.json()["errorCode"] == "unauthorized", what
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), what
    assert customer.post("/connect/call").codes == ["call_pending"]
    log = requests.get(world.base + OPLOG_PATH, headers=bearer(ADMIN), timeout=10)
    assert [e for e in log.json()["entries"] if e["kind"] == "call"] == []
    for what, headers in world.taken.items():
        customer, to = on_call_at(world)
        r = report(world, to, headers)
        assert r.status_code == 200, (what, r.text)
        assert r.json()["verified"] is True, what
        assert customer.post("/connect/call").status == 303, what
