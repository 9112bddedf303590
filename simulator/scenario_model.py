"""What a scenario file defines besides the bank's rules: partner apps and personas.

The classes keep the file's definition, checked but not yet resolved: dates
may be relative to ``today`` (:mod:`simulator.dates`) and PINs are in the
clear, because a tester (and the conformance harness) must know them.
:meth:`Persona.materialise` turns one into the host's records for a given day,
hashing each PIN with the bank's :class:`~simulator.core.host.PinVault`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Final

from simulator.core.history import Transaction
from simulator.core.host import Account, AccountKey, AccountStatus, Customer, PinVault
from simulator.dates import DateSpec
from simulator.fields import ScenarioError
from simulator.population import card_id
from simulator.statements import generate_history

#: The oldest birth date a persona may have; screen ② takes none before it either.
EARLIEST_BIRTH: Final = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class Client:
    """A partner app (電子決済等代行業者) registered with the bank (INTERFACE.md §1)."""

    client_id: str
    client_secret: str = field(repr=False)
    #: Shown on ⑥ as 「XXX事業者が以下の許可を求めています」 (R-FLOW-6).
    name: str = ""
    company: str = ""
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardSpec:
    issued_on: DateSpec
    pin: str = field(repr=False)


@dataclass(frozen=True)
class HistorySpec:
    months: int
    per_month: int


@dataclass(frozen=True)
class AccountSpec:
    """One account of a persona, as the file defines it."""

    key: AccountKey
    opened_on: DateSpec
    status: AccountStatus = AccountStatus.OPEN
    balance: int = 0
    card: CardSpec | None = None
    #: 移管 (R-ACCT-3): built under ``key``, then moved here; ``key`` is left MOVED.
    moved_to: AccountKey | None = None
    history: HistorySpec | None = None

    @property
    def keys(self) -> tuple[AccountKey, ...]:
        """Every key this account takes in the host (the old and the new after a move)."""
        return (self.key,) if self.moved_to is None else (self.key, self.moved_to)


@dataclass(frozen=True)
class PopulationSpec:
    """Bulk customers from :mod:`simulator.population` (for the load tools)."""

    customers: int
    seed: int
    history_months: int = 3
    per_month: int = 5


@dataclass(frozen=True)
class Persona:
    """A test customer: one behaviour of the manual that a tester reaches by name."""

    id: str
    #: What a tester uses it for, with the requirement IDs.
    behaviour: str
    #: Half-width katakana as the bank files it (no small kana: ｷﾔﾉﾝ, not ｷｬﾉﾝ).
    name_kana: str
    name_kanji: str
    birth_date: DateSpec
    #: The registered phone (お届け電話番号), 10 or 11 digits.
    phone: str
    accounts: tuple[AccountSpec, ...]

    def materialise(
        self, vault: PinVault, today: dt.date, seed: int, source: str, path: str
    ) -> tuple[Customer, list[Account], dict[AccountKey, list[Transaction]]]:
        """The host's records on ``today`` (before any move); errors name ``path``.

        History is drawn from ``random.Random`` seeded with ``seed`` and the
        account key, not the persona's place in the file, so adding a persona
        changes no other's history.
        """
        birth = _resolve(self.birth_date, today, source, f"{path}.birth_date")
        if not EARLIEST_BIRTH <= birth <= today:
            raise ScenarioError(source, f"{path}.birth_date", f"{birth} is not in 1900..today")
        customer = Customer(self.id, self.name_kana, birth, self.phone, self.name_kanji)
        accounts: list[Account] = []
        history: dict[AccountKey, list[Transaction]] = {}
        for j, spec in enumerate(self.accounts):
            where = f"{path}.accounts[{j}]"
            opened = _resolve(spec.opened_on, today, source, f"{where}.opened_on")
            if opened > today:
                raise ScenarioError(source, f"{where}.opened_on", f"{opened} is after today")
            card = None
            if spec.card is not None:
                issued = _resolve(spec.card.issued_on, today, source, f"{where}.card.issued_on")
                if issued < opened:
                    problem = f"{issued} is before the account opened ({opened})"
                    raise ScenarioError(source, f"{where}.card.issued_on", problem)
                card = vault.card(card_id(spec.key), issued, spec.card.pin)
            account = Account(spec.key, self.id, opened, spec.status, card, None, spec.balance)
            accounts.append(account)
            if spec.history is not None:
                rng = random.Random(f"{seed}:{spec.key}")
                months, per_month = spec.history.months, spec.history.per_month
                history[spec.key] = generate_history(
                    rng, today, months, per_month, spec.balance, opened
                )
        return customer, accounts, history


def _resolve(spec: DateSpec, today: dt.date, source: str, path: str) -> dt.date:
    try:
        return spec.resolve(today)
    except (ValueError, OverflowError):
        raise ScenarioError(source, path, f"{spec} is out of range") from None
