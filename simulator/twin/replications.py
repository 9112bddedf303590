"""Replications of a day (``renkei simulate --replications N``): N seeds, every core.

One run of the twin is one draw of the day: who arrives when, who forgets a
phone, who walks away on ④. N replications run the same day on the seeds
``S, S+1, …, S+N−1`` (``--seed S``), so that each count of the report (granted
at 13:00, ``congested`` in all) is a mean across N independent days, with its
95 % interval (:mod:`simulator.twin.interval`).

**A replication of seed S is the single run of seed S**, exactly: :func:`replicate`
builds the same :class:`~simulator.twin.model.Twin` from the same scenario,
profile, seed and days as ``renkei simulate --seed S`` and runs it the same
way; the seed is the whole of its randomness. So replications on 1 core, on 8 or
on a cluster give the same tallies, and the same files, byte for byte.

**Where they run.** On this machine, a ``ProcessPoolExecutor`` of ``--jobs``
processes (default: every core this process may run on), started with
``spawn`` so that each worker is a fresh interpreter that imports the twin once
and then runs replication after replication; ``--jobs 1`` runs them in this
process. Across machines, on a Dask distributed cluster (``--scheduler
ADDRESS``, the optional ``dask`` extra): :func:`on_cluster` maps the very same
:func:`replicate` over the seeds with ``client.map``. Either way a task is sent
the day (:class:`Day`: the loaded scenario and profile, a few tens of KB; on a
cluster scattered once to every worker) and the seed, and sends back only its
:class:`~simulator.twin.model.Tally` — the counts per code, per hour and per
ending, a few KB — never the day's steps.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Final

from simulator.scenario import PlatformScenario
from simulator.twin.interval import Interval, interval
from simulator.twin.journey import run as run_twin
from simulator.twin.model import Tally, Twin
from simulator.twin.profile import TrafficProfile

#: The extra that brings Dask distributed, and the line that says to install it.
DASK_EXTRA: Final = "--scheduler needs the dask extra: pip install 'renkei[dask]'"
#: How long to wait for a cluster's scheduler to answer, in seconds.
CONNECT_TIMEOUT: Final = 15


class ClusterError(Exception):
    """The cluster cannot run the replications (no extra, no scheduler at the address)."""


@dataclass(frozen=True)
class Day:
    """What every replication of a run shares: the scenario (a platform of one bank
    or more), the profile (already scaled by ``--customers``) and the days. It is
    sent to the workers as it is (picklable, a few tens of KB), so that a worker on
    another machine needs no file of this one."""

    scenario: PlatformScenario
    profile: TrafficProfile
    days: int = 1

    def twin(self, seed: int) -> Twin:
        """The run of ``seed``, built as ``renkei simulate --seed SEED`` builds it."""
        return Twin(self.scenario, self.profile, seed, self.days)


def replicate(seed: int, day: Day) -> Tally:
    """The day on ``seed``: its tally only (counts per code, hour and ending), what a
    worker sends back. The same function on this machine's processes and on a
    cluster's workers."""
    twin = day.twin(seed)
    run_twin(twin)
    return twin.tally


def seeds_of(first: int, n: int) -> list[int]:
    """The replications' seeds: ``first``, ``first + 1``, …, ``first + n − 1``, so that
    replication k of a run is the single run of seed ``first + k``."""
    return list(range(first, first + n))


