"""Constants and walks shared by the tests (imported as ``helpers``)."""

from __future__ import annotations

import datetime as dt

from simulator.core.clock import JST, FixedClock
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.host import AccountKey
from simulator.core.screens import Screen
from simulator.core.telephony import InboundCall

#: A Tuesday morning, well inside service hours.
OPEN_INSTANT = dt.datetime(2026, 11, 24, 10, 15, tzinfo=JST)

MANUAL = AccountKey("115", "1", "1100026")  # the manual's own customer (INTERFACE.md §8)
NO_CARD = AccountKey("115", "1", "2000001")
NEW = AccountKey("115", "1", "2000002")
CLOSED = AccountKey("115", "1", "2000003")
CURRENT = AccountKey("115", "2", "1100026")  # 当座, same number as the manual's
MOVED_FROM = AccountKey("011", "1", "1111111")
MOVED_TO = AccountKey("022", "1", "2222222")
OTHER = AccountKey("115", "1", "3000001")  # a second customer, for lockout tests

GOOD_CUSTOMER_FORM = {
    "name_kana": "ﾃﾞｰﾀ ﾀﾛｳ",
    "birth_year": "1985",
    "birth_month": "04",
    "birth_day": "01",
    "phone": "09012343333",
    "email": "taro@example.jp",
    "email_confirm": "taro@example.jp",
}


def account_form(key: AccountKey) -> dict[str, str]:
    return {
        "branch_no": key.branch_no,
        "account_type": key.account_type,
        "account_no": key.account_no,
    }


def walk_to(
    engine: ConnectFlow,
    flow: FlowState,
    screen: Screen,
    account: AccountKey = MANUAL,
    customer: dict[str, str] | None = None,
    pin: str = "1357",
) -> FlowState:
    """Drive ``flow`` with correct answers until it stands on ``screen``."""
    steps = [Screen.ACCOUNT, Screen.CUSTOMER, Screen.PHONE, Screen.CALL, Screen.PIN, Screen.CONSENT]
    for here in steps[: steps.index(screen)]:
        if here is Screen.ACCOUNT:
            engine.submit_account(flow, account_form(account))
        elif here is Screen.CUSTOMER:
            engine.submit_customer(flow, customer or GOOD_CUSTOMER_FORM)
        elif here is Screen.PHONE:
            engine.decide_phone(flow)
        elif here is Screen.CALL:
            assert flow.challenge is not None
            engine.receive_call(
                InboundCall(flow.challenge.from_number, flow.challenge.to_number), [flow]
            )
            engine.confirm_call(flow)
        elif here is Screen.PIN:
            engine.submit_pin(flow, {"pin": pin})
    assert flow.screen is screen
    return flow


def advance(clock: FixedClock, **delta: float) -> dt.datetime:
    clock.advance(dt.timedelta(**delta).total_seconds())
    return clock.now()
