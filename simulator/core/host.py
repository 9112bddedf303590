"""The credit union's host: customers, accounts, cash cards, registered phones.

Which accounts can be linked (R-ACCT-1/2/3, 3. ご利用可能口座 and FAQ 3-Q4) and
the identity checks of screen ② (name, birth date, phone) and screen ⑤ (PIN)
are decided here, from plain data; where the data lives is the store's affair.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
from dataclasses import dataclass, field, replace
from typing import Final

from renkei.contract.controls import account_fields, account_id
from renkei.contract.screens import ACCOUNT_TYPES  # Zengin 預金種目 codes (INTERFACE.md §8)
from simulator.core import kana

#: R-ACCT-1: only 普通預金 can be linked.
ORDINARY: Final = "1"


@dataclass(frozen=True, order=True)
class AccountKey:
    """店番, 科目 and 口座番号: how the customer names an account on ①."""

    branch_no: str
    account_type: str
    account_no: str

    def __str__(self) -> str:
        """``115-1-1100026``: how the controls name an account (INTERFACE.md §6)."""
        # The attributes are named as ①'s fields are (ACCOUNT_FIELDS).
        return account_id(vars(self))

    @classmethod
    def parse(cls, text: str) -> AccountKey:
        """``115-1-1100026`` back into a key (the operator URLs use this form)."""
        fields = account_fields(text)
        if not all(p.isascii() and p.isdigit() for p in fields.values()):
            raise ValueError(f"not an account {text!r}: expected BRANCH-TYPE-NUMBER")
        return cls(**fields)

    @property
    def type_name(self) -> str:
        return ACCOUNT_TYPES.get(self.account_type, "その他")


class AccountStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"
    #: 移管: moved to another branch; ``Account.moved_to`` names the new account.
    MOVED = "moved"


@dataclass(frozen=True)
class Customer:
    """A customer as the host knows them; the name is half-width kana as filed."""

    customer_id: str
    name_kana: str
    birth_date: dt.date
    #: The registered phone (お届け電話番号): 10 or 11 digits, no hyphens.
    phone: str
    name_kanji: str = ""


@dataclass(frozen=True)
class CashCard:
    """A cash card; the PIN is kept only as a keyed hash (:class:`PinVault`).

    The hash covers ``card_id``, not the account, so the card follows its
    account through a branch move (R-ACCT-3) without the bank knowing the PIN.
    """

    card_id: str
    issued_on: dt.date
    pin_hash: str


@dataclass(frozen=True)
class Account:
    key: AccountKey
    customer_id: str
    opened_on: dt.date
    status: AccountStatus = AccountStatus.OPEN
    card: CashCard | None = None
    moved_to: AccountKey | None = None
    balance: int = 0


@dataclass(frozen=True)
class Branch:
    code: str
    name: str


def unusable_reason(account: Account | None, today: dt.date) -> str | None:
    """Why the account cannot be linked, or None when it can (R-ACCT-1/2/3).

    Every reason answers the same R-ERR-HOST-1 message to the customer; the
    reason goes to the operation log.
    """
    if account is None:
        return "no such account"
    if account.key.account_type != ORDINARY:
        return "not an ordinary deposit account"  # R-ACCT-1
    if account.status is AccountStatus.CLOSED:
        return "closed"
    if account.status is AccountStatus.MOVED:
        return f"moved to {account.moved_to}"  # R-ACCT-3
    if account.card is None:
        return "no cash card"  # R-ACCT-1
    if account.card.issued_on > today:
        return "cash card not yet issued"  # R-ACCT-2
    return None


def identity_matches(customer: Customer, name_kana: str, birth_date: dt.date, phone: str) -> bool:
    """② R-FLOW-2: name (normalised kana), birth date and registered phone all agree."""
    name_ok = kana.same_name(name_kana, customer.name_kana)
    # Compare every item, not just up to the first mismatch, so the time taken
    # does not say which item was wrong.
    birth_ok = birth_date == customer.birth_date
    phone_ok = hmac.compare_digest(phone.encode(), customer.phone.encode())
    return name_ok and birth_ok and phone_ok


@dataclass(frozen=True)
class PinVault:
    """Keyed hashes of cash-card PINs (R-FLOW-5, R-AUTHZ-2).

    HMAC-SHA256 with a secret held outside the database, over the account and
    the PIN: a salted slow hash would not help, since a 4-digit PIN falls to
    10,000 tries offline whatever the cost, and it would slow every flow; a
    keyed hash cannot be tried at all without the key. Compared in constant time.
    """

    secret: bytes = field(repr=False)

    def hash(self, card_id: str, pin: str) -> str:
        message = f"{card_id}:{pin}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def card(self, card_id: str, issued_on: dt.date, pin: str) -> CashCard:
        """A new card with ``pin`` (scenario loading)."""
        return CashCard(card_id, issued_on, self.hash(card_id, pin))

    def verify(self, account: Account, pin: str) -> bool:
        """⑤: True when ``pin`` is the card's PIN. An account with no card never matches."""
        if account.card is None:
            return False
        return hmac.compare_digest(self.hash(account.card.card_id, pin), account.card.pin_hash)


def move_account(account: Account, to: AccountKey, today: dt.date) -> tuple[Account, Account]:
    """移管 (R-ACCT-3, FAQ 3-Q4): the old account closed as moved, the new one open.

    The customer, the card and the balance go with it; the new number is open
    from ``today``. Only an open account can move, and only to a new number.
    """
    if account.status is not AccountStatus.OPEN:
        raise ValueError(f"{account.key} is {account.status.value}: only an open account moves")
    if to == account.key:
        raise ValueError("an account moves to a different branch or number")
    old = replace(account, status=AccountStatus.MOVED, moved_to=to)
    new = replace(account, key=to, opened_on=today, status=AccountStatus.OPEN, moved_to=None)
    return old, new
