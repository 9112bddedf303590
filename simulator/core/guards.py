"""The checks the screens' buttons run, as objects the screen map lists (manual §4–9).

Each :class:`Guard` has the label the README's diagram prints and the check the
flow runs: given the :class:`Attempt` (the engine's bank, the flow, the posted
form, the instant) it passes, recording on the attempt what it read (the
account, the customer's entry, the PIN), or raises the
:class:`~simulator.core.errors.RenkeiError` the manual shows. The moves of
:mod:`simulator.core.screens` name their guards in the order they run, and
:class:`~simulator.core.flow.ConnectFlow` runs exactly those, so the diagram
drawn from the table is the flow that runs.

:data:`ON_EVERY_REQUEST` are the checks before any screen is shown or any
button acts (R-ERR-CALL-4, R-ERR-SYS-*, R-FLOW-8).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from renkei.contract.screens import Screen
from simulator.core import inputs
from simulator.core.bank import BankRules, HostDirectory
from simulator.core.clock import jst_day
from simulator.core.errors import (
    AccountUnavailable,
    CallExpired,
    CallPending,
    FlowLost,
    OutOfOrder,
)
from simulator.core.faults import Faults, ServiceGate
from simulator.core.host import (
    Account,
    AccountKey,
    Customer,
    PinVault,
    identity_matches,
    unusable_reason,
)
from simulator.core.lockout import LockLedger
from simulator.core.telephony import CallChallenge

if TYPE_CHECKING:  # the flow imports the screen table, which imports these guards
    from simulator.core.flow import FlowState

__all__ = [
    "ON_EVERY_REQUEST",
    "Attempt",
    "Engine",
    "Guard",
    "account_entered",
    "account_still_usable",
    "account_usable",
    "agreement_ticked",
    "call_in_time",
    "call_verified",
    "customer_entered",
    "identity_confirmed",
    "in_service",
    "not_idle",
    "not_locked",
    "on_this_screen",
    "pin_entered",
    "pin_matches",
]


class Engine(Protocol):
    """What a guard may consult of :class:`~simulator.core.flow.ConnectFlow`."""

    @property
    def rules(self) -> BankRules: ...

    @property
    def host(self) -> HostDirectory: ...

    @property
    def locks(self) -> LockLedger: ...

    @property
    def pins(self) -> PinVault: ...

    @property
    def gate(self) -> ServiceGate: ...

    @property
    def faults(self) -> Callable[[], Faults]: ...

    def log(self, flow: FlowState, kind: str, **detail: Any) -> None:
        """One line of the operation log for ``flow``."""
        ...


@dataclass
class Attempt:
    """One request on a flow: what its guards are given, and what they read.

    The move's effects take what the guards found (``entry``, ``account``, …)
    instead of reading the form or the host a second time.
    """

    engine: Engine
    flow: FlowState
    now: dt.datetime
    #: The screen the request is for; None when any screen will do (「中止する」).
    screen: Screen | None = None
    form: inputs.Form = field(default_factory=dict)
    #: ① what the customer typed; ② and ⑤ the account it names, as the host has it.
    account_key: AccountKey | None = None
    account: Account | None = None
    #: ② what the customer typed, and the customer it matched.
    entry: inputs.CustomerEntry | None = None
    customer: Customer | None = None
    #: ⑤ the PIN typed.
    pin: str | None = None

    @property
    def today(self) -> dt.date:
        """The JST day of the request: cards and birth dates are judged by it."""
        return jst_day(self.now)

    def found_account(self) -> Account:
        """The account an earlier guard of the same move read."""
        assert self.account is not None, "a guard reading the account runs first"
        return self.account

    def challenge(self) -> CallChallenge:
        """④'s challenge: a flow reaches ④ only through ③, which draws it."""
        assert self.flow.challenge is not None
        return self.flow.challenge


@dataclass(frozen=True)
class Guard:
    """A check of a move: ``label`` is what the screen map prints beside the button."""

    label: str
    check: Callable[[Attempt], None] = field(repr=False)

    def __call__(self, attempt: Attempt) -> None:
        self.check(attempt)


def guard(label: str) -> Callable[[Callable[[Attempt], None]], Guard]:
    """The decorated function as a :class:`Guard` labelled ``label``."""

    def make(check: Callable[[Attempt], None]) -> Guard:
        return Guard(label, check)

    return make


# -- before every screen and button -------------------------------------------------------


@guard("not idle past the timeout")
def not_idle(a: Attempt) -> None:
    """R-ERR-CALL-4: a flow untouched longer than the bank's timeout is lost; so is
    one past its lifetime, and an early one (no screen posted) past its lapse
    (renkei's rules: :class:`~simulator.core.faults.SlotRule`), when it stops
    holding its slot."""
    if a.now > a.engine.rules.slots.freed_at(a.flow):
        raise FlowLost()


@guard("service open")
def in_service(a: Attempt) -> None:
    """R-ERR-SYS-1..4: hours, suspension, system error and congestion, in that order."""
    a.engine.gate.check(a.now, a.engine.faults())


