"""The bank's configuration and what the core asks of a store.

:class:`BankRules` gathers every number the manual fixes or leaves open, with
renkei's defaults (INTERFACE.md §8); a scenario file may change any of them.
:class:`PlatformRules` is the part of them that is the shared system's when
several credit unions stand on one platform (INTERFACE.md §10): every bank of a
platform gets the same.
:class:`HostDirectory` is the read side of the host that the flow needs; the
in-memory store (:mod:`simulator.core.memory`) and the SQL store implement it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from renkei.contract.docs import FAQ, TERMS, page_path
from simulator.core import bank_pages, messages
from simulator.core.faults import EARLY_FLOW, FLOW_LIFETIME, FLOW_TIMEOUT, Capacity, SlotRule
from simulator.core.grants import GrantPolicy
from simulator.core.history import HistoryPolicy, Transaction
from simulator.core.host import Account, AccountKey, Customer
from simulator.core.hours import DEFAULT_WINDOWS, OWN_WINDOW_RULE, Window
from simulator.core.lockout import Lockout
from simulator.core.telephony import CALL_WINDOW

#: 認証先電話番号 pool of the default scenario (INTERFACE.md §8).
DEFAULT_CALL_POOL: Final = ("0120111111", "0120222222", "0120333333")
#: R-AUTHZ-5: the completion e-mail's sender (the manual's system sends
#: from @webcenter.anser.or.jp, which customers are told to allow).
MAIL_FROM: Final = "api-renkei@webcenter.anser.or.jp"


@dataclass(frozen=True)
class Contact:
    """お問い合わせ先, as the manual's last section gives 中ノ郷信用組合's: its page
    shows all of it, every screen's footer the phone."""

    department: str = "事務部"
    phone: str = "03-3622-7131"
    #: The number is the switchboard's, shown 「（代）」 after it.
    main_line: bool = True
    #: When the department answers, shown 「※. …の対応となります。」.
    hours: str = "平日の午前9時～17時"
    email: str = "nakanogou-jimuka@mbe.nifty.com"


@dataclass(frozen=True)
class BankRules:
    name: str = messages.BANK_NAME
    contact: Contact = field(default_factory=Contact)
    #: Where the footer's API利用規定 and よくあるご質問 lead: renkei's pages, or
    #: the bank's own pages elsewhere (an absolute URL), where renkei's redirect.
    terms_url: str = page_path(TERMS)
    faq_url: str = page_path(FAQ)
    #: The paragraphs of renkei's API利用規定 page.
    terms_text: tuple[str, ...] = bank_pages.TERMS_TEXT
    call_pool: tuple[str, ...] = DEFAULT_CALL_POOL
    call_window: dt.timedelta = CALL_WINDOW
    lockout: Lockout = field(default_factory=Lockout)
    grants: GrantPolicy = field(default_factory=GrantPolicy)
    history: HistoryPolicy = field(default_factory=HistoryPolicy)
    capacity: Capacity = field(default_factory=Capacity)
    #: The calendar: the platform's windows (R-HOURS-1..5), then the bank's own.
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    flow_timeout: dt.timedelta = FLOW_TIMEOUT
    #: How long a flow no screen of which was posted holds its slot, and how long
    #: any flow lives (renkei's rules, not the manual's: simulator.core.faults).
    early_flow: dt.timedelta = EARLY_FLOW
    flow_lifetime: dt.timedelta = FLOW_LIFETIME
    mail_from: str = MAIL_FROM

    @property
    def slots(self) -> SlotRule:
        """When a flow stops holding its slot and is lost (R-ERR-SYS-2, R-ERR-CALL-4)."""
        return SlotRule(self.flow_timeout, self.early_flow, self.flow_lifetime)

    @property
    def own_windows(self) -> tuple[Window, ...]:
        """The bank's own recurring windows, on top of the platform's (INTERFACE.md §10)."""
        return tuple(w for w in self.windows if w.rule == OWN_WINDOW_RULE)

    @property
    def contact_phone(self) -> str:
        """お問い合わせ先's phone, in every screen's footer and the completion e-mail."""
        return self.contact.phone

    def __post_init__(self) -> None:
        if not self.call_pool:
            raise ValueError("the 認証先電話番号 pool needs at least one number")
        if self.call_window <= dt.timedelta(0):
            raise ValueError("the call window must be positive")


@dataclass(frozen=True)
class PlatformRules:
    """The settings of the shared system, one for every credit union on it
    (INTERFACE.md §10): the congestion capacity (R-ERR-SYS-2, 「金融機関API対象
    アプリの取引が集中している」 counts the whole platform), how long an untouched
    flow lives, the calendar of R-HOURS-1..5 and the completion mail's sender (the
    shared ``webcenter.anser.or.jp``), and renkei's early lapse and lifetime of a
    flow, which free the shared slots."""

    capacity: Capacity = field(default_factory=Capacity)
    flow_timeout: dt.timedelta = FLOW_TIMEOUT
    early_flow: dt.timedelta = EARLY_FLOW
    flow_lifetime: dt.timedelta = FLOW_LIFETIME
    windows: tuple[Window, ...] = DEFAULT_WINDOWS
    mail_from: str = MAIL_FROM

    @classmethod
    def of(cls, rules: BankRules) -> PlatformRules:
        """The platform's part of a bank's rules (its calendar without the bank's own)."""
        platform = tuple(w for w in rules.windows if w.rule != OWN_WINDOW_RULE)
        return cls(
            capacity=rules.capacity,
            flow_timeout=rules.flow_timeout,
            early_flow=rules.early_flow,
            flow_lifetime=rules.flow_lifetime,
            windows=platform,
            mail_from=rules.mail_from,
        )

    def apply(self, rules: BankRules) -> BankRules:
        """``rules`` on this platform: its settings replaced by the platform's, the
        bank's own windows kept after the platform's."""
        return replace(
            rules,
            capacity=self.capacity,
            flow_timeout=self.flow_timeout,
            early_flow=self.early_flow,
            flow_lifetime=self.flow_lifetime,
            windows=(*self.windows, *rules.own_windows),
            mail_from=self.mail_from,
        )


class HostDirectory(Protocol):
    """Read access to the host's accounts and customers."""

    def account(self, key: AccountKey) -> Account | None: ...

    def customer(self, customer_id: str) -> Customer | None: ...

    def transactions(self, key: AccountKey) -> list[Transaction]:
        """The account's history, sorted by ``item_key``."""
        ...