def cores() -> int:
    """The cores this process may run on (its affinity, where the system says), the
    default of ``--jobs``."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return int(counted() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


Progress = Callable[[float], None] | None


def _heard(progress: Progress, done: int, n: int) -> None:
    if progress is not None:
        progress(done / n)


def on_cores(day: Day, seeds: list[int], jobs: int, progress: Progress = None) -> list[Tally]:
    """The tallies of ``seeds`` in their order, run by ``jobs`` processes (started with
    ``spawn``; at most one per seed), or in this process for ``jobs`` 1."""
    jobs = max(1, min(jobs, len(seeds)))
    if jobs == 1:
        tallies = []
        for seed in seeds:
            tallies.append(replicate(seed, day))
            _heard(progress, len(tallies), len(seeds))
        return tallies
    context = multiprocessing.get_context("spawn")
    found: dict[int, Tally] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {pool.submit(replicate, seed, day): seed for seed in seeds}
        for future in as_completed(futures):
            found[futures[future]] = future.result()
            _heard(progress, len(found), len(seeds))
    return [found[seed] for seed in seeds]


def dask() -> Any:
    """The ``distributed`` module (imported here: an optional extra, slow to import),
    untyped as it is; :class:`ClusterError` without the extra."""
    try:
        return importlib.import_module("distributed")
    except ImportError:
        raise ClusterError(DASK_EXTRA) from None


def _client(address: str) -> Any:
    """A client of the scheduler at ``address``; :class:`ClusterError` without the
    extra, or when nothing answers there."""
    distributed = dask()
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        # OSError covers a refused connection and the client's own time-out.
        shown = " ".join(str(error).split()) or type(error).__name__
        raise ClusterError(f"--scheduler {address}: no Dask scheduler there ({shown})") from None


def on_cluster(day: Day, seeds: list[int], address: str, progress: Progress = None) -> list[Tally]:
    """The tallies of ``seeds`` in their order, run on the Dask cluster whose scheduler
    is at ``address`` (``tcp://host:port``): :func:`replicate` mapped over the seeds
    with ``client.map``, the day scattered once to every worker. Every worker needs
    renkei installed (the same version: it runs this module's function)."""
    client = _client(address)
    found: dict[int, Tally] = {}
    try:
        shared = client.scatter(day, broadcast=True)
        futures = client.map(replicate, seeds, day=shared)
        seed_of = {future.key: seed for future, seed in zip(futures, seeds, strict=True)}
        for future in dask().as_completed(futures, loop=client.loop):
            found[seed_of[future.key]] = future.result()
            _heard(progress, len(found), len(seeds))
    except Exception as error:
        # What a worker raised (renkei missing there, a worker lost), re-raised here by
        # the client: said in one line, as any other reason the run cannot be made.
        shown = " ".join(str(error).split())[:300] or type(error).__name__
        raise ClusterError(
            f"the cluster at {address} did not run the replications: "
            f"{type(error).__name__}: {shown}"
        ) from error
    finally:
        client.close()
    return [found[seed] for seed in seeds]


@dataclass(frozen=True)
class Replications:
    """N replications of a day: the tallies in the seeds' order, and the run of the
    first seed, built and not run, for what the report says of the day (the profile,
    the window in JST, the customers, the capacity)."""

    twin: Twin
    seeds: list[int]
    tallies: list[Tally]

    @property
    def n(self) -> int:
        return len(self.tallies)

    def values(self, count: Callable[[Tally], int]) -> list[int]:
        """One count (``count`` of a tally) per replication, in the seeds' order."""
        return [count(t) for t in self.tallies]

    def spread(self, count: Callable[[Tally], int]) -> Interval:
        """The mean across the replications of ``count`` and its 95 % interval."""
        return interval(self.values(count))

    def codes(self) -> list[str]:
        """Every answer code seen in any replication."""
        return sorted(set().union(*(t.codes for t in self.tallies)))

    def endings(self) -> list[str]:
        """Every journey ending seen in any replication (``in_progress`` included)."""
        return sorted(set().union(*(t.endings() for t in self.tallies)))


def replications(
    day: Day, seeds: Iterable[int], run: Callable[[Day, list[int]], list[Tally]]
) -> Replications:
    """Run ``day`` on ``seeds`` with ``run`` (:func:`on_cores` or :func:`on_cluster`
    with their own arguments bound). The first seed's twin is built here first, so
    that a profile the scenario cannot play is refused (ValueError) before any
    worker starts."""
    listed = list(seeds)
    first = day.twin(listed[0])
    return Replications(first, listed, run(day, listed))