@guard("on this screen")
def on_this_screen(a: Attempt) -> None:
    """R-FLOW-8: only the screen the flow is on may be shown or pressed."""
    if a.screen is not None and a.flow.screen is not a.screen:
        raise OutOfOrder()


#: Run before any screen is shown or any button acts, in this order.
ON_EVERY_REQUEST: Final[tuple[Guard, ...]] = (not_idle, in_service, on_this_screen)


# -- ① SOA201 -------------------------------------------------------------------------------


@guard("input")
def account_entered(a: Attempt) -> None:
    """① R-ERR-INPUT-1/2: 店番, 科目 and 口座番号 present and in form."""
    a.account_key = inputs.read_account(a.form)


# -- ② SOA202 and ⑤ SOA211 --------------------------------------------------------------------


@guard("input")
def customer_entered(a: Attempt) -> None:
    """② R-ERR-INPUT-1/2: name, birth date, phone and e-mail (twice) in form."""
    a.entry = inputs.read_customer(a.form, a.today)


def _usable(a: Attempt) -> tuple[Account | None, str | None]:
    """The account ① named as the host has it now, and why it cannot be linked."""
    assert a.flow.account is not None, "② and ⑤ come after ①"
    account = a.engine.host.account(a.flow.account)
    return account, unusable_reason(account, a.today)


@guard("account usable")
def account_usable(a: Attempt) -> None:
    """② R-ERR-HOST-1 (R-ACCT-1/2/3): the account exists and can be linked; back
    to ①, not counted. The reason, which the customer is not told, is logged."""
    account, reason = _usable(a)
    if account is None or reason is not None:
        a.engine.log(a.flow, "account_unavailable", account=str(a.flow.account), reason=reason)
        raise AccountUnavailable()
    a.account = account


@guard("account still usable")
def account_still_usable(a: Attempt) -> None:
    """⑤ R-ERR-HOST-1: the account moved or closed while the customer was on ③/④."""
    account, reason = _usable(a)
    if account is None or reason is not None:
        raise AccountUnavailable()
    a.account = account


@guard("not locked")
def not_locked(a: Attempt) -> None:
    """R-ERR-HOST-4: any attempt on a locked account answers B84, before any judging.

    A read, which spares a locked account's attempts a write. What holds when many
    attempts race is that the judging guards judge inside the ledger's atomic step
    that counts the failure (:meth:`~simulator.core.lockout.Lockout.judge`).
    """
    a.engine.rules.lockout.refuse_if_locked(a.engine.locks, a.found_account().key, a.now)


@guard("name, birth date, phone")
def identity_confirmed(a: Attempt) -> None:
    """② R-FLOW-2, R-ERR-HOST-2/3/4: the entry matches the account's customer,
    judged with a failure reserved: a mismatch keeps it, and the one reaching the
    threshold locks; no failure left to reserve is B84, unjudged."""
    account = a.found_account()
    assert a.entry is not None, "the input guard runs first"
    entry = a.entry
    # Read before the failure is reserved: the judging inside the ledger's step is
    # then pure, and holds the step open for no longer than a comparison.
    customer = a.engine.host.customer(account.customer_id)

    def right() -> bool:
        return customer is not None and identity_matches(
            customer, entry.name_kana, entry.birth_date, entry.phone
        )

    a.engine.rules.lockout.judge(a.engine.locks, account.key, a.now, right)
    a.customer = customer


@guard("input")
def pin_entered(a: Attempt) -> None:
    """⑤ R-ERR-INPUT-1/2: four half-width digits."""
    a.pin = inputs.read_pin(a.form)


@guard("PIN")
def pin_matches(a: Attempt) -> None:
    """⑤ R-FLOW-5, R-ERR-HOST-2/3/4: the cash card's PIN, judged and counted like ②'s."""
    account = a.found_account()
    pin = a.pin
    assert pin is not None, "the input guard runs first"
    a.engine.rules.lockout.judge(
        a.engine.locks, account.key, a.now, lambda: a.engine.pins.verify(account, pin)
    )


# -- ④ SOA209 -------------------------------------------------------------------------------


@guard("within the call window")
def call_in_time(a: Attempt) -> None:
    """④ R-ERR-CALL-2: 「確定する」 more than 120 s after ④ was shown is too late."""
    if not a.challenge().open_at(a.now):
        raise CallExpired()


@guard("call verified")
def call_verified(a: Attempt) -> None:
    """④ R-ERR-CALL-1: the verifying call has not arrived yet."""
    if a.challenge().verified_at is None:
        raise CallPending()


# -- ⑥ SOA206 -------------------------------------------------------------------------------


@guard("agreement ticked")
def agreement_ticked(a: Attempt) -> None:
    """⑥ R-FLOW-6: 「許可する」 needs the agreement box ticked (and a decision in form)."""
    if not inputs.read_consent(a.form):
        raise OutOfOrder()  # the form says 「拒否する」: not the button this guard is on
