"""Scenarios: the bank (or the banks of a platform), its partner apps and its test
customers, from YAML.

A scenario file (``scenarios/default.yaml``; the schema is in
``docs/scenarios.md``) says what a sandbox starts from (DESIGN.md "Data"): the
bank's settings (:class:`~simulator.core.bank.BankRules`, every number the
manual leaves open), its branches, the partner apps that may start the flow
(INTERFACE.md §1), one persona per behaviour of the manual (R-ACCT-1/2/3,
R-FLOW-2, R-ERR-HOST-1..4) and optionally a bulk population for the load tools.

:func:`load_scenario` reads and checks a file; a bad one raises
:class:`ScenarioError` naming the file and the field. :meth:`Scenario.build_host`
then makes the host's data for a given day, so that dates written relative to
``today`` (a card not yet issued, R-ACCT-2) hold whatever the clock says.

A platform file (INTERFACE.md §10) holds ``banks:``, several credit unions on the
shared system: :func:`load_platform` reads it, or a one-bank file as a platform of
that one bank, into a :class:`PlatformScenario` whose every bank is a complete
:class:`Scenario` (the platform's settings and partner apps copied in), so that
whatever works on a one-bank scenario works on each bank.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from renkei import resources
from simulator.core.bank import BankRules, PlatformRules
from simulator.core.host import Branch, PinVault
from simulator.core.memory import MemoryHost
from simulator.fields import Node, Record, ScenarioError, load_yaml
from simulator.population import BulkCustomer, add_population, populate
from simulator.scenario_model import (
    AccountSpec,
    CardSpec,
    Client,
    HistorySpec,
    Persona,
    PopulationSpec,
)
from simulator.scenario_schema import (
    BANK_CODE,
    PLATFORM_KEYS,
    check_accounts,
    read_bank,
    read_branches,
    read_clients,
    read_personas,
    read_platform,
    read_population,
)

__all__ = [
    "AccountSpec",
    "CardSpec",
    "Client",
    "HistorySpec",
    "Persona",
    "PlatformScenario",
    "PopulationSpec",
    "Scenario",
    "ScenarioError",
    "load_platform",
    "load_scenario",
    "parse_platform",
    "parse_scenario",
]


@dataclass(frozen=True)
class Scenario:
    """One bank: its rules, branches, partner apps, personas and population."""

    source: str
    rules: BankRules
    branches: tuple[Branch, ...]
    clients: tuple[Client, ...]
    personas: tuple[Persona, ...]
    population: PopulationSpec | None = None
    description: str = ""
    #: The bank's 金融機関コード (4 digits; BASE/banks/CODE/, INTERFACE.md §10);
    #: None for a one-bank file that gives none.
    code: str | None = None
    #: Where the bank stands in ``source``: ``banks[2]`` in a platform file, "" for
    #: a one-bank file; errors found when building name fields under it.
    path: str = ""

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def persona(self, persona_id: str) -> Persona:
        for p in self.personas:
            if p.id == persona_id:
                return p
        raise KeyError(f"no persona {persona_id!r} in {self.source}")

    def branch_name(self, code: str) -> str:
        return next((b.name for b in self.branches if b.code == code), "")

    def build_host(self, vault: PinVault, today: dt.date, seed: int = 0) -> MemoryHost:
        """The host's data on ``today``: personas, their moves, then the population.

        Relative dates are resolved against ``today``; a date that makes no
        sense on that day (an account opened after it) raises ScenarioError.
        Generated history depends only on ``seed``, ``today`` and the file, so
        a build is repeatable; the population is drawn from its own seed plus
        ``seed``. Cards hash their PIN with ``vault`` (R-AUTHZ-2).
        """
        return self.build_with_population(vault, today, seed)[0]

    def build_with_population(
        self, vault: PinVault, today: dt.date, seed: int = 0
    ) -> tuple[MemoryHost, list[BulkCustomer]]:
        """:meth:`build_host`, and the bulk customers with their plain PINs, which
        the load tools need to play the customers (the host keeps only hashes)."""
        host = MemoryHost()
        under = f"{self.path}." if self.path else ""
        for i, persona in enumerate(self.personas):
            where = f"{under}personas[{i}]"
            host.add(*persona.materialise(vault, today, seed, self.source, where))
        for persona in self.personas:
            for spec in persona.accounts:
                if spec.moved_to is not None:
                    host.move(spec.key, spec.moved_to, today)  # 移管, R-ACCT-3
        people: list[BulkCustomer] = []
        if self.population is not None and self.population.customers:
            people = populate(
                self.population.customers,
                self.population.seed + seed,
                today,
                [b.code for b in self.branches],
                taken=set(host.accounts),
                history_months=self.population.history_months,
                per_month=self.population.per_month,
            )
            add_population(host, vault, people)
        return host, people


@dataclass(frozen=True)
class PlatformScenario:
    """The credit unions of one platform (INTERFACE.md §10), or the one bank of a
    one-bank file. Each bank is a complete :class:`Scenario` with the platform's
    settings in its rules and the platform's partner apps as its ``clients``."""

    source: str
    description: str
    banks: tuple[Scenario, ...]
    clients: tuple[Client, ...]
    #: Read from a one-bank file (no ``banks:``): ``scenario check`` lists it as before.
    one_bank: bool = False

    def __post_init__(self) -> None:
        if not self.banks:
            raise ValueError("a platform has at least one bank")

    @classmethod
    def of(cls, scenario: Scenario) -> PlatformScenario:
        """A one-bank scenario as the platform of that very bank."""
        return cls(scenario.source, scenario.description, (scenario,), scenario.clients, True)

    @property
    def first(self) -> Scenario:
        """The bank also served at BASE itself (INTERFACE.md §10)."""
        return self.banks[0]

    def bank(self, code: str) -> Scenario | None:
        return next((b for b in self.banks if b.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        """The 金融機関コード of the banks that have one, in the file's order."""
        return tuple(b.code for b in self.banks if b.code is not None)

    @property
    def rules(self) -> PlatformRules:
        """The platform's settings (the same in every bank's rules)."""
        return PlatformRules.of(self.first.rules)


#: A one-bank file's sections; in a platform file they are each bank's.
BANK_SECTIONS = ("bank", "branches", "personas", "population")


def parse_scenario(data: object, source: str) -> Scenario:
    """A scenario from YAML already read (``data``); ``source`` names it in errors."""
    root = Node(source, "", data)
    if data is None:
        raise root.error("empty: a scenario needs at least branches, clients and personas")
    top = root.record(
        required=("branches", "clients", "personas"),
        optional=("description", "code", "bank", "population"),
    )

    def rules() -> BankRules:
        bank = top.get("bank")
        return read_bank(bank) if bank else BankRules()

    return _bank(top, rules, lambda: read_clients(top["clients"]))


def _bank(
    top: Record, rules: Callable[[], BankRules], clients: Callable[[], tuple[Client, ...]]
) -> Scenario:
    """The sections of one bank in ``top`` (a one-bank file, or an item of ``banks``),
    checked in the order a one-bank file always was: the first error found is the
    same as before platforms."""
    description = top["description"].line() if top.get("description") else ""
    branches = read_branches(top["branches"])
    personas = read_personas(top["personas"])
    check_accounts(top["personas"], personas, {b.code for b in branches})
    bank_rules = rules()
    population = top.get("population")
    code = top.get("code")
    return Scenario(
        source=top.node.source,
        rules=bank_rules,
        branches=branches,
        clients=clients(),
        personas=personas,
        population=read_population(population) if population else None,
        description=description,
        code=code.code(*BANK_CODE) if code else None,
        path=top.node.path,
    )


def _refuse(node: Node, keys: tuple[str, ...], problem: str) -> None:
    """A key that belongs elsewhere, named with where it goes rather than as a typo."""
    if isinstance(node.value, dict):
        for key in keys:
            if key in node.value:
                raise node.child(key, None).error(problem)


def _shipped_bank(node: Node) -> Scenario:
    """``scenario: NAME``: the bank of a shipped one-bank scenario, all of it."""
    names = resources.scenario_names()
    if not isinstance(node.value, str) or node.value not in names:
        raise node.wrong(f"the name of a shipped scenario ({', '.join(names)})")
    path = resources.scenario(node.value)
    data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    if isinstance(data, dict) and "banks" in data:
        raise node.error(f"{node.value!r} is a platform: take a bank from a one-bank scenario")
    return parse_scenario(data, str(path))


def _platform_bank(
    item: Node, platform: PlatformRules, clients: tuple[Client, ...]
) -> tuple[Scenario, Record]:
    """One item of ``banks``: a bank of its own, or ``scenario: NAME``."""
    _refuse(
        item,
        ("clients",),
        "partner apps are registered once, on the platform: give them under clients: at the top",
    )
    if isinstance(item.value, dict) and "scenario" in item.value:
        extra = [k for k in ("description", *BANK_SECTIONS) if k in item.value]
        if extra:
            raise item.child(extra[0], None).error(
                "a bank taken from a scenario is all of it: give scenario or "
                f"{', '.join(BANK_SECTIONS)}, not both"
            )
        r = item.record(required=("code", "scenario"))
        shipped = _shipped_bank(r["scenario"])
        bank = replace(
            shipped,
            rules=platform.apply(shipped.rules),
            clients=clients,
            code=r["code"].code(*BANK_CODE),
        )
        return bank, r
    r = item.record(
        required=("code", "bank", "branches", "personas"),
        optional=("description", "population"),
    )
    return _bank(r, lambda: read_bank(r["bank"], platform), lambda: clients), r


def _bank_field(r: Record, key: str) -> str:
    """Where a bank's ``bank.KEY`` is written (or, taken from a scenario, its ``scenario``)."""
    if "scenario" in r.values:
        return r["scenario"].path
    bank = r["bank"]
    if isinstance(bank.value, dict) and key in bank.value:
        return bank.child(key, None).path
    return bank.path


def _check_banks(banks: list[tuple[Scenario, Record]]) -> None:
    """Across the banks: codes, names and 認証先電話番号 each one bank's."""
    codes: dict[str, str] = {}
    names: dict[str, str] = {}
    numbers: dict[str, str] = {}
    for bank, r in banks:
        code = r["code"]
        if bank.code in codes:
            raise code.error(f"code {bank.code!r} is also {codes[bank.code]}'s")
        codes[str(bank.code)] = r.node.path
        name = bank.rules.name
        if name in names:
            problem = f"bank {name!r} is also {names[name]}'s"
            raise ScenarioError(code.source, _bank_field(r, "name"), problem)
        names[name] = r.node.path
        for number in bank.rules.call_pool:
            if number in numbers:
                problem = (
                    f"number {number!r} is also {numbers[number]}'s: "
                    "each bank has 認証先電話番号 of its own"
                )
                raise ScenarioError(code.source, _bank_field(r, "call_pool"), problem)
            numbers[number] = r.node.path


def _parse_platform(data: dict[object, object], source: str) -> PlatformScenario:
    root = Node(source, "", data)
    _refuse(
        root,
        (*BANK_SECTIONS, "code"),
        "in a platform file this is a bank's: give it in each item of banks",
    )
    _refuse(root, PLATFORM_KEYS, "a platform setting: give it under platform:")
    top = root.record(required=("banks", "clients"), optional=("description", "platform"))
    clients = read_clients(top["clients"])
    platform = read_platform(top.get("platform"))
    banks = [_platform_bank(item, platform, clients) for item in top["banks"].items(True)]
    _check_banks(banks)
    return PlatformScenario(
        source=source,
        description=top["description"].line() if top.get("description") else "",
        banks=tuple(bank for bank, _ in banks),
        clients=clients,
    )


def parse_platform(text: str, source: str) -> PlatformScenario:
    """A platform file's text, or a one-bank file's as a platform of that bank
    (exactly what :func:`parse_scenario` reads); ``source`` names it in errors."""
    data = load_yaml(text, source)
    if isinstance(data, dict) and "banks" in data:
        return _parse_platform(data, source)
    return PlatformScenario.of(parse_scenario(data, source))


def _read(path: str | Path) -> str:
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not UTF-8 text") from None
    except OSError as e:
        raise ScenarioError(source, "", f"cannot read it ({e.strerror or e})") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and check the one-bank scenario file at ``path``."""
    return parse_scenario(load_yaml(_read(path), str(path)), str(path))


def load_platform(path: str | Path) -> PlatformScenario:
    """Read and check the scenario file at ``path``: a platform file or a one-bank one."""
    return parse_platform(_read(path), str(path))
