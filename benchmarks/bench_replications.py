"""Benchmark: replications of the twin's day on one core against every core.

Runs on demand, never in the test suite::

    .venv/bin/python benchmarks/bench_replications.py [N] [ATTEMPTS] [PROFILE] [JOBS]

(defaults: 20 replications of a ``weekday`` day of about 100,000 authorization
attempts on ``scenarios/load.yaml``, on 2 processes). The profile is scaled so
that seed 1's day makes about ATTEMPTS attempts: a first run at ATTEMPTS
arrivals, not timed, measures attempts per arrival (the retries after congestion
come on top of the arrivals). Then the same N seeds are run as ``renkei simulate
--replications N`` runs them (:func:`simulator.twin.replications.on_cores`), on
``--jobs JOBS`` and on ``--jobs 1``, and it prints each one's wall time (the
workers' start and the population's build included: what a user waits for), the
replications per minute and the ratio; the two runs' tallies must be equal, seed
by seed. The machine is shared while it runs, so the figures move from run to
run: read the ratio of one run, not a wall time against another day's.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renkei import resources  # noqa: E402
from simulator.scenario import load_platform  # noqa: E402
from simulator.twin.command import scenario_path  # noqa: E402
from simulator.twin.profile import load_profile  # noqa: E402
from simulator.twin.replications import Day, cores, on_cores, replicate, seeds_of  # noqa: E402


def day_of(profile_name: str, attempts: int) -> Day:
    """The profile scaled so that seed 1's day makes about ``attempts`` attempts: one
    run of seed 1 at ``attempts`` arrivals measures attempts per arrival at that load
    (retries after congestion grow faster than the arrivals, so a smaller probe
    would under-count them), and the arrivals are scaled by it once."""
    profile = load_profile(resources.find_profile(profile_name))
    scenario = load_platform(scenario_path(profile, None))
    probe = replicate(1, Day(scenario, profile.scaled(attempts)))
    return Day(scenario, profile.scaled(round(attempts * attempts / probe.attempts)))


def main(n: int = 20, attempts: int = 100_000, profile_name: str = "weekday", jobs: int = 2) -> int:
    day = day_of(profile_name, attempts)
    seeds = seeds_of(1, n)
    print(
        f"{n} replications of {profile_name} scaled to {day.profile.customers:,} arrivals "
        f"(about {attempts:,} attempts a day); {cores()} cores here"
    )
    walls = {}
    tallies = {}
    for j in (jobs, 1):
        began = time.perf_counter()
        tallies[j] = on_cores(day, seeds, j)
        walls[j] = time.perf_counter() - began
        made = sum(t.attempts for t in tallies[j])
        print(
            f"--jobs {j}: {walls[j]:.1f} s wall, {n / walls[j] * 60:.1f} replications/min, "
            f"{made:,} attempts in all ({made / n:,.0f} a day on average), "
            f"{made / walls[j]:,.0f} attempts/s"
        )
    same = tallies[jobs] == tallies[1]
    print(f"the same tallies on --jobs {jobs} and --jobs 1, seed by seed: {same}")
    print(f"ratio wall(--jobs 1) / wall(--jobs {jobs}): {walls[1] / walls[jobs]:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(
        main(
            int(args[0]) if args else 20,
            int(args[1]) if len(args) > 1 else 100_000,
            args[2] if len(args) > 2 else "weekday",
            int(args[3]) if len(args) > 3 else 2,
        )
    )
