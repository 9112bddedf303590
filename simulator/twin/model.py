"""The twin's world: a SimPy environment around the same core as the server.

:class:`Twin` holds what the server holds in its database — the host's
customers and accounts (:class:`~simulator.core.memory.MemoryHost`, built from
the same scenario file with the same seed), the lock ledger, the flows on ④
waiting for a call — and gives the core a clock driven by SimPy's simulated
time. It adds no rule: every answer comes from
:class:`~simulator.core.flow.ConnectFlow`. What it adds is the host's slots as
a SimPy ``Resource`` (R-ERR-SYS-2): a flow takes one when the core admits it,
and gives it back when it ends or at the instant the core's rule says it stops
holding it (:meth:`FlowState.slot_freed_at`: the idle timeout, an early flow's
lapse or the flow's lifetime, the earliest), which is when the server stops
counting it; the flows holding one are what the core's capacity is asked about
(:class:`~simulator.core.faults.Occupancy`: the per-app share of early flows, the
Retry-After of a refusal).

Every step is tallied by hour and answer code, and, with ``trace=True``, kept
as a :class:`renkei.contract.trace.Step` for ``renkei replay``.

**A platform** (INTERFACE.md §10, a scenario of several credit unions): one
environment, one clock and one ``Resource`` of the platform's
``capacity_flows`` for every bank's flows (R-PLAT-3), and a :class:`Bank` per
credit union — its host, lock ledger, engine on its own rules (threshold, pool,
own windows on the platform's calendar, 認可期間), its flows on ④ and its tally
beside the platform's. A one-bank scenario is a platform of that one bank and
runs exactly as before platforms: the same draws in the same order, so the same
numbers for the same seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Final

import simpy

from renkei.contract.trace import Step
from simulator.core.bank import BankRules
from simulator.core.clock import JST
from simulator.core.errors import RenkeiError
from simulator.core.faults import Occupancy
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.host import PinVault
from simulator.core.memory import MemoryHost
from simulator.core.screens import Screen
from simulator.population import BulkCustomer
from simulator.scenario import PlatformScenario, Scenario
from simulator.twin.profile import TrafficProfile

#: What a SimPy process yields.
Process = Generator[simpy.Event, Any, None]


class SimClock:
    """The core's clock on SimPy time: ``env.now`` seconds after ``start`` (JST)."""

    def __init__(self, env: simpy.Environment, start: dt.datetime) -> None:
        self.env = env
        self.start = start
        self._at = -1.0
        self._now = start

    def now(self) -> dt.datetime:
        # The core asks several times per step at one simulated instant.
        if self.env.now != self._at:
            self._at = self.env.now
            self._now = self.start + dt.timedelta(seconds=self._at)
        return self._now


#: How a journey still under way when the run ends is counted (on a screen, waiting
#: to retry, or between two steps): it has started, so it is one of the journeys,
#: but it has no end yet.
IN_PROGRESS: Final = "in_progress"


