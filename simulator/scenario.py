"""Scenarios: the bank, its partner apps and its test customers, from YAML.

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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from simulator.core.bank import BankRules
from simulator.core.host import Branch, PinVault
from simulator.core.memory import MemoryHost
from simulator.fields import Node, ScenarioError, load_yaml
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
    check_accounts,
    read_bank,
    read_branches,
    read_clients,
    read_personas,
    read_population,
)

__all__ = [
    "AccountSpec",
    "CardSpec",
    "Client",
    "HistorySpec",
    "Persona",
    "PopulationSpec",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "parse_scenario",
]


@dataclass(frozen=True)
class Scenario:
    source: str
    rules: BankRules
    branches: tuple[Branch, ...]
    clients: tuple[Client, ...]
    personas: tuple[Persona, ...]
    population: PopulationSpec | None = None
    description: str = ""

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
        for i, persona in enumerate(self.personas):
            host.add(*persona.materialise(vault, today, seed, self.source, f"personas[{i}]"))
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


def parse_scenario(data: object, source: str) -> Scenario:
    """A scenario from YAML already read (``data``); ``source`` names it in errors."""
    root = Node(source, "", data)
    if data is None:
        raise root.error("empty: a scenario needs at least branches, clients and personas")
    top = root.record(
        required=("branches", "clients", "personas"),
        optional=("description", "bank", "population"),
    )
    description = top["description"].line() if top.get("description") else ""
    branches = read_branches(top["branches"])
    personas = read_personas(top["personas"])
    check_accounts(top["personas"], personas, {b.code for b in branches})
    bank = top.get("bank")
    population = top.get("population")
    return Scenario(
        source=source,
        rules=read_bank(bank) if bank else BankRules(),
        branches=branches,
        clients=read_clients(top["clients"]),
        personas=personas,
        population=read_population(population) if population else None,
        description=description,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read and check the scenario file at ``path``."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not UTF-8 text") from None
    except OSError as e:
        raise ScenarioError(source, "", f"cannot read it ({e.strerror or e})") from None
    return parse_scenario(load_yaml(text, source), source)
