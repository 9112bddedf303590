"""The default scenario: what INTERFACE.md §8 fixes, and every persona's behaviour.

Each persona is driven through the core (``unusable_reason``, ``PinVault``,
``identity_matches`` and the flow engine itself) on a fixed day, so that the
table in docs/scenarios.md is shown to hold, not just written down.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest
from helpers import OPEN_INSTANT

from simulator.core import errors
from simulator.core.clock import FixedClock
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.history import months_before
from simulator.core.host import (
    AccountKey,
    AccountStatus,
    PinVault,
    identity_matches,
    unusable_reason,
)
from simulator.core.inputs import read_customer
from simulator.core.memory import MemoryHost
from simulator.core.screens import Screen
from simulator.core.telephony import InboundCall, mask_phone
from simulator.scenario import Persona, Scenario, load_scenario

DEFAULT = Path(__file__).resolve().parents[1] / "scenarios" / "default.yaml"
TODAY = OPEN_INSTANT.date()  # a Tuesday, in service hours
MANUAL = AccountKey("115", "1", "1100026")
REQUIREMENT_ID = re.compile(r"R-(FLOW|ACCT|ERR-INPUT|ERR-HOST|ERR-SYS|ERR-CALL|HOURS|AUTHZ)-\d")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(DEFAULT)


@pytest.fixture
def vault() -> PinVault:
    return PinVault(b"scenario-test-key")


@pytest.fixture
def host(scenario: Scenario, vault: PinVault) -> MemoryHost:
    return scenario.build_host(vault, TODAY)


@pytest.fixture
def engine(scenario: Scenario, host: MemoryHost, vault: PinVault) -> ConnectFlow:
    clock = FixedClock(OPEN_INSTANT)
    return ConnectFlow(scenario.rules, host, host, vault, clock, random.Random(3))


def customer_form(
    persona: Persona, name: str | None = None, phone: str | None = None
) -> dict[str, str]:
    birth = persona.birth_date.resolve(TODAY)
    return {
        "name_kana": name or persona.name_kana,
        "birth_year": str(birth.year),
        "birth_month": f"{birth.month:02d}",
        "birth_day": f"{birth.day:02d}",
        "phone": phone or persona.phone,
        "email": "tester@example.jp",
        "email_confirm": "tester@example.jp",
    }


def start(engine: ConnectFlow, key: AccountKey) -> FlowState:
    flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), "s", "c")
    engine.submit_account(
        flow,
        {
            "branch_no": key.branch_no,
            "account_type": key.account_type,
            "account_no": key.account_no,
        },
    )
    return flow


def link(
    engine: ConnectFlow, persona: Persona, key: AccountKey, pin: str, name: str | None = None
) -> FlowState:
    """Walk ① to ⑥ with the persona's details; answers the flow on ⑥."""
    flow = start(engine, key)
    engine.submit_customer(flow, customer_form(persona, name))
    engine.decide_phone(flow)
    assert flow.challenge is not None
    answer = engine.receive_call(InboundCall(persona.phone, flow.challenge.to_number), [flow])
    assert answer.verified
    engine.confirm_call(flow)
    engine.submit_pin(flow, {"pin": pin})
    return flow


# -- INTERFACE.md §8 ------------------------------------------------------------------------


def test_section_8_partner_app(scenario: Scenario) -> None:
    """R-FLOW-6: 「しんくみアプリwithCRECO」 of アイ・ティ・リアライズ株式会社 is registered."""
    creco = scenario.client("creco")
    assert creco is not None
    assert creco.client_secret == "creco-secret"
    assert creco.redirect_uris == ("http://127.0.0.1:8765/callback",)
    assert creco.name == "しんくみアプリwithCRECO"
    assert creco.company == "アイ・ティ・リアライズ株式会社"
    assert creco.scopes == ("accounts", "transactions")


def test_section_8_bank_rules(scenario: Scenario) -> None:
    """R-FLOW-4 pool, R-ERR-HOST-3 lockout after 5, R-AUTHZ-1 30 days."""
    rules = scenario.rules
    assert rules.call_pool == ("0120111111", "0120222222", "0120333333")
    assert rules.lockout.threshold == 5
    assert rules.grants.days == 30
    assert rules.call_window == dt.timedelta(seconds=120)
    assert rules.name == "中ノ郷信用組合"


def test_section_8_manual_customer(scenario: Scenario, host: MemoryHost, vault: PinVault) -> None:
    """The manual's own customer (R-FLOW-1/2/5): 115-1-1100026, ﾃﾞｰﾀ ﾀﾛｳ, PIN 1357."""
    account = host.account(MANUAL)
    assert account is not None
    customer = host.customer(account.customer_id)
    assert customer is not None
    assert customer.name_kana == "ﾃﾞｰﾀ ﾀﾛｳ"
    assert customer.birth_date == dt.date(1985, 4, 1)
    assert customer.phone == "09012343333"
    assert account.card is not None and account.card.issued_on < TODAY - dt.timedelta(days=365)
    assert vault.verify(account, "1357")
    assert not vault.verify(account, "1358")
    assert unusable_reason(account, TODAY) is None
    assert scenario.branch_name("115") != ""
    assert {"011", "022", "115"} <= {b.code for b in scenario.branches}


