"""Bulk customers for the load tools: a seeded Faker ``ja_JP`` population.

The SimPy twin and the replayer need thousands of customers who behave like a
credit union's (DESIGN.md "Data"), and the same ones on every run: the same
seed gives the same population, byte for byte, for the same ``today``.

Faker traps this module steps around:

* ``name()`` and ``kana_name()`` are independent draws, so a customer's kanji
  and kana would not match; the ``*_pair()`` methods give kanji, kana and
  romaji of one name together.
* Faker's kana is full-width and keeps small kana (キョウスケ); the bank files
  names in half-width without small kana (ｷﾖｳｽｹ), as the Zengin character set
  has none (the core compares names with small kana made large, R-FLOW-2).
* ``phone_number()`` gives hyphenated and sometimes impossible numbers, so
  :class:`RegisteredPhoneProvider` makes 10-digit landlines and 11-digit
  070/080/090 mobiles, the forms screen ② accepts (R-FLOW-2).
* the name pool is a few dozen names each way, so names repeat: nothing is
  keyed on a name. Customers are ``P0000001``…, accounts are unique keys.

The plain PIN of each card is kept in :class:`BulkAccount` because the load
tools play the customer; the host gets only its keyed hash (R-AUTHZ-2).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from faker import Faker
from faker.providers import BaseProvider

from simulator.core.history import Transaction
from simulator.core.host import Account, AccountKey, AccountStatus, Customer, PinVault
from simulator.core.kana import to_half_width
from simulator.core.memory import MemoryHost
from simulator.statements import generate_history

MOBILE_PREFIXES: Final = ("070", "080", "090")
#: Area codes of large cities (市外局番); with the local number, 10 digits in all.
AREA_CODES: Final = ("03", "06", "011", "022", "025", "045", "048", "052", "075", "092", "0422")
#: Account numbers of the population come from this range, so that they are
#: told apart from the personas' at a glance and never collide with them.
ACCOUNT_NUMBERS: Final = range(5_000_000, 10_000_000)
_SMALL_TO_LARGE: Final = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")


class RegisteredPhoneProvider(BaseProvider):
    """Registered phones (お届け電話番号) as screen ② takes them: digits only."""

    def mobile_phone(self) -> str:
        """070/080/090, then a digit 1-9 and 7 more: 11 digits."""
        prefix = self.random_element(MOBILE_PREFIXES)
        return f"{prefix}{self.random_int(1, 9)}{self.random_int(0, 9_999_999):07d}"

    def landline_phone(self) -> str:
        """An area code, then a local number starting 2-9: 10 digits."""
        area = self.random_element(AREA_CODES)
        rest = 10 - len(area) - 1
        return f"{area}{self.random_int(2, 9)}{self.random_int(0, 10**rest - 1):0{rest}d}"

    def registered_phone(self) -> str:
        """Mostly mobiles; about one customer in four registered a landline."""
        if self.random_int(0, 99) < 25:
            return self.landline_phone()
        return self.mobile_phone()


def filed_kana(full_width: str) -> str:
    """A full-width kana name as the bank files it: half-width, small kana made large."""
    return to_half_width(full_width.translate(_SMALL_TO_LARGE))


def card_id(key: AccountKey) -> str:
    """A card's id, stable for its account (the PIN hash covers it, see PinVault)."""
    return f"card-{key}"


@dataclass(frozen=True)
class BulkAccount:
    key: AccountKey
    opened_on: dt.date
    status: AccountStatus
    balance: int
    #: None: no cash card (R-ACCT-1); a date after today: not yet issued (R-ACCT-2).
    card_issued_on: dt.date | None
    pin: str | None
    history: tuple[Transaction, ...]


@dataclass(frozen=True)
class BulkCustomer:
    customer: Customer
    accounts: tuple[BulkAccount, ...]


def make_faker(seed: int) -> Faker:
    """A ``ja_JP`` Faker seeded for this population, with the phone provider added."""
    fake = Faker("ja_JP")
    fake.seed_instance(seed)
    fake.add_provider(RegisteredPhoneProvider)
    return fake


