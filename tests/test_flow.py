"""The flow engine, screen by screen (R-FLOW-*, R-ERR-HOST-*, R-ERR-CALL-*, R-ERR-SYS-*).

Each test names the requirement it shows. The engine runs on the in-memory
host of ``conftest.py`` with a fixed clock and a seeded generator.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from helpers import (
    CLOSED,
    CURRENT,
    GOOD_CUSTOMER_FORM,
    MANUAL,
    MOVED_FROM,
    MOVED_TO,
    NEW,
    NO_CARD,
    account_form,
    advance,
    walk_to,
)

from simulator.core import errors, guards, messages
from simulator.core.clock import FixedClock
from simulator.core.faults import Faults, Occupancy
from simulator.core.flow import ConnectFlow, Event, FlowState
from simulator.core.guards import ON_EVERY_REQUEST, Attempt, Guard
from simulator.core.host import AccountKey
from simulator.core.memory import MemoryHost
from simulator.core.screens import DETOURS, MOVES, Action, End, Move, Screen, detour, mermaid, move
from simulator.core.telephony import InboundCall

ALLOW = {"decision": "allow", "agree": "1"}


def wrong(**changes: str) -> dict[str, str]:
    return {**GOOD_CUSTOMER_FORM, **changes}


# -- R-FLOW-1..6: the happy path --------------------------------------------------------------


def test_r_flow_1_to_6_happy_path_grants_30_days(
    engine: ConnectFlow, new_flow: FlowState, clock: FixedClock, journal: list[Event]
) -> None:
    """R-FLOW-1..6, R-AUTHZ-1: ① to ⑥ with correct answers end in a 30-day grant."""
    assert new_flow.screen is Screen.ACCOUNT
    engine.submit_account(new_flow, account_form(MANUAL))
    assert new_flow.screen is Screen.CUSTOMER and new_flow.account == MANUAL
    engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    assert new_flow.screen is Screen.PHONE
    assert new_flow.registered_phone == "09012343333"
    engine.decide_phone(new_flow)
    assert new_flow.screen is Screen.CALL
    challenge = new_flow.challenge
    assert challenge is not None
    assert challenge.to_number in engine.rules.call_pool
    assert challenge.deadline - challenge.shown_at == dt.timedelta(seconds=120)
    answer = engine.receive_call(InboundCall("09012343333", challenge.to_number), [new_flow])
    assert answer.verified and not answer.answered and answer.rings in (2, 3)
    engine.confirm_call(new_flow)
    assert new_flow.screen is Screen.PIN
    engine.submit_pin(new_flow, {"pin": "1357"})
    assert new_flow.screen is Screen.CONSENT
    grant = engine.decide(new_flow, ALLOW)
    assert grant is not None
    assert new_flow.end is End.GRANTED and new_flow.grant_id == grant.grant_id
    assert grant.account == MANUAL and grant.client_id == "creco"
    assert grant.scopes == ("accounts", "transactions")
    assert grant.expires_at - grant.granted_at == dt.timedelta(days=30)
    assert new_flow.oauth_return() == {"state": "xyz"}
    kinds = [e.kind for e in journal]
    assert kinds[0] == "start" and kinds[-1] == "granted"
    # R-AUTHZ-6: the kana name and e-mail are kept for the operation log.
    identified = next(e for e in journal if e.kind == "identified")
    assert identified.detail["name_kana"] == "ﾃﾞｰﾀ ﾀﾛｳ"
    assert identified.detail["email"] == "taro@example.jp"


def test_r_flow_2_small_kana_and_spacing_match_the_name_on_file(
    engine: ConnectFlow, new_flow: FlowState
) -> None:
    """R-FLOW-2: ｷｬﾉﾝﾊﾅｺ typed matches ｷﾔﾉﾝ ﾊﾅｺ on file (small kana, no space)."""
    form = {
        "name_kana": "ｷｬﾉﾝﾊﾅｺ",
        "birth_year": "1990",
        "birth_month": "12",
        "birth_day": "31",
        "phone": "0336221234",
        "email": "h@example.jp",
        "email_confirm": "h@example.jp",
    }
    walk_to(engine, new_flow, Screen.PHONE, account=MOVED_TO, customer=form)


# -- R-FLOW-7: cancel and deny --------------------------------------------------------------


@pytest.mark.parametrize("screen", [Screen.CUSTOMER, Screen.PHONE, Screen.CALL, Screen.PIN])
def test_r_flow_7_cancel_on_screens_2_to_5(
    engine: ConnectFlow, new_flow: FlowState, screen: Screen
) -> None:
    """R-FLOW-7: 「中止する」 on ②–⑤ ends the flow; the app gets access_denied."""
    walk_to(engine, new_flow, screen)
    engine.cancel(new_flow)
    assert new_flow.end is End.CANCELLED
    assert new_flow.oauth_return() == {"error": "access_denied", "state": "xyz"}
    assert messages.CANCELLED == "API連携認証を中止しました。"


def test_r_flow_7_no_cancel_on_screen_1(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-FLOW-7: screen ① has no 「中止する」 button."""
    with pytest.raises(errors.OutOfOrder):
        engine.cancel(new_flow)
    assert new_flow.screen is Screen.ACCOUNT and not new_flow.finished