def test_r_acct_4_manual_account_has_more_than_four_months_of_history(host: MemoryHost) -> None:
    """R-ACCT-4: history reaches past the host's 3 months (at least four months back)."""
    items = host.transactions(MANUAL)
    assert items[0].date <= months_before(TODAY, 4)
    assert items[-1].date <= TODAY
    months = {(t.date.year, t.date.month) for t in items}
    assert len(months) >= 5
    account = host.account(MANUAL)
    assert account is not None and items[-1].balance == account.balance


# -- every persona ------------------------------------------------------------------------


def test_every_persona_says_what_it_is_for(scenario: Scenario) -> None:
    for persona in scenario.personas:
        assert REQUIREMENT_ID.search(persona.behaviour), persona.id
    ids = [p.id for p in scenario.personas]
    for wanted in ("manual", "no-card", "new-account", "moved", "closed", "current", "savings",
                   "landline", "small-kana", "lockout", "two-accounts"):  # fmt: skip
        assert wanted in ids


def test_r_flow_1_to_6_the_manual_customer_links_end_to_end(
    scenario: Scenario, engine: ConnectFlow
) -> None:
    """R-FLOW-1..6 and R-AUTHZ-1 with the default scenario's own data."""
    persona = scenario.persona("manual")
    flow = link(engine, persona, MANUAL, "1357")
    assert flow.screen is Screen.CONSENT
    grant = engine.decide(flow, {"decision": "allow", "agree": "1"})
    assert grant is not None and grant.account == MANUAL
    assert grant.expires_at - grant.granted_at == dt.timedelta(days=30)


@pytest.mark.parametrize(
    ("persona_id", "key", "reason"),
    [
        ("no-card", AccountKey("115", "1", "2000001"), "no cash card"),
        ("new-account", AccountKey("115", "1", "2000002"), "cash card not yet issued"),
        ("moved", AccountKey("011", "1", "1111111"), "moved to 022-1-2222222"),
        ("closed", AccountKey("115", "1", "2000003"), "closed"),
        ("current", AccountKey("115", "2", "2000004"), "not an ordinary deposit account"),
        ("savings", AccountKey("115", "4", "2000005"), "not an ordinary deposit account"),
    ],
)
def test_r_acct_1_2_3_unusable_personas(
    scenario: Scenario,
    host: MemoryHost,
    engine: ConnectFlow,
    persona_id: str,
    key: AccountKey,
    reason: str,
) -> None:
    """R-ACCT-1/2/3, R-ERR-HOST-1: each persona's account is refused for its own reason."""
    account = host.account(key)
    assert account is not None and account.customer_id == persona_id
    assert unusable_reason(account, TODAY) == reason
    flow = start(engine, key)
    with pytest.raises(errors.AccountUnavailable):
        engine.submit_customer(flow, customer_form(scenario.persona(persona_id)))
    assert flow.screen is Screen.ACCOUNT


def test_r_acct_2_the_new_account_stays_new_whatever_the_day(
    scenario: Scenario, vault: PinVault
) -> None:
    """R-ACCT-2: built on any day, the account opened that day and its card comes a week later."""
    key = AccountKey("115", "1", "2000002")
    for day in (dt.date(2025, 1, 6), dt.date(2030, 2, 28)):
        account = scenario.build_host(vault, day).account(key)
        assert account is not None and account.card is not None
        assert account.opened_on == day
        assert unusable_reason(account, day) == "cash card not yet issued"
        assert unusable_reason(account, day + dt.timedelta(days=7)) is None


def test_r_acct_3_the_moved_account_links_under_its_new_number(
    scenario: Scenario, host: MemoryHost, engine: ConnectFlow, vault: PinVault
) -> None:
    """R-ACCT-3: 011-1111111 → 022-2222222; the new number links with the same PIN."""
    old, new = AccountKey("011", "1", "1111111"), AccountKey("022", "1", "2222222")
    moved, opened = host.account(old), host.account(new)
    assert moved is not None and moved.status is AccountStatus.MOVED and moved.moved_to == new
    assert opened is not None and unusable_reason(opened, TODAY) is None
    assert vault.verify(opened, "8642")
    assert host.transactions(old) == [] and len(host.transactions(new)) > 0
    flow = link(engine, scenario.persona("moved"), new, "8642")
    assert flow.screen is Screen.CONSENT


