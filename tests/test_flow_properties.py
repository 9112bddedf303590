"""Hypothesis property and stateful tests of the flow and the lockout.

* A lock lasts exactly until the next 0:00 JST (R-ERR-HOST-3).
* A state machine presses every button in any order, with right and wrong
  answers, calls that do and do not verify, and time passing: no flow reaches
  ⑤ without a verified call in time, nor ⑥ without the correct PIN, nor a grant
  without the ticked agreement (R-FLOW-4/5/6/8); the failure count matches
  the identity failures made (R-ERR-HOST-2/3/4).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from helpers import GOOD_CUSTOMER_FORM, MANUAL, NO_CARD, account_form
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from simulator.core.bank import BankRules
from simulator.core.clock import JST, FixedClock, jst_day, next_jst_midnight
from simulator.core.errors import RenkeiError
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.host import Account, Customer, PinVault
from simulator.core.lockout import Lockout
from simulator.core.memory import MemoryHost
from simulator.core.screens import End, Screen
from simulator.core.telephony import InboundCall

pytestmark = pytest.mark.property

instants = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),  # noqa: DTZ001 - Hypothesis wants naive bounds
    max_value=dt.datetime(2035, 12, 31),  # noqa: DTZ001
    timezones=st.just(JST),
)


@settings(max_examples=300, deadline=None)
@given(
    locked_at=instants,
    later=st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(hours=50)),
    threshold=st.integers(min_value=1, max_value=10),
)
def test_r_err_host_3_a_lock_lasts_exactly_until_the_next_midnight_jst(
    locked_at: dt.datetime, later: dt.timedelta, threshold: int
) -> None:
    """R-ERR-HOST-3: locked from the threshold failure until 0:00 JST, not a moment more."""
    ledger, rule_ = MemoryHost(), Lockout(threshold)
    answers = [rule_.failure(ledger, MANUAL, locked_at).code for _ in range(threshold)]
    assert answers[-1] == "locked_now"
    assert set(answers[:-1]) <= {"identity_mismatch"}
    midnight = next_jst_midnight(locked_at)
    assert midnight.time() == dt.time(0) and midnight - locked_at <= dt.timedelta(days=1)
    probe = locked_at + later
    until = rule_.locked_until(ledger, MANUAL, probe)
    if probe < midnight:
        assert until == midnight
    else:
        assert until is None
    assert rule_.failure(ledger, MANUAL, locked_at).code == "B84"


START = dt.datetime(2026, 11, 24, 10, 0, tzinfo=JST)  # a Tuesday, open all morning
LONG_AGO = dt.date(2010, 4, 1)
PIN = "1357"


class FlowMachine(RuleBasedStateMachine):
    """Presses buttons at random on one customer's flows."""

    def __init__(self) -> None:
        super().__init__()
        vault = PinVault(b"k")
        self.host = MemoryHost()
        taro = Customer("c", "ﾃﾞｰﾀ ﾀﾛｳ", dt.date(1985, 4, 1), "09012343333")
        self.host.add(
            taro,
            [
                Account(MANUAL, "c", LONG_AGO, card=vault.card("card", LONG_AGO, PIN)),
                Account(NO_CARD, "c", LONG_AGO),
            ],
        )
        self.clock = FixedClock(START)
        self.engine = ConnectFlow(
            BankRules(lockout=Lockout(8)),
            self.host,
            self.host,
            vault,
            self.clock,
            random.Random(0),
        )
        self.flow: FlowState = self._start()
        self.identity_failures = 0
        self.pin_accepted = False

    def _start(self) -> FlowState:
        return self.engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), "s", "c")

    def _try(self, action: object, *args: object) -> bool:
        before = self.flow.screen
        try:
            action(*args)  # type: ignore[operator]
        except RenkeiError as error:
            if error.code in ("identity_mismatch", "locked_now"):
                self.identity_failures += 1
            return False
        return before is not self.flow.screen or self.flow.finished

    @rule()
    def restart_when_finished(self) -> None:
        if self.flow.finished:
            self.flow = self._start()
            self.pin_accepted = False

    @rule(good=st.booleans())
    def account(self, good: bool) -> None:
        self._try(self.engine.submit_account, self.flow, account_form(MANUAL if good else NO_CARD))

    @rule(which=st.sampled_from(["good", "bad birth", "bad phone", "empty", "full-width"]))
    def customer(self, which: str) -> None:
        form = dict(GOOD_CUSTOMER_FORM)
        if which == "bad birth":
            form["birth_day"] = "02"
        elif which == "bad phone":
            form["phone"] = "09000000000"
        elif which == "empty":
            form["name_kana"] = ""
        elif which == "full-width":
            form["name_kana"] = "データ タロウ"
        self._try(self.engine.submit_customer, self.flow, form)

    @rule()
    def decide_phone(self) -> None:
        self._try(self.engine.decide_phone, self.flow)

    @rule(
        caller=st.sampled_from(["09012343333", "09099999999"]),
        prefix=st.sampled_from(["", "184", "186"]),
        caller_id=st.sampled_from(["shown", "withheld"]),
        to=st.sampled_from(["shown", "0120111111", "0120222222", "0120999999"]),
    )
    def call(self, caller: str, prefix: str, caller_id: str, to: str) -> None:
        challenge = self.flow.challenge
        number = challenge.to_number if (to == "shown" and challenge) else to
        if to == "shown" and challenge is None:
            number = "0120111111"
        self.engine.receive_call(InboundCall(caller, prefix + number, caller_id), [self.flow])

    @rule()
    def confirm(self) -> None:
        self._try(self.engine.confirm_call, self.flow)

    @rule(right=st.booleans())
    def pin(self, right: bool) -> None:
        moved = self._try(self.engine.submit_pin, self.flow, {"pin": PIN if right else "0000"})
        if moved and self.flow.screen is Screen.CONSENT:
            assert right, "a wrong PIN reached ⑥"
            self.pin_accepted = True

    @rule(decision=st.sampled_from(["allow", "deny"]), agree=st.booleans())
    def consent(self, decision: str, agree: bool) -> None:
        form = {"decision": decision, "agree": "1" if agree else ""}
        was_consent = self.flow.screen is Screen.CONSENT
        self._try(self.engine.decide, self.flow, form)
        if self.flow.end is End.GRANTED and was_consent:
            assert decision == "allow" and agree and self.pin_accepted

    @rule()
    def step(self) -> None:
        """The right answer for the screen the flow is on, so deep screens are reached."""
        screen = self.flow.screen
        if screen is Screen.ACCOUNT:
            self.account(True)
        elif screen is Screen.CUSTOMER:
            self.customer("good")
        elif screen is Screen.PHONE:
            self.decide_phone()
        elif screen is Screen.CALL:
            self.call("09012343333", "", "shown", "shown")
            self.confirm()
        elif screen is Screen.PIN:
            self.pin(True)
        elif screen is Screen.CONSENT:
            self.consent("allow", True)

    @rule(roll=st.integers(0, 3))
    def cancel(self, roll: int) -> None:
        if roll == 0:  # rarer than the other buttons, so flows get deep
            self._try(self.engine.cancel, self.flow)

    @rule(screen=st.sampled_from(list(Screen)))
    def show(self, screen: Screen) -> None:
        self._try(self.engine.show, self.flow, screen)

    @precondition(lambda self: self.clock.now() - START < dt.timedelta(minutes=90))
    @rule(seconds=st.sampled_from([1, 30, 59, 60, 61, 119, 120, 121]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def pin_screen_only_after_a_verified_call_in_time(self) -> None:
        """R-FLOW-4/R-FLOW-8: ⑤ (and ⑥) only after a call verified within 120 s."""
        if self.flow.screen in (Screen.PIN, Screen.CONSENT):
            challenge = self.flow.challenge
            assert challenge is not None and challenge.verified_at is not None
            assert challenge.verified_at <= challenge.deadline

    @invariant()
    def consent_screen_only_after_the_right_pin(self) -> None:
        """R-FLOW-5: ⑥ only after the correct PIN on ⑤."""
        if self.flow.screen is Screen.CONSENT or self.flow.end is End.GRANTED:
            assert self.pin_accepted

    @invariant()
    def failures_are_counted_exactly(self) -> None:
        """R-ERR-HOST-2/3: the ledger counts every identity failure made, and only those."""
        assert self.host.failures(MANUAL, jst_day(self.clock.now())) == self.identity_failures

    @invariant()
    def a_finished_flow_has_no_screen(self) -> None:
        assert (self.flow.screen is None) == self.flow.finished


FlowMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestFlowMachine = FlowMachine.TestCase