def test_r_flow_7_deny_on_screen_6(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-FLOW-7: 「拒否する」 on ⑥ needs no agreement and grants nothing."""
    walk_to(engine, new_flow, Screen.CONSENT)
    assert engine.decide(new_flow, {"decision": "deny"}) is None
    assert new_flow.end is End.CANCELLED and new_flow.grant_id is None


def test_r_flow_6_allow_needs_the_agreement_ticked(
    engine: ConnectFlow, new_flow: FlowState
) -> None:
    """R-FLOW-6: 「許可する」 without the ticked checkbox stays on ⑥ with an error."""
    walk_to(engine, new_flow, Screen.CONSENT)
    with pytest.raises(errors.RequiredMissing) as caught:
        engine.decide(new_flow, {"decision": "allow"})
    assert [e.field for e in caught.value.errors] == [None, "agree"]
    assert new_flow.screen is Screen.CONSENT
    assert engine.decide(new_flow, ALLOW) is not None


# -- R-FLOW-8: order --------------------------------------------------------------------------


@pytest.mark.parametrize("at", list(Screen))
def test_r_flow_8_every_other_screen_is_refused(
    engine: ConnectFlow, new_flow: FlowState, at: Screen
) -> None:
    """R-FLOW-8: on any screen, showing another one is refused and the flow stays."""
    walk_to(engine, new_flow, at)
    for other in Screen:
        if other is not at:
            with pytest.raises(errors.OutOfOrder):
                engine.show(new_flow, other)
    assert engine.show(new_flow, at).screen is at


def test_r_flow_8_skipping_ahead_and_replaying_are_refused(
    engine: ConnectFlow, new_flow: FlowState
) -> None:
    """R-FLOW-8: a PIN before the call, or ② again after ③, is refused."""
    with pytest.raises(errors.OutOfOrder):
        engine.submit_pin(new_flow, {"pin": "1357"})
    walk_to(engine, new_flow, Screen.PHONE)
    with pytest.raises(errors.OutOfOrder):
        engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)  # back button and resubmit
    with pytest.raises(errors.OutOfOrder):
        engine.confirm_call(new_flow)
    assert new_flow.screen is Screen.PHONE


def test_r_flow_8_a_finished_flow_takes_nothing(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-FLOW-8: after 「許可する」 the consent cannot be replayed for a second grant."""
    walk_to(engine, new_flow, Screen.CONSENT)
    engine.decide(new_flow, ALLOW)
    with pytest.raises(errors.OutOfOrder):
        engine.decide(new_flow, ALLOW)


# -- R-ERR-INPUT-1/2 ----------------------------------------------------------------------


def test_r_err_input_1_empty_fields_on_screen_1(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-ERR-INPUT-1: the dialog, then 「必ず入力して下さい。」 under each empty field."""
    with pytest.raises(errors.RequiredMissing) as caught:
        engine.submit_account(new_flow, {"branch_no": "", "account_type": "1"})
    error = caught.value
    assert error.code == "required" and error.status == 422
    assert error.errors[0].field is None
    assert error.errors[0].message == "入力されていない項目があります。"
    assert [(e.field, e.message) for e in error.errors[1:]] == [
        ("branch_no", "必ず入力して下さい。"),
        ("account_no", "必ず入力して下さい。"),
    ]
    assert new_flow.screen is Screen.ACCOUNT and new_flow.shown_error == "required"


def test_r_err_input_2_wrong_form_on_screen_2_is_not_counted(
    engine: ConnectFlow, new_flow: FlowState, host: MemoryHost, clock: FixedClock
) -> None:
    """R-ERR-INPUT-2: a full-width phone is an input error, not an identity failure."""
    walk_to(engine, new_flow, Screen.CUSTOMER)
    with pytest.raises(errors.InvalidInput) as caught:
        engine.submit_customer(new_flow, wrong(phone="０９０１２３４３３３３"))
    assert caught.value.code == "invalid"
    assert [e.field for e in caught.value.errors] == ["phone"]
    assert host.failures(MANUAL, clock.now().date()) == 0


# -- R-ERR-HOST-1: account not usable ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "requirement"),
    [
        (AccountKey("115", "1", "9999999"), "R-ERR-HOST-1"),
        (NO_CARD, "R-ACCT-1"),
        (CURRENT, "R-ACCT-1"),
        (NEW, "R-ACCT-2"),
        (CLOSED, "R-ERR-HOST-1"),
        (MOVED_FROM, "R-ACCT-3"),
    ],
)
def test_r_err_host_1_unusable_account_goes_back_to_screen_1(
    engine: ConnectFlow,
    new_flow: FlowState,
    host: MemoryHost,
    clock: FixedClock,
    key: AccountKey,
    requirement: str,
) -> None:
    """R-ERR-HOST-1 (with R-ACCT-1/2/3): the manual's message; back to ①; not counted."""
    walk_to(engine, new_flow, Screen.CUSTOMER, account=key)
    with pytest.raises(errors.AccountUnavailable) as caught:
        engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    assert caught.value.message == "ご指定の口座は、本サービスではお取り扱いできません。"
    assert caught.value.status == 422
    assert new_flow.screen is Screen.ACCOUNT, requirement
    assert host.failures(key, clock.now().date()) == 0
    engine.submit_account(new_flow, account_form(MANUAL))  # the customer corrects ①
    engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    assert new_flow.screen is Screen.PHONE


def test_r_acct_3_the_new_number_of_a_moved_account_can_be_linked(
    engine: ConnectFlow, new_flow: FlowState
) -> None:
    """R-ACCT-3: after 移管 011-1111111 → 022-2222222 the new number links."""
    form = wrong(
        name_kana="ｷﾔﾉﾝ ﾊﾅｺ",
        birth_year="1990",
        birth_month="12",
        birth_day="31",
        phone="0336221234",
    )
    walk_to(engine, new_flow, Screen.CONSENT, account=MOVED_TO, customer=form, pin="2468")


# -- R-ERR-HOST-2/3/4: identity and lockout ----------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [{"name_kana": "ﾃﾞｰﾀ ｼﾞﾛｳ"}, {"birth_day": "02"}, {"phone": "09012340000"}],
    ids=["name", "birth date", "phone"],
)
def test_r_err_host_2_identity_mismatch_on_screen_2(
    engine: ConnectFlow,
    new_flow: FlowState,
    host: MemoryHost,
    clock: FixedClock,
    bad: dict[str, str],
) -> None:
    """R-ERR-HOST-2: account right, one other detail wrong; same screen; counted."""
    walk_to(engine, new_flow, Screen.CUSTOMER)
    with pytest.raises(errors.IdentityMismatch) as caught:
        engine.submit_customer(new_flow, wrong(**bad))
    assert caught.value.message == (
        "本人認証情報が誤っています。 本人認証項目をご確認のうえ、再度入力して下さい。"
    )
    assert new_flow.screen is Screen.CUSTOMER
    assert host.failures(MANUAL, clock.now().date()) == 1


def test_r_flow_5_wrong_pin_is_an_identity_error(
    engine: ConnectFlow, new_flow: FlowState, host: MemoryHost, clock: FixedClock
) -> None:
    """R-FLOW-5, R-ERR-HOST-2: a wrong PIN on ⑤ is counted like ②'s failures."""
    walk_to(engine, new_flow, Screen.PIN)
    with pytest.raises(errors.IdentityMismatch):
        engine.submit_pin(new_flow, {"pin": "1358"})
    assert new_flow.screen is Screen.PIN
    assert host.failures(MANUAL, clock.now().date()) == 1
    engine.submit_pin(new_flow, {"pin": "1357"})
    assert new_flow.screen is Screen.CONSENT


def test_r_err_host_3_and_4_fifth_failure_locks_then_b84(
    engine: ConnectFlow, clock: FixedClock, host: MemoryHost
) -> None:
    """R-ERR-HOST-3/4: failures on ② and ⑤ add up; the 5th answers locked_now and
    ends the flow; any later attempt, even with correct details, answers B84."""

    def start() -> FlowState:
        return engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), "s", "c")

    flow = walk_to(engine, start(), Screen.PIN)
    for _ in range(2):
        with pytest.raises(errors.IdentityMismatch):
            engine.submit_pin(flow, {"pin": "0000"})
    second = walk_to(engine, start(), Screen.CUSTOMER)
    for _ in range(2):
        with pytest.raises(errors.IdentityMismatch):
            engine.submit_customer(second, wrong(birth_year="1986"))
    with pytest.raises(errors.LockedNow) as locked:
        engine.submit_customer(second, wrong(birth_year="1986"))
    assert locked.value.message == (
        "お取扱いができなくなりました。 詳しくは本サービスのお問合せ窓口へご照会下さい。"
    )
    assert locked.value.retry_after == dt.datetime(2026, 11, 25, tzinfo=clock.now().tzinfo)
    assert second.end is End.FAILED and second.end_code == "locked_now"
    assert second.oauth_return()["error_description"] == "locked_now"
    # The first flow, still on ⑤, now meets B84 with the right PIN.
    with pytest.raises(errors.B84) as b84:
        engine.submit_pin(flow, {"pin": "1357"})
    assert b84.value.message.endswith("理由コードはB84です。")
    assert flow.end is End.FAILED and flow.end_code == "B84"
    third = walk_to(engine, start(), Screen.CUSTOMER)
    with pytest.raises(errors.B84):
        engine.submit_customer(third, GOOD_CUSTOMER_FORM)
    assert host.failures(MANUAL, clock.now().date()) == 5  # B84 is not counted


