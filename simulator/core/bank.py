"""The bank's configuration and what the core asks of a store.

:class:`BankRules` gathers every number the manual fixes or leaves open, with
renkei's defaults (INTERFACE.md §8); a scenario file may change any of them.
:class:`HostDirectory` is the read side of the host that the flow needs; the
in-memory store (:mod:`simulator.core.memory`) and the SQL store implement it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final, Protocol

from renkei.contract.docs import FAQ, TERMS, page_path
from simulator.core import messages
from simulator.core.faults import Capacity
from simulator.core.grants import GrantPolicy
from simulator.core.history import HistoryPolicy, Transaction
from simulator.core.host import Account, AccountKey, Customer
from simulator.core.hours import DEFAULT_WINDOWS, Window
from simulator.core.lockout import Lockout
from simulator.core.telephony import CALL_WINDOW

#: 認証先電話番号 pool of the default scenario (INTERFACE.md §8).
DEFAULT_CALL_POOL: Final = ("0120111111", "0120222222", "0120333333")


@dataclass(frozen=True)
class BankRules:
    name: str = messages.BANK_NAME
    #: お問い合わせ先 (11. of the manual), shown in every screen's footer.
    contact_phone: str = "03-3622-7131"
    terms_url: str = page_path(TERMS)
    faq_url: str = page_path(FAQ)
    call_pool: tuple[str, ...] = DEFAULT_CALL_POOL
    call_window: dt.timedelta = CALL_WINDOW
    lockout: Lockout = field(default_factory=Lockout)
    grants: GrantPolicy = field(default_factory=GrantPolicy)
    history: HistoryPolicy = field(default_factory=HistoryPolicy)
    capacity: Capacity = field(default_factory=Capacity)
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    #: A flow untouched this long is lost (R-ERR-CALL-4); the manual gives none.
    flow_timeout: dt.timedelta = dt.timedelta(minutes=30)
    #: R-AUTHZ-5: the completion e-mail's sender (the manual's system sends
    #: from @webcenter.anser.or.jp, which customers are told to allow).
    mail_from: str = "api-renkei@webcenter.anser.or.jp"

    def __post_init__(self) -> None:
        if not self.call_pool:
            raise ValueError("the 認証先電話番号 pool needs at least one number")
        if self.call_window <= dt.timedelta(0):
            raise ValueError("the call window must be positive")


class HostDirectory(Protocol):
    """Read access to the host's accounts and customers."""

    def account(self, key: AccountKey) -> Account | None: ...

    def customer(self, customer_id: str) -> Customer | None: ...

    def transactions(self, key: AccountKey) -> list[Transaction]:
        """The account's history, sorted by ``item_key``."""
        ...
