"""CSRF tokens on every form POST of the screens (R-AUTHZ-2).

Each button of ①–⑥ and 「中止する」, pressed with a forged token or none, is
refused with ``csrf_failed`` and changes nothing: the flow stays on its screen,
and the same button with the right token then works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bankdriver import ACCOUNT, CUSTOMER, Customer, PartnerApp, bank_config, call, walk_json

from renkei.contract.screens import SCREEN_PATHS
from simulator.scenario import load_scenario
from simulator.web.server import RunningServer, start_in_thread

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "csrf-admin"
BUTTONS = [
    ("SOA201", "/connect/account", ACCOUNT),
    ("SOA202", "/connect/customer", CUSTOMER),
    ("SOA208", "/connect/phone", {}),
    ("SOA209", "/connect/call", {}),
    ("SOA211", "/connect/pin", {"pin": "1357"}),
    ("SOA206", "/connect/consent", {"decision": "allow", "agree": "1"}),
    ("SOA202", "/connect/cancel", {}),
]


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    path = tmp_path_factory.mktemp("csrf")
    config = bank_config(path, ADMIN)
    running = start_in_thread(config, load_scenario(ROOT / "scenarios/default.yaml"))
    requests.put(
        running.url + "/sandbox/clock",
        json={"now": "2026-11-24T10:15:00+09:00", "frozen": True},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    ).raise_for_status()
    yield running
    running.stop()


@pytest.mark.parametrize("forged", ["forged-token", ""], ids=["forged", "missing"])
@pytest.mark.parametrize(("screen", "path", "form"), BUTTONS, ids=[b[1] for b in BUTTONS])
def test_every_button_wants_the_flows_csrf_token(
    bank: RunningServer, screen: str, path: str, form: dict[str, str], forged: str
) -> None:
    customer = Customer(bank.url)
    walk_json(bank.url, PartnerApp(bank.url), customer, until=screen)
    if screen == "SOA209":
        shown = customer.get("/connect/call")
        assert call(bank.url, CUSTOMER["phone"], shown.body["call_to"])["verified"]
    right = customer.csrf
    customer.csrf = forged
    refused = customer.post(path, form)
    assert refused.status == 403 and refused.codes == ["csrf_failed"]
    assert customer.get(SCREEN_PATHS[screen]).body["screen_id"] == screen  # nothing moved
    customer.csrf = right
    assert customer.post(path, form).status in (302, 303, 200)