def test_r_err_host_3_the_lock_lifts_at_0_00_jst(
    engine: ConnectFlow, clock: FixedClock, host: MemoryHost
) -> None:
    """R-ERR-HOST-3: locked for the rest of the day; at 0:00 JST the next day, free."""
    for _ in range(5):
        engine.rules.lockout.failure(host, MANUAL, clock.now())
    clock.set(dt.datetime(2026, 11, 24, 23, 59, 59, 999999, tzinfo=clock.now().tzinfo))
    assert engine.rules.lockout.locked_until(host, MANUAL, clock.now()) is not None
    clock.set(dt.datetime(2026, 11, 25, 0, 1, tzinfo=clock.now().tzinfo))  # after R-HOURS-1
    assert engine.rules.lockout.locked_until(host, MANUAL, clock.now()) is None
    flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
    walk_to(engine, flow, Screen.PHONE)


def test_r_acct_5_the_lock_is_per_account(
    engine: ConnectFlow, clock: FixedClock, host: MemoryHost
) -> None:
    """R-ACCT-5: a lock touches only API連携認証 of that account, not another's."""
    for _ in range(5):
        engine.rules.lockout.failure(host, MANUAL, clock.now())
    form = wrong(
        name_kana="ｷﾔﾉﾝ ﾊﾅｺ",
        birth_year="1990",
        birth_month="12",
        birth_day="31",
        phone="0336221234",
    )
    flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
    walk_to(engine, flow, Screen.PHONE, account=MOVED_TO, customer=form)
    assert host.account(MANUAL) is not None  # the account itself is untouched


