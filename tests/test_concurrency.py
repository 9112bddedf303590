"""Lockout under concurrency, over HTTP, across several server processes.

200 customers' browsers — 100 on ② and 100 already on ⑤, all for the
``lockout`` persona's one account — press 「次へ」 with a wrong phone or a wrong
PIN at the same moment, against ``renkei serve --workers 3``. The manual's
rule (R-ERR-HOST-2/3/4) must hold exactly: four ``identity_mismatch``, one
``locked_now``, 195 ``B84``; the day's count is exactly the threshold; nothing
else is answered. Run on SQLite and, when scripts/test started it, PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.driver import Answer, Browser, PartnerApp, Phone, Sandbox
from harness.embedded import Target, embedded_sandbox
from harness.personas import load_personas

ROOT = Path(__file__).resolve().parents[1]
#: The persona whose account five identity failures lock (R-ERR-HOST-3).
LOCKOUT = load_personas()["lockout"]
ACCOUNT, PHONE, DETAILS = LOCKOUT.account, LOCKOUT.phone, LOCKOUT.details()
ON_CUSTOMER = 100  # browsers that fail on ②
ON_PIN = 100  # browsers that fail on ⑤
OPEN = "2026-12-02T10:00:00+09:00"  # a Wednesday morning: open


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[Target]:
    # Room for 200 flows at once (the default host congests at 200).
    text = (ROOT / "scenarios" / "default.yaml").read_text(encoding="utf-8")
    scenario = tmp_path / "roomy.yaml"
    scenario.write_text(text.replace("capacity_flows: 200", "capacity_flows: 1000"), "utf-8")
    extra = ("--scenario", str(scenario), "--workers", "3", "--database-url", database_url)
    with embedded_sandbox(extra, start_seconds=60) as target:
        Sandbox(target.url, target.admin_token).set_clock(OPEN, frozen=False)
        yield target


def to_customer(target: Target) -> Browser:
    """A new customer's browser on ②, for the lockout persona's account."""
    browser = Browser(target.url)
    app = PartnerApp(target.url)
    answer = browser.follow(browser.open(app.authorize_url()))
    assert answer.screen_id == "SOA201", answer.body
    answer = browser.follow(browser.post("/connect/account", ACCOUNT))
    assert answer.screen_id == "SOA202", answer.body
    app.close()
    return browser


def to_call(target: Target) -> tuple[Browser, str]:
    """On ④, with the number it shows."""
    browser = to_customer(target)
    answer = browser.follow(browser.post("/connect/customer", DETAILS))
    assert answer.screen_id == "SOA208", answer.body
    answer = browser.follow(browser.post("/connect/phone"))
    assert answer.screen_id == "SOA209", answer.body
    return browser, str(answer.body["call_to"])


def test_r_err_host_3_200_concurrent_failures_lock_exactly_once(server: Target) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        on_customer = list(pool.map(lambda _: to_customer(server), range(ON_CUSTOMER)))
        waiting = list(pool.map(lambda _: to_call(server), range(ON_PIN)))
    # A call verifies one flow (R-FLOW-4: one call, one screen): a call for each.
    phone = Phone.of(server, PHONE)
    for _, number in waiting:
        assert phone.call(number)["verified"]
    phone.close()
    on_pin = []
    for browser, _ in waiting:
        answer = browser.follow(browser.post("/connect/call"))
        assert answer.screen_id == "SOA211", answer.body
        on_pin.append(browser)

    start = threading.Barrier(ON_CUSTOMER + ON_PIN, timeout=60)
    codes: list[str] = []
    lock = threading.Lock()

    def press(browser: Browser, path: str, form: dict[str, str]) -> None:
        start.wait()
        answer = browser.post(path, form)
        with lock:
            codes.extend(answer.codes or [f"no error: {answer.status} {answer.body}"])

    wrong_phone = {**DETAILS, "phone": "09000000000"}
    threads = [
        threading.Thread(target=press, args=(b, "/connect/customer", wrong_phone))
        for b in on_customer
    ] + [threading.Thread(target=press, args=(b, "/connect/pin", {"pin": "0000"})) for b in on_pin]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for browser in on_customer + on_pin:
        browser.close()

    assert Counter(codes) == {"identity_mismatch": 4, "locked_now": 1, "B84": 195}
    locks = Sandbox(server.url, server.admin_token).locks()
    mine = [entry for entry in locks if entry["account"] == LOCKOUT.account_id]
    assert [entry["failures"] for entry in mine] == [5], locks


#: Calls one walk may make before its own ④ is verified: one call verifies one of the
#: phone's flows showing the number, the last shown (R-FLOW-4), so a walk whose
#: screen an earlier call passed over calls again, as the customer would.
CALLS = 24


def walk(target: Target, browser: Browser) -> str:
    """The lockout persona from ② to the code, with right answers; answers the redirect."""
    answer = browser.follow(browser.post("/connect/customer", DETAILS))
    assert answer.screen_id == "SOA208", answer.body
    answer = browser.follow(browser.post("/connect/phone"))
    assert answer.screen_id == "SOA209", answer.body
    phone = Phone.of(target, PHONE)
    for _ in range(CALLS):
        phone.call(str(answer.body["call_to"]))
        answer = browser.follow(browser.post("/connect/call"))
        if answer.codes != ["call_pending"]:
            break
    phone.close()
    assert answer.screen_id == "SOA211", answer.body
    answer = browser.follow(browser.post("/connect/pin", {"pin": LOCKOUT.pin}))
    assert answer.screen_id == "SOA206", answer.body
    done = browser.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.status == 302 and done.location and "code=" in done.location, done.body
    return done.location


def test_flows_of_one_phone_in_parallel_are_not_lost(server: Target) -> None:
    """24 flows of one customer (one registered phone) walked at once. Each call to
    the gateway judges every flow waiting for that phone and saves the one it
    verifies, while the browsers press 「確定する」 and move on: without a revision
    check, a save by the gateway from an older copy put a flow back on ④ (a lost
    update)."""
    browsers = [to_customer(server) for _ in range(24)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        redirects = list(pool.map(lambda b: walk(server, b), browsers))
    assert len(set(redirects)) == 24
    grants = Sandbox(server.url, server.admin_token).grants()
    assert len(grants) == 24


def test_a_double_clicked_allow_makes_one_grant(server: Target) -> None:
    """Two 「許可する」 of one flow at once: one grant, one code, one mail."""
    browser = to_customer(server)
    answer = browser.follow(browser.post("/connect/customer", DETAILS))
    answer = browser.follow(browser.post("/connect/phone"))
    phone = Phone.of(server, PHONE)
    assert phone.call(str(answer.body["call_to"]))["verified"]
    phone.close()
    browser.follow(browser.post("/connect/call"))
    answer = browser.follow(browser.post("/connect/pin", {"pin": LOCKOUT.pin}))
    assert answer.screen_id == "SOA206", answer.body
    start = threading.Barrier(8, timeout=30)

    def allow(_: int) -> Answer:
        start.wait()
        return browser.post("/connect/consent", {"decision": "allow", "agree": "1"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(allow, range(8)))
    codes = [a for a in answers if a.status == 302 and a.location and "code=" in a.location]
    assert len(codes) == 1, [(a.status, a.codes) for a in answers]
    assert all(a.codes == ["out_of_order"] for a in answers if a not in codes)
    sandbox = Sandbox(server.url, server.admin_token)
    assert len(sandbox.grants()) == 1
    assert len(sandbox.mail()) == 1