def test_r_flow_2_small_kana_typed_matches_large_kana_filed(
    scenario: Scenario, host: MemoryHost, engine: ConnectFlow
) -> None:
    """R-FLOW-2: filed ｷﾔﾉﾝ ﾊﾅｺ; the customer types ｷｬﾉﾝ ﾊﾅｺ and is accepted."""
    persona = scenario.persona("small-kana")
    assert persona.name_kana == "ｷﾔﾉﾝ ﾊﾅｺ"
    customer = host.customer("small-kana")
    assert customer is not None
    birth = persona.birth_date.resolve(TODAY)
    assert identity_matches(customer, "ｷｬﾉﾝ ﾊﾅｺ", birth, persona.phone)
    key = persona.accounts[0].key
    flow = link(engine, persona, key, "3690", name="ｷｬﾉﾝ ﾊﾅｺ")
    assert flow.screen is Screen.CONSENT


def test_r_flow_3_landline_is_masked_and_links(scenario: Scenario, engine: ConnectFlow) -> None:
    """R-FLOW-2/3/4: a 10-digit landline, masked to its last 4 digits; PIN 0480 keeps its zero."""
    persona = scenario.persona("landline")
    assert len(persona.phone) == 10 and not persona.phone.startswith(("070", "080", "090"))
    assert mask_phone(persona.phone) == "******1234"
    key = persona.accounts[0].key
    assert key.account_no == "0000123"
    flow = link(engine, persona, key, "0480")
    assert flow.screen is Screen.CONSENT


def test_r_err_host_3_and_4_the_lockout_persona_locks_alone(
    scenario: Scenario, host: MemoryHost, engine: ConnectFlow
) -> None:
    """R-ERR-HOST-2/3/4, R-ACCT-5: five failures lock `lockout`; the manual's account stays open."""
    persona = scenario.persona("lockout")
    key = persona.accounts[0].key
    flow = start(engine, key)
    wrong = customer_form(persona, phone="09000000000")
    for _ in range(4):
        with pytest.raises(errors.IdentityMismatch):
            engine.submit_customer(flow, wrong)
    with pytest.raises(errors.LockedNow):
        engine.submit_customer(flow, wrong)
    with pytest.raises(errors.B84):
        engine.submit_customer(start(engine, key), customer_form(persona))
    assert host.failures(MANUAL, TODAY) == 0
    manual = link(engine, scenario.persona("manual"), MANUAL, "1357")
    assert manual.screen is Screen.CONSENT


def test_r_err_host_2_lockout_pin_counts_wrong_pins(
    scenario: Scenario, host: MemoryHost, engine: ConnectFlow
) -> None:
    """R-FLOW-5, R-ERR-HOST-2/3: wrong PINs on ⑤ count towards the lock of `lockout-pin`."""
    persona = scenario.persona("lockout-pin")
    key = persona.accounts[0].key
    with pytest.raises(errors.IdentityMismatch):
        link(engine, persona, key, "0000")
    assert host.failures(key, TODAY) == 1


def test_r_flow_1_two_accounts_each_link_with_their_own_pin(
    scenario: Scenario, host: MemoryHost, vault: PinVault
) -> None:
    """R-FLOW-1: one customer, two usable accounts, two cards, two PINs."""
    persona = scenario.persona("two-accounts")
    first, second = (host.account(a.key) for a in persona.accounts)
    assert first is not None and second is not None
    assert first.customer_id == second.customer_id == "two-accounts"
    assert unusable_reason(first, TODAY) is None and unusable_reason(second, TODAY) is None
    assert vault.verify(first, "1234") and not vault.verify(first, "5678")
    assert vault.verify(second, "5678")


def test_r_err_input_2_long_name_is_exactly_the_limit(scenario: Scenario) -> None:
    """R-FLOW-2, R-ERR-INPUT-2: the 48-character name is taken; one more is refused."""
    persona = scenario.persona("long-name")
    assert len(persona.name_kana) == 48
    assert read_customer(customer_form(persona), TODAY).name_kana == persona.name_kana
    with pytest.raises(errors.InputRejected):
        read_customer(customer_form(persona, name=persona.name_kana + "ﾝ"), TODAY)


def test_leap_day_persona_is_born_on_29_february(scenario: Scenario) -> None:
    """R-FLOW-2: the birth date 1988-02-29 exists; 1989-02-29 is refused (R-ERR-INPUT-2)."""
    persona = scenario.persona("leap-day")
    assert persona.birth_date.resolve(TODAY) == dt.date(1988, 2, 29)
    form = customer_form(persona) | {"birth_year": "1989"}
    with pytest.raises(errors.InputRejected):
        read_customer(form, TODAY)


def test_default_population_is_built_beside_the_personas(
    scenario: Scenario, host: MemoryHost
) -> None:
    assert scenario.population is not None
    bulk = [c for c in host.customers if c.startswith("P")]
    assert len(bulk) == scenario.population.customers
    assert len(host.customers) == len(scenario.personas) + len(bulk)


def test_build_is_repeatable_and_the_seed_changes_history(
    scenario: Scenario, vault: PinVault
) -> None:
    a = scenario.build_host(vault, TODAY)
    b = scenario.build_host(vault, TODAY)
    c = scenario.build_host(vault, TODAY, seed=1)
    assert a.history == b.history and a.accounts == b.accounts
    assert a.transactions(MANUAL) != c.transactions(MANUAL)