# -- R-FLOW-4 and R-ERR-CALL-1..4 -------------------------------------------------------------


def test_r_err_call_1_confirm_before_the_call(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-ERR-CALL-1: 「確定する」 first answers 「認証中（認証着信待ち）」 and stays on ④."""
    walk_to(engine, new_flow, Screen.CALL)
    with pytest.raises(errors.CallPending) as caught:
        engine.confirm_call(new_flow)
    assert caught.value.message == "認証中（認証着信待ち）" and caught.value.status == 422
    assert new_flow.screen is Screen.CALL


@pytest.mark.parametrize("elapsed", [0, 60, 120])
def test_r_flow_4_a_call_within_120_s_verifies(
    engine: ConnectFlow, new_flow: FlowState, clock: FixedClock, elapsed: int
) -> None:
    """R-FLOW-4: a call and 「確定する」 up to 120 s after ④ was shown are in time."""
    walk_to(engine, new_flow, Screen.CALL)
    assert new_flow.challenge is not None
    advance(clock, seconds=elapsed)
    call = InboundCall("09012343333", new_flow.challenge.to_number)
    assert engine.receive_call(call, [new_flow]).verified
    engine.confirm_call(new_flow)
    assert new_flow.screen is Screen.PIN


def test_r_err_call_2_after_120_s_back_to_the_first_screen(
    engine: ConnectFlow, new_flow: FlowState, clock: FixedClock
) -> None:
    """R-ERR-CALL-2: a call 120.001 s late does not verify; 「確定する」 then sends the
    customer back to ① with the project's message (410)."""
    walk_to(engine, new_flow, Screen.CALL)
    assert new_flow.challenge is not None
    advance(clock, seconds=120.001)
    call = InboundCall("09012343333", new_flow.challenge.to_number)
    assert not engine.receive_call(call, [new_flow]).verified
    with pytest.raises(errors.CallExpired) as caught:
        engine.confirm_call(new_flow)
    assert caught.value.status == 410
    assert "最初から" in caught.value.message
    assert new_flow.screen is Screen.ACCOUNT and new_flow.challenge is None
    walk_to(engine, new_flow, Screen.CALL)  # a fresh attempt works


def test_r_err_call_2_a_verified_call_does_not_save_a_late_confirm(
    engine: ConnectFlow, new_flow: FlowState, clock: FixedClock
) -> None:
    """R-ERR-CALL-2: 「120秒経過後の「確定する」ボタンのタップは無効」 even after a good call."""
    walk_to(engine, new_flow, Screen.CALL)
    assert new_flow.challenge is not None
    engine.receive_call(InboundCall("09012343333", new_flow.challenge.to_number), [new_flow])
    advance(clock, seconds=121)
    with pytest.raises(errors.CallExpired):
        engine.confirm_call(new_flow)


@pytest.mark.parametrize(
    ("caller", "dialled", "caller_id"),
    [
        ("09012343333", "{to}", "withheld"),
        ("09012343333", "184{to}", "shown"),
        ("09099998888", "{to}", "shown"),
        ("09012343333", "0120999999", "shown"),
    ],
    ids=["withheld", "184 prefix", "other phone", "wrong number"],
)
def test_r_err_call_3_calls_that_do_not_verify(
    engine: ConnectFlow,
    new_flow: FlowState,
    caller: str,
    dialled: str,
    caller_id: str,
    journal: list[Event],
) -> None:
    """R-ERR-CALL-3: withheld caller ID, another phone, another number: not verified."""
    walk_to(engine, new_flow, Screen.CALL)
    assert new_flow.challenge is not None
    call = InboundCall(caller, dialled.format(to=new_flow.challenge.to_number), caller_id)
    answer = engine.receive_call(call, [new_flow])
    assert not answer.verified and not answer.answered and answer.rings in (2, 3)
    with pytest.raises(errors.CallPending):
        engine.confirm_call(new_flow)
    assert journal[-2].kind == "call" and journal[-2].detail["verdict"] != "verified"


def test_r_flow_4_186_shows_a_withheld_caller_id(engine: ConnectFlow, new_flow: FlowState) -> None:
    """R-FLOW-4: dialling 186 first shows the number even from a withheld phone."""
    walk_to(engine, new_flow, Screen.CALL)
    assert new_flow.challenge is not None
    call = InboundCall("09012343333", "186" + new_flow.challenge.to_number, "withheld")
    assert engine.receive_call(call, [new_flow]).verified


def test_r_flow_4_the_number_is_drawn_per_attempt(engine: ConnectFlow) -> None:
    """R-FLOW-4: each attempt draws its 認証先電話番号 from the pool at random."""
    drawn = set()
    for _ in range(30):
        flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
        walk_to(engine, flow, Screen.CALL)
        assert flow.challenge is not None
        drawn.add(flow.challenge.to_number)
        engine.cancel(flow)
    assert drawn == set(engine.rules.call_pool)


def test_r_err_call_4_a_lost_flow_starts_again(
    engine: ConnectFlow, new_flow: FlowState, clock: FixedClock
) -> None:
    """R-ERR-CALL-4: no flow (the browser closed), or one idle past its timeout, is lost."""
    with pytest.raises(errors.FlowLost):
        engine.confirm_call(None)
    walk_to(engine, new_flow, Screen.CALL)
    advance(clock, minutes=31)
    with pytest.raises(errors.FlowLost):
        engine.show(new_flow, Screen.CALL)
    assert new_flow.end is End.FAILED and new_flow.end_code == "flow_lost"


# -- R-ERR-SYS-1..4 on the flow -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "error", "oauth_error"),
    [
        (Faults(congestion=True), errors.Congested, "temporarily_unavailable"),
        (Faults(system_error=True), errors.SystemError_, "server_error"),
        (Faults(service_suspended=True), errors.ServiceUnavailable, "temporarily_unavailable"),
    ],
)
def test_r_err_sys_faults_keep_the_flow_where_it_was(
    engine: ConnectFlow,
    new_flow: FlowState,
    faults: Faults,
    error: type[errors.RenkeiError],
    oauth_error: str,
) -> None:
    """R-ERR-SYS-2/3/4: the error on the current screen; a retry later succeeds;
    「連携元画面へ」 returns the code to the app."""
    walk_to(engine, new_flow, Screen.CUSTOMER)
    engine.faults = lambda: faults
    with pytest.raises(error):
        engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    assert new_flow.screen is Screen.CUSTOMER
    engine.faults = Faults
    engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    assert new_flow.screen is Screen.PHONE
    engine.faults = lambda: faults
    with pytest.raises(error):
        engine.decide_phone(new_flow)
    engine.return_to_app(new_flow)
    assert new_flow.oauth_return() == {
        "error": oauth_error,
        "error_description": error.code,
        "state": "xyz",
    }


