"""An in-memory host: the store of the SimPy twin and of the unit tests.

It implements :class:`~simulator.core.bank.HostDirectory` and
:class:`~simulator.core.lockout.LockLedger` with plain dictionaries. The SQL
store of the server implements the same protocols; neither adds a rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from simulator.core.history import Transaction
from simulator.core.host import Account, AccountKey, Customer, move_account
from simulator.core.lockout import Reservation


@dataclass
class MemoryHost:
    customers: dict[str, Customer] = field(default_factory=dict)
    accounts: dict[AccountKey, Account] = field(default_factory=dict)
    history: dict[AccountKey, list[Transaction]] = field(default_factory=dict)
    _failures: defaultdict[tuple[AccountKey, dt.date], int] = field(
        default_factory=lambda: defaultdict(int)
    )

    # -- HostDirectory -------------------------------------------------------------------

    def account(self, key: AccountKey) -> Account | None:
        return self.accounts.get(key)

    def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def transactions(self, key: AccountKey) -> list[Transaction]:
        return self.history.get(key, [])

    # -- LockLedger ----------------------------------------------------------------------

    def failures(self, account: AccountKey, day: dt.date) -> int:
        return self._failures.get((account, day), 0)

    def add_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> int | None:
        if self._failures[(account, day)] >= ceiling:
            return None
        self._failures[(account, day)] += 1
        return self._failures[(account, day)]

    def reserve_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> _Step:
        return _Step(self, account, day, ceiling)

    def _take_back(self, account: AccountKey, day: dt.date) -> None:
        # A count back at 0 leaves no entry, as if the failure had never been counted.
        if self._failures[(account, day)] > 1:
            self._failures[(account, day)] -= 1
        else:
            del self._failures[(account, day)]

    def clear(self, account: AccountKey, day: dt.date) -> None:
        self._failures.pop((account, day), None)

    # -- loading and the operator's changes ------------------------------------------------

    def add(
        self,
        customer: Customer,
        accounts: Iterable[Account] = (),
        history: dict[AccountKey, list[Transaction]] | None = None,
    ) -> None:
        self.customers[customer.customer_id] = customer
        for account in accounts:
            if account.customer_id != customer.customer_id:
                raise ValueError(f"{account.key} belongs to another customer")
            if account.key in self.accounts:
                raise ValueError(f"account {account.key} appears twice")
            self.accounts[account.key] = account
        for key, items in (history or {}).items():
            self.history[key] = sorted(items, key=lambda t: t.item_key)

    def move(self, old: AccountKey, new: AccountKey, today: dt.date) -> Account:
        """移管 (R-ACCT-3): answers the new account; its history goes with it."""
        account = self.accounts.get(old)
        if account is None:
            raise KeyError(f"no account {old}")
        if new in self.accounts:
            raise ValueError(f"account {new} exists already")
        moved, opened = move_account(account, new, today)
        self.accounts[old], self.accounts[new] = moved, opened
        self.history[new] = self.history.pop(old, [])
        return opened


@dataclass
class _Step:
    """:meth:`MemoryHost.reserve_failure`: the failure counted on entering, taken back
    on leaving when the block gave it back or raised. One thread (the twin, the unit
    tests): nothing else runs while the block does, so there is nothing to wait for."""

    host: MemoryHost
    account: AccountKey
    day: dt.date
    ceiling: int
    reserved: Reservation | None = None

    def __enter__(self) -> Reservation:
        self.reserved = Reservation(self.host.add_failure(self.account, self.day, self.ceiling))
        return self.reserved

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: object
    ) -> None:
        reserved = self.reserved
        assert reserved is not None, "entered first"
        if reserved.count is not None and (kind is not None or reserved.given_back):
            self.host._take_back(self.account, self.day)