@dataclass
class Tally:
    """Counts of answers: per code in all, per hour and code, and journeys' ends.

    ``journeys`` counts every journey started (returns after a lock or after the
    認可期間 are journeys of their own; a retry after a refusal is not);
    ``outcomes`` counts those that ended. :meth:`endings` is the one set of totals
    the report prints: every journey started, exactly once.
    """

    codes: Counter[str] = field(default_factory=Counter)
    hourly: dict[int, Counter[str]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    journeys: int = 0
    #: The most slots in use seen at a step in each hour.
    peak_slots: Counter[int] = field(default_factory=Counter)

    @property
    def in_progress(self) -> int:
        """Journeys started but not ended when the run stopped."""
        return self.journeys - sum(self.outcomes.values())

    def endings(self) -> Counter[str]:
        """How each journey started ended, with :data:`IN_PROGRESS` for those the end
        of the run cut short: the counts add up to :attr:`journeys`."""
        endings = Counter(self.outcomes)
        if self.in_progress:
            endings[IN_PROGRESS] = self.in_progress
        return endings

    def add(self, hour: int, do: str, out: str, slots: int) -> None:
        self.codes[out] += 1
        counts = self.hourly.get(hour)
        if counts is None:
            counts = self.hourly[hour] = Counter()
        counts[out] += 1
        if do == "authorize":
            counts["attempts"] += 1
        self.peak_slots[hour] = max(self.peak_slots[hour], slots)


@dataclass
class Bank:
    """One credit union of the run: what the server keeps per bank (INTERFACE.md §10).

    ``code`` is its 金融機関コード on a platform, "" for a one-bank run (whose trace
    names no bank). ``tallies`` are the tallies its journeys count in: the
    platform's, then its own (only the platform's when the run has one bank, so that
    nothing is counted twice); :meth:`add` is how each of its steps is counted in
    them. ``in_use`` is how many of the platform's slots its flows hold."""

    code: str
    scenario: Scenario
    share: float
    host: MemoryHost
    people: list[BulkCustomer]
    engine: ConnectFlow
    tally: Tally
    tallies: tuple[Tally, ...]
    #: Counts a step (hour, action, answer, the platform's slots in use): the
    #: platform's Tally.add itself for a one-bank run, so that its steps cost what
    #: they did before platforms; else :meth:`add_both`.
    add: Callable[[int, str, str, int], None] = field(init=False)
    waiting: dict[str, list[FlowState]] = field(default_factory=dict)
    in_use: int = 0
    #: The customers (by customer_id) with a journey under way at this bank, on a
    #: platform (see :attr:`Twin.one_at_a_time`).
    busy: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.add = self.tallies[0].add if len(self.tallies) == 1 else self.add_both

    def add_both(self, hour: int, do: str, out: str, slots: int) -> None:
        """A platform bank's step: in the platform's tally with the platform's slots,
        in its own with the slots its flows hold."""
        self.tallies[0].add(hour, do, out, slots)
        self.tally.add(hour, do, out, self.in_use)

    @property
    def rules(self) -> BankRules:
        return self.scenario.rules

    @property
    def name(self) -> str:
        return self.scenario.rules.name

    # -- ④: flows waiting for a call, found by the calling number as the server does ----------

    def wait_for_call(self, flow: FlowState) -> None:
        assert flow.registered_phone is not None
        self.waiting.setdefault(flow.registered_phone, []).append(flow)

    def waiting_for_call_from(self, phone: str) -> list[FlowState]:
        """This bank's flows on ④ whose registered phone is ``phone`` — abandoned ones
        too, as the server keeps them (the core's verdict on those is "too late");
        flows that have left ④ are dropped here, as the server's store stops listing
        them. The gateway of a bank hears only its own flows (its own 認証先電話番号)."""
        waiting = [f for f in self.waiting.get(phone, ()) if f.screen is Screen.CALL]
        if waiting:
            self.waiting[phone] = waiting
        else:
            self.waiting.pop(phone, None)
        return waiting


def bank_shares(
    platform: PlatformScenario, profile: TrafficProfile, sizes: list[int]
) -> list[float]:
    """Each bank's share of the arrivals: the profile's ``banks`` (a bank it does not
    list has none), else in proportion to each bank's bulk customers (``sizes``), so
    that each customer of the platform is as likely to arrive as any other.
    ValueError for a code that is no bank of the platform, for shares on a one-bank
    scenario, and for a share on a bank without bulk customers."""
    given = profile.banks
    if given is None:
        return [float(n) for n in sizes]
    if platform.one_bank:
        raise ValueError(
            f"{profile.source}: banks: {platform.source} is one bank, not a platform "
            "of several (INTERFACE.md §10)"
        )
    unknown = [code for code in given if platform.bank(code) is None]
    if unknown:
        raise ValueError(
            f"{profile.source}: banks: {unknown} are not banks of {platform.source} "
            f"(its banks: {', '.join(platform.codes)})"
        )
    shares = [given.get(str(bank.code), 0.0) for bank in platform.banks]
    empty = [
        str(b.code)
        for b, share, n in zip(platform.banks, shares, sizes, strict=True)
        if share and not n
    ]
    if empty:
        raise ValueError(
            f"{profile.source}: banks: {empty} have a share but no bulk customers in "
            f"{platform.source} (give them a population section)"
        )
    return shares


class Twin:
    """One run: the environment, the slots, the tallies and the banks (each with its
    host and engine); a one-bank scenario is a platform of that bank."""

    def __init__(
        self,
        scenario: Scenario | PlatformScenario,
        profile: TrafficProfile,
        seed: int,
        days: int = 1,
        trace: bool = False,
    ) -> None:
        if days < 1:
            raise ValueError("a run lasts at least one day")
        platform = (
            scenario if isinstance(scenario, PlatformScenario) else PlatformScenario.of(scenario)
        )
        self.platform = platform
        #: The first bank's scenario (the one bank of a one-bank run).
        self.scenario = platform.first
        self.profile, self.seed, self.days = profile, seed, days
        #: Whether a customer's journeys never overlap: on a platform. Its banks have
        #: few bulk customers for a day's traffic (250 in the shipped platform), so the
        #: same person would often be on ④ in two journeys at once, and which of them a
        #: call verifies would hang on the 認証先電話番号 each side draws for itself (the
        #: server's draw is not the twin's): a replay could then not agree code by
        #: code. One person links one account at a time; a one-bank run draws as it
        #: always did. (An attribute, not a property: it is read at every journey.)
        self.one_at_a_time = not platform.one_bank
        self.env = simpy.Environment()
        self.start = dt.datetime.combine(profile.day, dt.time(0), JST)
        self.clock = SimClock(self.env, self.start)
        # The PIN key only has to be the same within the run; derive it from the seed
        # so that a run is repeatable and nothing reads the machine's randomness.
        vault = PinVault(hashlib.sha256(f"renkei-twin-{seed}".encode()).digest())
        built = [bank.build_with_population(vault, profile.day) for bank in platform.banks]
        #: Every bulk customer of the platform, bank by bank.
        self.people = [person for _, people in built for person in people]
        if not self.people:
            raise ValueError(
                f"{platform.source} has no population: the twin plays bulk customers "
                "(add a population section, e.g. scenarios/load.yaml)"
            )
        unknown = [c for c in profile.clients if self.scenario.client(c) is None]
        if unknown:
            raise ValueError(
                f"{profile.source}: clients {unknown} are not partner apps of {platform.source}"
            )
        shares = bank_shares(platform, profile, [len(people) for _, people in built])
        self.clients = {c.client_id: c for c in self.scenario.clients}
        #: The platform's settings (capacity, flow timeout): the same in every bank's rules.
        self.rules = self.scenario.rules
        self.tally = Tally()
        self.banks: list[Bank] = []
        for i, (bank, (host, people)) in enumerate(zip(platform.banks, built, strict=True)):
            # The first bank's engine draws as a one-bank run's always did; the others
            # from a seed of their own, so that no bank's draws depend on another's.
            rng = random.Random(seed * 2 + 1) if i == 0 else random.Random(f"{seed}/{bank.code}")
            own = self.tally if platform.one_bank else Tally()
            self.banks.append(
                Bank(
                    code="" if platform.one_bank else str(bank.code),
                    scenario=bank,
                    share=shares[i],
                    host=host,
                    people=people,
                    engine=ConnectFlow(bank.rules, host, host, vault, self.clock, rng),
                    tally=own,
                    tallies=(self.tally,) if own is self.tally else (self.tally, own),
                )
            )
        #: Human behaviour draws, apart from the engines', so that a rule change
        #: that draws differently does not reshuffle who makes which mistake.
        self.rng = random.Random(seed)
        self.slots = simpy.Resource(self.env, capacity=self.rules.capacity.flows)
        #: The flows holding one of :attr:`slots`, by flow id.
        self.holding: dict[str, FlowState] = {}
        #: The flows in :attr:`holding` of each partner app, early or not.
        self.held_by: Counter[str] = Counter()
        self.steps: list[Step] | None = [] if trace else None
        self.horizon = days * 86_400.0
        self.progress: Callable[[float], None] | None = None
        #: Arrivals on a platform that found every customer of their bank busy, and
        #: went to one of them anyway (:attr:`one_at_a_time`): 0 on a day the
        #: platform's customers can make.
        self.overlapping = 0

    @property
    def one_bank(self) -> bool:
        """A run of a one-bank scenario: the output and the trace as before platforms."""
        return self.platform.one_bank

    # -- the hour and the record of each step -------------------------------------------------

    def hour(self) -> int:
        return int(self.env.now // 3600)

    def record(self, bank: Bank, journey: int, do: str, inputs: dict[str, str], out: str) -> str:
        bank.add(int(self.env.now // 3600), do, out, len(self.slots.users))
        if self.steps is not None:
            self.steps.append(
                Step(self.clock.now().isoformat(), journey, do, inputs, out, bank.code)
            )
        return out

    def act(
        self, bank: Bank, journey: int, do: str, inputs: dict[str, str], button: Callable[[], str]
    ) -> str:
        """Press ``button`` (a call into the core); answers the screen reached or the code."""
        try:
            out = button()
        except RenkeiError as error:
            out = error.code
        return self.record(bank, journey, do, inputs, out)

    # -- the platform's slots (R-ERR-SYS-2, R-PLAT-3) -----------------------------------------

    def occupancy(self, client_id: str) -> Occupancy:
        """The slots now, for a new flow of ``client_id``: the core's reading of the
        flows holding one, as the server's store reads its table."""
        capacity = self.rules.capacity
        if len(self.holding) < capacity.flows and self.held_by[client_id] < capacity.per_client:
            # Fewer flows hold a slot than the capacity, and fewer of this app's than its
            # share of early ones: the core admits the flow whatever their instants, as
            # it would on the full reading (never more than these counts). Reading every
            # holder on each request made a day of full journeys quadratic in the flows
            # in progress.
            return Occupancy()
        return Occupancy.of(self.holding.values(), self.clock.now(), self.rules.slots, client_id)

    def take_slot(self, bank: Bank, flow: FlowState) -> simpy.resources.resource.Request:
        """A slot for ``flow``, which the core admitted; given back by :meth:`free_slot`
        when the flow ends, or when the rule frees it while the journey goes on or
        after it stopped (:meth:`_hold`)."""
        request = self.slots.request()
        if not request.triggered:  # the core admitted the flow, so a slot is free
            raise AssertionError("the core admitted a flow beyond the host's capacity")
        bank.in_use += 1
        self.holding[flow.flow_id] = flow
        self.held_by[flow.client_id] += 1
        self.env.process(self._hold(bank, flow, request))
        return request

    def free_slot(
        self, bank: Bank, flow: FlowState, slot: simpy.resources.resource.Request
    ) -> None:
        """At the journey's end: the slot back now if the flow ended, else at the
        instant the rule frees it (:meth:`_hold` is waiting for it)."""
        if flow.finished:
            self._release(bank, flow, slot)

    def _release(self, bank: Bank, flow: FlowState, slot: simpy.resources.resource.Request) -> None:
        if self.holding.pop(flow.flow_id, None) is not None:
            self.held_by[flow.client_id] -= 1
            self.slots.release(slot)
            bank.in_use -= 1

    def _hold(self, bank: Bank, flow: FlowState, slot: simpy.resources.resource.Request) -> Process:
        """Wake at the instant the flow would stop holding its slot; a touch since
        (a POST, a later request) may have moved it on, so look again then."""
        rule = self.rules.slots
        while flow.flow_id in self.holding:
            delay = (flow.slot_freed_at(rule) - self.clock.now()).total_seconds()
            if delay >= 0 and flow.holds_slot(self.clock.now(), rule):
                # Just past the last instant it holds: the server counts it until then.
                yield self.env.timeout(delay + 1e-6)
                continue
            self._release(bank, flow, slot)