def test_r_err_sys_1_out_of_hours_at_authorize_and_on_a_screen(
    engine: ConnectFlow, clock: FixedClock
) -> None:
    """R-ERR-SYS-1: at 4:00 JST the service is closed; Retry-After is the reopening."""
    clock.set(dt.datetime(2026, 11, 25, 3, 58, tzinfo=clock.now().tzinfo))
    flow = engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
    walk_to(engine, flow, Screen.CUSTOMER)
    advance(clock, minutes=2)
    with pytest.raises(errors.OutOfHours) as caught:
        engine.submit_customer(flow, GOOD_CUSTOMER_FORM)
    assert caught.value.message == "ただ今の時間はサービスを行っておりません。ご了承ください。"
    assert caught.value.retry_after == dt.datetime(2026, 11, 25, 4, 5, tzinfo=clock.now().tzinfo)
    assert flow.screen is Screen.CUSTOMER
    with pytest.raises(errors.OutOfHours):
        engine.start("creco", "http://127.0.0.1:8765/callback", ("accounts",), None, "c")
    advance(clock, minutes=5)
    engine.submit_customer(flow, GOOD_CUSTOMER_FORM)
    assert flow.screen is Screen.PHONE


def test_r_err_sys_2_capacity_refuses_a_new_flow(engine: ConnectFlow) -> None:
    """R-ERR-SYS-2: with the host's flows all taken, a new flow is congested."""
    full = engine.rules.capacity.flows
    with pytest.raises(errors.Congested) as caught:
        engine.start(
            "creco",
            "http://127.0.0.1:8765/callback",
            ("accounts",),
            None,
            "c",
            slots=Occupancy(held=full),
        )
    assert caught.value.retry_after is not None
    engine.start(
        "creco",
        "http://127.0.0.1:8765/callback",
        ("accounts",),
        None,
        "c",
        slots=Occupancy(held=full - 1),
    )


