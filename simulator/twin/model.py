"""The twin's world: a SimPy environment around the same core as the server.

:class:`Twin` holds what the server holds in its database — the host's
customers and accounts (:class:`~simulator.core.memory.MemoryHost`, built from
the same scenario file with the same seed), the lock ledger, the flows on ④
waiting for a call — and gives the core a clock driven by SimPy's simulated
time. It adds no rule: every answer comes from
:class:`~simulator.core.flow.ConnectFlow`. What it adds is the host's slots as
a SimPy ``Resource`` (R-ERR-SYS-2): a flow takes one when the core admits it,
and gives it back when it ends or when the timeout after its last touch runs out
(:meth:`FlowState.slot_freed_at`), which is when the server stops counting it.

Every step is tallied by hour and answer code, and, with ``trace=True``, kept
as a :class:`renkei.contract.trace.Step` for ``renkei replay``.
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
from simulator.core.clock import JST
from simulator.core.errors import RenkeiError
from simulator.core.flow import ConnectFlow, FlowState
from simulator.core.host import PinVault
from simulator.core.screens import Screen
from simulator.scenario import Scenario
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


class Twin:
    """One run: the environment, the host, the engine, the slots, the tallies."""

    def __init__(
        self,
        scenario: Scenario,
        profile: TrafficProfile,
        seed: int,
        days: int = 1,
        trace: bool = False,
    ) -> None:
        if days < 1:
            raise ValueError("a run lasts at least one day")
        self.scenario, self.profile, self.seed, self.days = scenario, profile, seed, days
        self.env = simpy.Environment()
        self.start = dt.datetime.combine(profile.day, dt.time(0), JST)
        self.clock = SimClock(self.env, self.start)
        # The PIN key only has to be the same within the run; derive it from the seed
        # so that a run is repeatable and nothing reads the machine's randomness.
        vault = PinVault(hashlib.sha256(f"renkei-twin-{seed}".encode()).digest())
        self.host, self.people = scenario.build_with_population(vault, profile.day)
        if not self.people:
            raise ValueError(
                f"{scenario.source} has no population: the twin plays bulk customers "
                "(add a population section, e.g. scenarios/load.yaml)"
            )
        unknown = [c for c in profile.clients if scenario.client(c) is None]
        if unknown:
            raise ValueError(
                f"{profile.source}: clients {unknown} are not partner apps of {scenario.source}"
            )
        self.clients = {c.client_id: c for c in scenario.clients}
        self.rules = scenario.rules
        self.engine = ConnectFlow(
            self.rules, self.host, self.host, vault, self.clock, random.Random(seed * 2 + 1)
        )
        #: Human behaviour draws, apart from the engine's, so that a rule change
        #: that draws differently does not reshuffle who makes which mistake.
        self.rng = random.Random(seed)
        self.slots = simpy.Resource(self.env, capacity=self.rules.capacity.flows)
        self.waiting: dict[str, list[FlowState]] = {}
        self.tally = Tally()
        self.steps: list[Step] | None = [] if trace else None
        self.horizon = days * 86_400.0
        self.progress: Callable[[float], None] | None = None

    # -- the hour and the record of each step -------------------------------------------------

    def hour(self) -> int:
        return int(self.env.now // 3600)

    def record(self, journey: int, do: str, inputs: dict[str, str], out: str) -> str:
        self.tally.add(int(self.env.now // 3600), do, out, len(self.slots.users))
        if self.steps is not None:
            self.steps.append(Step(self.clock.now().isoformat(), journey, do, inputs, out))
        return out

    def act(self, journey: int, do: str, inputs: dict[str, str], button: Callable[[], str]) -> str:
        """Press ``button`` (a call into the core); answers the screen reached or the code."""
        try:
            out = button()
        except RenkeiError as error:
            out = error.code
        return self.record(journey, do, inputs, out)

    # -- the host's slots (R-ERR-SYS-2) ---------------------------------------------------------

    def take_slot(self) -> simpy.resources.resource.Request:
        request = self.slots.request()
        if not request.triggered:  # the core admitted the flow, so a slot is free
            raise AssertionError("the core admitted a flow beyond the host's capacity")
        return request

    def free_slot(self, flow: FlowState, slot: simpy.resources.resource.Request) -> None:
        """Give the slot back now if the flow ended, else when it times out."""
        if flow.finished:
            self.slots.release(slot)
            return
        delay = (flow.slot_freed_at(self.rules.flow_timeout) - self.clock.now()).total_seconds()
        self.env.process(self._free_later(max(delay, 0.0), slot))

    def _free_later(self, delay: float, slot: simpy.resources.resource.Request) -> Process:
        yield self.env.timeout(delay)
        self.slots.release(slot)

    # -- ④: flows waiting for a call, found by the calling number as the server does ----------

    def wait_for_call(self, flow: FlowState) -> None:
        assert flow.registered_phone is not None
        self.waiting.setdefault(flow.registered_phone, []).append(flow)

    def waiting_for_call_from(self, phone: str) -> list[FlowState]:
        """Flows on ④ whose registered phone is ``phone`` — abandoned ones too, as the
        server keeps them (the core's verdict on those is "too late"); flows that
        have left ④ are dropped here, as the server's store stops listing them."""
        waiting = [f for f in self.waiting.get(phone, ()) if f.screen is Screen.CALL]
        if waiting:
            self.waiting[phone] = waiting
        else:
            self.waiting.pop(phone, None)
        return waiting