class _Generator:
    """One population run: the Faker and random.Random, both seeded, and the keys used."""

    def __init__(
        self,
        seed: int,
        today: dt.date,
        branches: Sequence[str],
        taken: Collection[AccountKey],
        history_months: int,
        per_month: int,
    ) -> None:
        if not branches:
            raise ValueError("a population needs at least one branch")
        self.fake = make_faker(seed)
        self.rng = random.Random(seed)
        self.today = today
        self.branches = tuple(branches)
        self.used: set[AccountKey] = set(taken)
        self.history_months = history_months
        self.per_month = per_month

    def customer(self, n: int) -> BulkCustomer:
        rng, fake = self.rng, self.fake
        female = rng.random() < 0.5
        last = fake.last_name_pair()
        first = fake.first_name_female_pair() if female else fake.first_name_male_pair()
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 66))
        person = Customer(
            customer_id=f"P{n:07d}",
            name_kana=filed_kana(f"{last[1]} {first[1]}"),
            birth_date=birth,
            phone=fake.registered_phone(),
            name_kanji=f"{last[0]} {first[0]}",
        )
        kinds = ["1"]
        if rng.random() < 0.12:  # some also hold 貯蓄, 当座 or a second 普通
            kinds.append(rng.choices(("4", "2", "1"), (5, 2, 3))[0])
        accounts = tuple(self.account(kind, birth) for kind in kinds)
        return BulkCustomer(person, accounts)

    def new_key(self, kind: str) -> AccountKey:
        while True:
            number = f"{self.rng.choice(ACCOUNT_NUMBERS):07d}"
            key = AccountKey(self.rng.choice(self.branches), kind, number)
            if key not in self.used:
                self.used.add(key)
                return key

    def account(self, kind: str, birth: dt.date) -> BulkAccount:
        rng, today = self.rng, self.today
        key = self.new_key(kind)
        earliest = max(birth + dt.timedelta(days=18 * 365), dt.date(1975, 1, 1))
        span = max(1, (today - earliest).days)
        # About 2% opened in the last ten days: their card may not be issued yet (R-ACCT-2).
        recent = rng.random() < 0.02
        opened = today - dt.timedelta(days=rng.randrange(10) if recent else rng.randrange(span))
        closed = rng.random() < 0.03
        issued: dt.date | None = None
        if kind != "2" and rng.random() < 0.93:  # 当座 has no cash card; some others none
            issued = opened + dt.timedelta(days=10 if recent else rng.randrange(7, 15))
        pin = f"{rng.randrange(10_000):04d}" if issued else None
        balance = 0 if closed else int(min(rng.lognormvariate(12.2, 1.1), 30_000_000))
        history: tuple[Transaction, ...] = ()
        if not closed and self.history_months:
            history = tuple(
                generate_history(
                    rng, today, self.history_months, self.per_month, balance, opened_on=opened
                )
            )
        status = AccountStatus.CLOSED if closed else AccountStatus.OPEN
        return BulkAccount(key, opened, status, balance, issued, pin, history)


def populate(
    count: int,
    seed: int,
    today: dt.date,
    branches: Sequence[str],
    *,
    taken: Collection[AccountKey] = (),
    history_months: int = 3,
    per_month: int = 5,
) -> list[BulkCustomer]:
    """``count`` customers, drawn from ``seed``; no account key in ``taken`` is used."""
    if count < 0:
        raise ValueError("count is never negative")
    generator = _Generator(seed, today, branches, taken, history_months, per_month)
    return [generator.customer(n) for n in range(1, count + 1)]


def add_population(host: MemoryHost, vault: PinVault, people: Iterable[BulkCustomer]) -> None:
    """Put the population into ``host``: customers, accounts, hashed cards, history."""
    for person in people:
        cid = person.customer.customer_id
        accounts = []
        for a in person.accounts:
            card = None
            if a.card_issued_on is not None and a.pin is not None:
                card = vault.card(card_id(a.key), a.card_issued_on, a.pin)
            accounts.append(Account(a.key, cid, a.opened_on, a.status, card, None, a.balance))
        history = {a.key: list(a.history) for a in person.accounts if a.history}
        host.add(person.customer, accounts, history)