def test_return_to_app_needs_an_error_on_screen(engine: ConnectFlow, new_flow: FlowState) -> None:
    """INTERFACE.md §1: 「連携元画面へ」 is offered beside an error, not on a plain screen."""
    with pytest.raises(errors.OutOfOrder):
        engine.return_to_app(new_flow)
    walk_to(engine, new_flow, Screen.CUSTOMER, account=NO_CARD)
    with pytest.raises(errors.AccountUnavailable):
        engine.submit_customer(new_flow, GOOD_CUSTOMER_FORM)
    engine.return_to_app(new_flow)
    assert new_flow.oauth_return() == {
        "error": "access_denied",
        "error_description": "account_unavailable",
        "state": "xyz",
    }


@pytest.mark.parametrize("screen", list(Screen))
def test_flow_state_round_trips_through_a_record(
    engine: ConnectFlow, new_flow: FlowState, screen: Screen
) -> None:
    """A store keeps the state as JSON between requests; nothing is lost on the way."""
    walk_to(engine, new_flow, screen)
    record = json.loads(json.dumps(new_flow.to_record()))
    assert FlowState.from_record(record) == new_flow


# -- the screen table is what runs (simulator/core/screens.py, simulator/core/guards.py) ------

#: The button that moves each screen on, pressed with correct answers.
FORWARD: dict[Screen, Action] = {
    Screen.ACCOUNT: Action.NEXT,
    Screen.CUSTOMER: Action.NEXT,
    Screen.PHONE: Action.DECIDE_PHONE,
    Screen.CALL: Action.CONFIRM,
    Screen.PIN: Action.NEXT,
    Screen.CONSENT: Action.ALLOW,
}


