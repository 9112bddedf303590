"""Benchmark: the SimPy twin's speed, against a bare SimPy loop.

Runs on demand, never in the test suite::

    .venv/bin/python benchmarks/bench_twin.py [ARRIVALS] [PROFILE]

(defaults: 1,000,000 arrivals of the ``weekday`` profile on
``scenarios/load.yaml``). Prints, for the twin: the authorization attempts it
simulated (arrivals plus the retries after congestion), the steps, the wall
time of the run (the population's build excluded, measured apart) and attempts
per wall second. Then the same for a bare SimPy loop with no rules: the same
arrival instants, and per attempt a process that waits as many times as the
twin's attempts took steps on average — SimPy's own cost for this traffic. The
ratio twin / bare is what the rules and the customers' behaviour cost.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.scenario import load_scenario  # noqa: E402
from simulator.twin.journey import run  # noqa: E402
from simulator.twin.model import Twin  # noqa: E402
from simulator.twin.profile import load_profile  # noqa: E402


def bare(attempts: int, steps_per_attempt: float, seed: int = 1) -> float:
    """Wall seconds of a day with ``attempts`` Poisson arrivals, each a process of
    ``steps_per_attempt`` timeouts (rounded per attempt), with no rule at all."""
    rng = random.Random(seed)
    env = simpy.Environment()
    whole = int(steps_per_attempt)
    extra = steps_per_attempt - whole

    def attempt(n: int) -> Generator[simpy.Event, Any, None]:
        for _ in range(n):
            yield env.timeout(rng.expovariate(1 / 20))

    def arrivals() -> Generator[simpy.Event, Any, None]:
        rate = attempts / 86_400.0
        for _ in range(attempts):
            yield env.timeout(rng.expovariate(rate))
            env.process(attempt(whole + (1 if rng.random() < extra else 0)))

    began = time.perf_counter()
    env.process(arrivals())
    env.run()
    return time.perf_counter() - began


def main(arrivals: int = 1_000_000, profile_name: str = "weekday") -> int:
    scenario = load_scenario(ROOT / "scenarios" / "load.yaml")
    profile = load_profile(ROOT / "scenarios" / "traffic" / f"{profile_name}.yaml").scaled(arrivals)
    began = time.perf_counter()
    twin = Twin(scenario, profile, seed=1)
    built = time.perf_counter() - began
    began = time.perf_counter()
    run(twin)
    wall = time.perf_counter() - began
    t = twin.tally
    steps = sum(t.codes.values())
    capacity = twin.rules.capacity.flows
    print(f"profile {profile_name}, {arrivals:,} arrivals, host capacity {capacity}")
    print(f"host build (population of {len(twin.people):,}): {built:.2f} s")
    print(
        f"twin: {t.attempts:,} attempts, {steps:,} steps, {wall:.2f} s wall, "
        f"{t.attempts / wall:,.0f} attempts/s, {steps / wall:,.0f} steps/s"
    )
    print(f"      granted {t.outcomes['granted']:,}, congested answers {t.codes['congested']:,}")
    per_attempt = steps / t.attempts
    bare_wall = bare(t.attempts, per_attempt)
    print(
        f"bare SimPy loop: {t.attempts:,} attempts x {per_attempt:.2f} timeouts, "
        f"{bare_wall:.2f} s wall, {t.attempts / bare_wall:,.0f} attempts/s"
    )
    print(f"ratio twin / bare: {wall / bare_wall:.1f}")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(int(args[0]) if args else 1_000_000, args[1] if len(args) > 1 else "weekday"))
