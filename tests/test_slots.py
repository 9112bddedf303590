"""The host's slots (R-ERR-SYS-2) and how long a flow lives (R-ERR-CALL-4), in the core.

renkei's own rules, not the manual's (issue 16, docs/hardening.md): a flow no
screen of which was posted (an early flow) holds its slot for ``early_flow_seconds``
after it started, GETs or not; one partner app's early flows hold at most
``early_flows_per_client`` slots; any flow is lost ``flow_lifetime_minutes`` after
it started, however often it is touched; and a refusal for capacity says when the
rule frees the slot that would admit the new flow.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import MANUAL, OPEN_INSTANT, account_form, advance, walk_to

from simulator.core import errors
from simulator.core.bank import BankRules, PlatformRules
from simulator.core.clock import FixedClock
from simulator.core.faults import (
    EARLY_FLOW,
    FLOW_LIFETIME,
    FLOW_TIMEOUT,
    Capacity,
    Faults,
    Occupancy,
    SlotRule,
)
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.screens import End, Screen
from simulator.fields import ScenarioError
from simulator.scenario import load_platform, load_scenario

ROOT = Path(__file__).resolve().parents[1]
REDIRECT = "http://127.0.0.1:8765/callback"
RULE = SlotRule()


def start(engine: ConnectFlow, client: str = "creco", slots: Occupancy | None = None) -> FlowState:
    return engine.start(client, REDIRECT, ("accounts",), None, "c", slots)


def flow_at(at: dt.datetime, client: str = "creco", posted: bool = False) -> FlowState:
    return FlowState(
        "f", client, REDIRECT, ("accounts",), None, "c", at, at, posted_at=at if posted else None
    )


# -- the rule: when a flow stops holding its slot ------------------------------------------------


def test_the_defaults() -> None:
    seconds = [d.total_seconds() for d in (FLOW_TIMEOUT, EARLY_FLOW, FLOW_LIFETIME)]
    assert seconds == [30 * 60, 120, 60 * 60]
    assert BankRules().slots == SlotRule(FLOW_TIMEOUT, EARLY_FLOW, FLOW_LIFETIME)
    assert Capacity().per_client == 100


def test_an_early_flow_holds_its_slot_for_the_early_lapse_after_it_started() -> None:
    at = OPEN_INSTANT
    flow = flow_at(at)
    assert flow.slot_freed_at(RULE) == at + EARLY_FLOW
    flow.touched_at = at + dt.timedelta(seconds=100)  # a GET does not extend it
    assert flow.slot_freed_at(RULE) == at + EARLY_FLOW
    assert flow.holds_slot(at + EARLY_FLOW, RULE)
    assert not flow.holds_slot(at + EARLY_FLOW + dt.timedelta(microseconds=1), RULE)


def test_a_posted_flow_holds_it_until_the_idle_timeout_or_its_lifetime() -> None:
    at = OPEN_INSTANT
    flow = flow_at(at, posted=True)
    assert flow.slot_freed_at(RULE) == at + FLOW_TIMEOUT
    flow.touched_at = at + dt.timedelta(minutes=50)
    assert flow.slot_freed_at(RULE) == at + FLOW_LIFETIME  # not 50 + 30 min
    flow.end = End.GRANTED
    assert not flow.holds_slot(at, RULE)  # an ended flow holds nothing


def test_the_rule_refuses_a_setting_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SlotRule(early=dt.timedelta(0))
    with pytest.raises(ValueError, match="at least 1"):
        Capacity(flows=10, early_per_client=0)


# -- the engine: lost when the rule says so ------------------------------------------------------


def test_an_early_flow_past_its_lapse_is_lost_however_often_it_was_shown(
    engine: ConnectFlow, clock: FixedClock
) -> None:
    flow = start(engine)
    for _ in range(3):
        advance(clock, seconds=40)
        engine.show(flow, Screen.ACCOUNT)  # GETs: 40, 80, 120 s
    advance(clock, seconds=1)
    with pytest.raises(errors.FlowLost):
        engine.show(flow, Screen.ACCOUNT)
    assert flow.end is End.FAILED and flow.end_code == "flow_lost"


def test_any_post_of_the_first_screen_ends_the_early_lapse(
    engine: ConnectFlow, clock: FixedClock
) -> None:
    """Accepted or not: a customer who mistyped ① is a customer, not a flood."""
    flow = start(engine)
    advance(clock, seconds=60)
    with pytest.raises(errors.InvalidInput):
        engine.submit_account(flow, {**account_form(MANUAL), "account_no": "12"})
    assert flow.posted_at == clock.now()
    advance(clock, minutes=20)
    engine.submit_account(flow, account_form(MANUAL))
    assert flow.screen is Screen.CUSTOMER


def test_a_flow_touched_every_25_minutes_is_lost_at_its_lifetime(
    engine: ConnectFlow, clock: FixedClock, new_flow: FlowState
) -> None:
    """Item 7: a verified flow kept alive by GETs cannot finish ⑥ hours later."""
    walk_to(engine, new_flow, Screen.CONSENT)
    started = new_flow.started_at
    advance(clock, minutes=25)
    engine.show(new_flow, Screen.CONSENT)
    advance(clock, minutes=25)
    engine.show(new_flow, Screen.CONSENT)
    clock.set(started + FLOW_LIFETIME)
    engine.show(new_flow, Screen.CONSENT)  # the last instant it lives
    advance(clock, seconds=1)
    with pytest.raises(errors.FlowLost):
        engine.decide(new_flow, {"decision": "allow", "agree": "1"})
    assert new_flow.grant_id is None and new_flow.end_code == "flow_lost"


def test_a_posted_flow_still_idles_out_after_the_timeout(
    engine: ConnectFlow, clock: FixedClock, new_flow: FlowState
) -> None:
    walk_to(engine, new_flow, Screen.CUSTOMER)
    advance(clock, minutes=30, seconds=1)
    with pytest.raises(errors.FlowLost):
        engine.show(new_flow, Screen.CUSTOMER)


def test_posted_at_is_kept_with_the_flow_and_an_older_record_is_not_early(
    engine: ConnectFlow,
) -> None:
    flow = start(engine)
    assert FlowState.from_record(flow.to_record()) == flow
    assert flow.to_record()["posted_at"] is None
    engine.submit_account(flow, account_form(MANUAL))
    assert FlowState.from_record(flow.to_record()) == flow
    assert flow.to_record()["posted_at"] == engine.clock.now().isoformat()
    older = flow.to_record()
    del older["posted_at"]  # saved by a renkei before early flows
    assert FlowState.from_record(older).posted_at == flow.started_at


# -- the slots a new flow finds --------------------------------------------------------------------


def test_occupancy_counts_the_flows_holding_a_slot_and_the_apps_early_ones() -> None:
    at = OPEN_INSTANT
    early = flow_at(at)
    other = flow_at(at + dt.timedelta(seconds=30), client="kakeibo")
    posted = flow_at(at - dt.timedelta(minutes=10), posted=True)
    lapsed = flow_at(at - dt.timedelta(minutes=5))
    ended = replace(flow_at(at), end=End.CANCELLED)
    now = at + dt.timedelta(seconds=60)
    slots = Occupancy.of([early, other, posted, lapsed, ended], now, RULE, "creco")
    assert slots == Occupancy(
        held=3,
        freed=at + EARLY_FLOW,
        client_early=1,
        client_freed=at + EARLY_FLOW,
    )
    assert Occupancy.of([early], now, RULE, "kakeibo").client_early == 0


def test_the_per_client_share_defaults_to_half_the_capacity() -> None:
    assert [Capacity(flows=n).per_client for n in (1, 2, 3, 200)] == [1, 1, 1, 100]
    assert Capacity(flows=200, early_per_client=7).per_client == 7


def test_retry_after_is_the_first_whole_second_after_the_first_slot_frees() -> None:
    now = OPEN_INSTANT
    capacity = Capacity(flows=2)
    freed = now + dt.timedelta(seconds=119, milliseconds=300)
    assert capacity.retry_at(Occupancy(1, freed), now) is None
    full = capacity.retry_at(Occupancy(2, freed), now)
    assert full == now + dt.timedelta(seconds=120)
    on_the_second = capacity.retry_at(Occupancy(2, now + dt.timedelta(seconds=120)), now)
    assert on_the_second == now + dt.timedelta(seconds=121)  # it still holds at 120 s
    soon = capacity.retry_at(Occupancy(2, now + dt.timedelta(milliseconds=1)), now)
    assert soon == now + dt.timedelta(seconds=1)  # never sooner than a second


def test_an_app_over_its_share_waits_for_its_own_first_early_flow() -> None:
    now = OPEN_INSTANT
    capacity = Capacity(flows=10, early_per_client=2)
    mine = now + dt.timedelta(seconds=90)
    slots = Occupancy(
        held=4, freed=now + dt.timedelta(seconds=5), client_early=2, client_freed=mine
    )
    assert capacity.retry_at(slots, now) == now + dt.timedelta(seconds=91)
    assert capacity.retry_at(replace(slots, client_early=1), now) is None


def test_the_engine_answers_congested_with_the_truthful_retry_after(
    engine: ConnectFlow, clock: FixedClock
) -> None:
    """R-ERR-SYS-2: full, the new flow is told when a slot frees; the other apps'
    customers still get slots while one app is at its share."""
    rules = replace(BankRules(), capacity=Capacity(flows=4))
    small = ConnectFlow(rules, engine.host, engine.locks, engine.pins, clock, random.Random(1))
    flows = [start(small, client) for client in ("creco", "creco")]
    advance(clock, seconds=10)

    def slots(client: str) -> Occupancy:
        return Occupancy.of(flows, clock.now(), rules.slots, client)

    with pytest.raises(errors.Congested) as refused:
        start(small, "creco", slots("creco"))  # creco holds its 2 of 4
    assert refused.value.retry_after == clock.now() + dt.timedelta(seconds=111)
    flows += [start(small, "kakeibo", slots("kakeibo")) for _ in range(2)]
    with pytest.raises(errors.Congested) as full:
        start(small, "other", slots("other"))
    assert full.value.retry_after == clock.now() + dt.timedelta(seconds=111)
    clock.set(refused.value.retry_after)
    start(small, "creco", slots("creco"))  # the retry at that time is admitted


def test_the_congestion_fault_keeps_its_configured_wait(engine: ConnectFlow) -> None:
    rules = replace(BankRules(), capacity=Capacity(retry_after=dt.timedelta(seconds=45)))
    forced = ConnectFlow(
        rules,
        engine.host,
        engine.locks,
        engine.pins,
        engine.clock,
        random.Random(1),
        faults=lambda: Faults(congestion=True),
    )
    with pytest.raises(errors.Congested) as caught:
        start(forced)
    assert caught.value.retry_after == engine.clock.now() + dt.timedelta(seconds=45)


# -- the settings of a scenario -------------------------------------------------------------


def scenario_text(**settings: object) -> str:
    text = (ROOT / "scenarios/default.yaml").read_text("utf-8")
    lines = "".join(f"  {k}: {v}\n" for k, v in settings.items())
    return text.replace("  capacity_flows: 200", "  capacity_flows: 10\n" + lines.rstrip("\n"), 1)


def test_a_scenario_gives_the_three_settings(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        scenario_text(early_flow_seconds=30, early_flows_per_client=3, flow_lifetime_minutes=45),
        "utf-8",
    )
    rules = load_scenario(path).rules
    assert rules.slots == SlotRule(FLOW_TIMEOUT, dt.timedelta(seconds=30), dt.timedelta(minutes=45))
    assert rules.capacity.per_client == 3
    assert PlatformRules.of(rules).apply(BankRules()).slots == rules.slots
    assert load_scenario(ROOT / "scenarios/default.yaml").rules.slots == SlotRule()


def test_a_platform_gives_them_once_for_every_bank() -> None:
    platform = load_platform(ROOT / "scenarios/platform.yaml")
    assert {bank.rules.slots for bank in platform.banks} == {SlotRule()}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"early_flows_per_client": 11},
            "early_flows_per_client: must be a whole number from 1 to 10",
        ),
        ({"early_flow_seconds": 0}, "early_flow_seconds: must be a whole number from 1 to 86400"),
        ({"flow_lifetime_minutes": "an hour"}, "flow_lifetime_minutes: must be a whole number"),
    ],
)
def test_a_wrong_setting_names_itself(
    tmp_path: Path, settings: dict[str, object], message: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(**settings), "utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)