def press_forward(engine: ConnectFlow, flow: FlowState) -> None:
    """Press the button that moves ``flow`` on from its screen, with correct answers."""
    screen = flow.screen
    if screen is Screen.ACCOUNT:
        engine.submit_account(flow, account_form(MANUAL))
    elif screen is Screen.CUSTOMER:
        engine.submit_customer(flow, GOOD_CUSTOMER_FORM)
    elif screen is Screen.PHONE:
        engine.decide_phone(flow)
    elif screen is Screen.CALL:
        engine.confirm_call(flow)
    elif screen is Screen.PIN:
        engine.submit_pin(flow, {"pin": "1357"})
    else:
        engine.decide(flow, ALLOW)


class Planted(errors.CallPending):
    """An error no guard raises by itself, so that seeing it proves which guard ran."""


def watch_guards(
    monkeypatch: pytest.MonkeyPatch,
    refuse: Guard | None = None,
    error: type[errors.RenkeiError] = Planted,
) -> list[Guard]:
    """Record every guard the engine runs; ``refuse`` raises ``error`` instead."""
    ran: list[Guard] = []
    run = Guard.__call__

    def watched(self: Guard, attempt: Attempt) -> None:
        ran.append(self)
        if self is refuse:
            raise error()
        run(self, attempt)

    monkeypatch.setattr(Guard, "__call__", watched)
    return ran


def ready_for_call(engine: ConnectFlow, flow: FlowState) -> None:
    """On ④, the verifying call (which runs no guard of a button)."""
    if flow.screen is Screen.CALL:
        assert flow.challenge is not None
        call = InboundCall(flow.challenge.from_number, flow.challenge.to_number)
        engine.receive_call(call, [flow])


def test_each_button_runs_the_guards_its_move_lists_in_order(
    engine: ConnectFlow, new_flow: FlowState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every button runs the checks of every request, then its move's guards from
    the table, in the table's order, and nothing else."""
    ran = watch_guards(monkeypatch)
    for screen, action in FORWARD.items():
        ready_for_call(engine, new_flow)
        ran.clear()
        press_forward(engine, new_flow)
        step = move(screen, action)
        assert step is not None
        assert ran == [*ON_EVERY_REQUEST, *step.guards], screen
    assert new_flow.end is End.GRANTED


def test_cancel_runs_only_the_checks_of_every_request(
    engine: ConnectFlow, new_flow: FlowState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """「中止する」 has no guard of its own: its move lists none, and none runs."""
    walk_to(engine, new_flow, Screen.PIN)
    ran = watch_guards(monkeypatch)
    engine.cancel(new_flow)
    step = move(Screen.PIN, Action.CANCEL)
    assert step is not None and step.guards == ()
    assert ran == list(ON_EVERY_REQUEST)
    assert new_flow.end is End.CANCELLED


GUARDED = [(step, i) for step in MOVES for i in range(len(step.guards))]


@pytest.mark.parametrize(
    ("step", "index"),
    GUARDED,
    ids=[f"{s.source.value}-{s.guards[i].label}" for s, i in GUARDED],
)
def test_a_guard_the_diagram_shows_refuses_the_button_it_is_drawn_on(
    engine: ConnectFlow,
    new_flow: FlowState,
    journal: list[Event],
    monkeypatch: pytest.MonkeyPatch,
    step: Move,
    index: int,
) -> None:
    """Make one guard of a move refuse: the button answers that refusal, the guards
    after it do not run, the flow stays (no detour for it), and the diagram prints
    that guard's label on that button."""
    target = step.guards[index]
    walk_to(engine, new_flow, step.source)
    ready_for_call(engine, new_flow)
    ran = watch_guards(monkeypatch, refuse=target)
    with pytest.raises(Planted):
        press_forward(engine, new_flow)
    assert ran == [*ON_EVERY_REQUEST, *step.guards[: index + 1]]
    assert new_flow.screen is step.source and new_flow.shown_error == "call_pending"
    assert journal[-1].kind == "error" and journal[-1].detail["code"] == "call_pending"
    drawn = next(
        line.split(" [", 1)[1]
        for line in mermaid().splitlines()
        if line.strip().startswith(f"{step.source.value} --> ")
        and f": {step.action.value} [" in line
    )
    assert drawn == ", ".join(g.label for g in step.guards) + "]"
    assert target.label in drawn


class NoLongerHeld(errors.AccountUnavailable):
    """An account unusable for a reason of its own: a subclass of R-ERR-HOST-1."""


def test_detours_are_matched_by_error_class() -> None:
    """A detour names an error class; it takes that class and its subclasses, on its
    own screen (or any screen when it names none)."""
    assert detour(Screen.CUSTOMER, errors.AccountUnavailable()) is Screen.ACCOUNT
    assert detour(Screen.CUSTOMER, NoLongerHeld()) is Screen.ACCOUNT
    assert detour(Screen.PIN, NoLongerHeld) is Screen.ACCOUNT
    assert detour(Screen.PHONE, errors.AccountUnavailable()) is None  # not on ③
    assert detour(Screen.CUSTOMER, errors.IdentityMismatch()) is None  # the same screen
    assert detour(Screen.PIN, errors.LockedNow) is End.FAILED
    assert detour(Screen.CALL, errors.FlowLost()) is End.FAILED  # on any screen
    assert all(issubclass(d.error, errors.RenkeiError) for d in DETOURS)


def test_the_flow_follows_a_detour_for_a_subclass(
    engine: ConnectFlow, new_flow: FlowState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An R-ERR-HOST-1 of a new kind raised by ⑤'s PIN guard sends the flow back to ①
    with its progress forgotten, as AccountUnavailable itself does."""
    walk_to(engine, new_flow, Screen.PIN)
    watch_guards(monkeypatch, refuse=guards.pin_matches, error=NoLongerHeld)
    with pytest.raises(NoLongerHeld):
        engine.submit_pin(new_flow, {"pin": "1357"})
    assert new_flow.screen is Screen.ACCOUNT and new_flow.account is None
    assert new_flow.challenge is None and new_flow.shown_error == "account_unavailable"


@pytest.mark.parametrize("decision", ["maybe", ""])
def test_r_flow_6_a_decision_in_the_wrong_form_stays_on_6(
    engine: ConnectFlow, new_flow: FlowState, decision: str
) -> None:
    """R-ERR-INPUT-1/2 on ⑥: a decision missing or neither allow nor deny is an input
    error (the 「許可する」 guard reads it); a trimmed ``deny`` is 「拒否する」."""
    walk_to(engine, new_flow, Screen.CONSENT)
    with pytest.raises(errors.InputRejected) as caught:
        engine.decide(new_flow, {"decision": decision, "agree": "1"})
    assert [e.field for e in caught.value.errors if e.field] == ["decision"]
    assert new_flow.screen is Screen.CONSENT and new_flow.grant_id is None
    assert engine.decide(new_flow, {"decision": " deny "}) is None
    assert new_flow.end is End.CANCELLED
