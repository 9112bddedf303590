"""``renkei simulate``: a day of partner-app traffic in simulated time.

``renkei simulate PROFILE`` loads a traffic profile (a path, or the name of a
shipped one: ``scenarios/traffic/`` of the repository, inside the package once
installed) and the scenario whose customers play it (``--scenario``, else the
one the profile names, else the shipped ``load``), runs the twin, prints the
summary tables and writes ``summary.txt``, ``hourly.csv``, ``codes.csv`` and
``day.png`` into ``--out`` (``reports/twin/<profile>`` under the current
directory by default). A platform scenario of several credit unions
(INTERFACE.md §10) is one day of all its banks on one shared capacity: the files
are the platform's, with ``banks.csv``, and each bank's in ``banks/CODE/``.
``--trace FILE`` also writes every step as JSON lines for ``renkei replay``. The
same ``--seed`` gives the same files, byte for byte; the wall time and the
progress bar go to stderr only.

``--replications N`` (N ≥ 2) runs the day on the seeds ``S … S+N−1`` from
``--seed S`` (:mod:`simulator.twin.replications`), on ``--jobs`` processes
(default every core) or on a Dask cluster (``--scheduler ADDRESS``), and writes
each count's mean and 95 % interval across them instead
(``reports/twin/<profile>-replications`` by default). ``--replications 1``, the
default, is the single run above, unchanged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

from renkei import resources
from renkei.args import count, positive_int
from renkei.contract import trace
from renkei.contract.trace import BANKS
from simulator.scenario import load_platform
from simulator.twin.journey import run as run_twin
from simulator.twin.model import Twin
from simulator.twin.profile import TrafficProfile, load_profile
from simulator.twin.replications import (
    ClusterError,
    Day,
    cores,
    dask,
    on_cluster,
    on_cores,
    replications,
    seeds_of,
)
from simulator.twin.report import (
    BANKS_DIR,
    replications_summary,
    shown_path,
    summary,
    write_outputs,
    write_replications,
)

#: Where the files go without ``--out``: relative to the current directory.
OUT: Final = Path("reports") / "twin"


def add_parser(commands: Any) -> None:
    known = ", ".join(resources.profile_names())
    p = commands.add_parser(
        "simulate",
        help="the SimPy twin: a day of partner-app traffic in simulated time",
        description=(
            "Run a traffic profile through the same rules as the server, in simulated "
            "time: prints attempts, completions and every answer code per hour, and "
            "writes CSV and a PNG plot. Profiles: " + known
        ),
    )
    p.add_argument("profile", metavar="PROFILE", help=f"a profile file, or one of: {known}")
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="the bank (or the platform of banks) and its customers: a scenario YAML, or the "
        "name of a shipped one (default: the profile's scenario, else "
        f"{resources.LOAD_SCENARIO})",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--days", type=positive_int, default=1, help="days to simulate (default 1)")
    p.add_argument(
        "--customers",
        type=count,
        metavar="N",
        help="override the profile's arrivals per day (surges are scaled alike)",
    )
    p.add_argument("--trace", metavar="FILE", help="write every step as JSON lines (for replay)")
    p.add_argument("--out", metavar="DIR", help="output directory (default ./reports/twin/PROFILE)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plot")
    p.add_argument(
        "--replications",
        type=positive_int,
        default=1,
        metavar="N",
        help="run the day on N seeds, --seed to --seed + N - 1, and report each count's mean "
        "and 95%% interval (default 1: one run)",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        metavar="J",
        help=f"processes for the replications (default: every core, {cores()} here)",
    )
    p.add_argument(
        "--scheduler",
        type=scheduler_address,
        metavar="ADDRESS",
        help="run the replications on the Dask cluster whose scheduler is at ADDRESS "
        "(tcp://host:port; the dask extra)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no tables")
    p.set_defaults(handler=run)


class ProgressBar:
    """A one-line bar on stderr, redrawn each simulated hour (only on a terminal)."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label = stream, label
        self.live = stream.isatty()

    def __call__(self, fraction: float) -> None:
        if not self.live:
            return
        width = 30
        done = int(fraction * width)
        bar = "#" * done + "." * (width - done)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%}")
        self.stream.flush()
        if fraction >= 1:
            self.stream.write("\n")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Raises ScenarioError for a bad profile or scenario, NotFound for a name that is
    neither a file nor a shipped one (the CLI prints either, exit 2)."""
    refused = refusal(args)
    if refused:
        print(f"renkei simulate: {refused}", file=sys.stderr)
        return 2
    profile = load_profile(resources.find_profile(args.profile))
    if args.customers is not None:
        profile = profile.scaled(args.customers)
    scenario = load_platform(scenario_path(profile, args.scenario))
    if args.replications > 1:
        return replicate(args, Day(scenario, profile, args.days), out)
    try:
        twin = Twin(scenario, profile, args.seed, args.days, trace=args.trace is not None)
    except ValueError as e:
        print(f"renkei simulate: {e}", file=sys.stderr)
        return 2
    if not args.quiet:
        twin.progress = ProgressBar(sys.stderr, f"simulating {profile.name}")
    began = time.perf_counter()
    run_twin(twin)
    wall = time.perf_counter() - began
    target = Path(args.out) if args.out else OUT / profile.name
    written = write_outputs(twin, target, plots=not args.no_plots)
    if args.trace:
        trace.write(Path(args.trace), trace_header(twin), twin.steps or [])
        written.append(Path(args.trace))
    if not args.quiet:
        print(summary(twin), file=out)
        print("wrote " + ", ".join(str(p) for p in shown_files(target, written)), file=out)
    if twin.overlapping:
        print(
            f"renkei simulate: {twin.overlapping:,} arrivals found every customer of their "
            "bank with a journey under way and went to one of them anyway; a replay may "
            "differ where one customer is on ④ twice (ask for fewer customers)",
            file=sys.stderr,
        )
    rate = twin.tally.attempts / wall if wall > 0 else 0.0
    print(
        f"renkei simulate: {twin.tally.attempts:,} attempts, {len(twin.steps or []) or ''}"
        f"{' steps, ' if twin.steps else ''}{wall:.2f} s wall ({rate:,.0f} attempts/s)",
        file=sys.stderr,
    )
    return 0


def scheduler_address(text: str) -> str:
    """``--scheduler``: a Dask scheduler's address, ``PROTOCOL://HOST:PORT`` (``tcp://``
    as ``dask scheduler`` prints it; ``tls://`` too). Checked here, as a usage error,
    because Dask's client would wait for a malformed one before saying so."""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise argparse.ArgumentTypeError(f"not a scheduler address tcp://HOST:PORT: {text!r}")
    return text


def refusal(args: argparse.Namespace) -> str:
    """What is wrong with the replications' options, in one line ("" when nothing):
    ``--scheduler`` without the dask extra, ``--jobs`` beside it, ``--trace`` with
    replications (it is the steps of one run)."""
    if args.scheduler is not None:
        try:
            dask()
        except ClusterError as error:
            return str(error)
        if args.jobs is not None:
            return (
                "--jobs is for a run on this machine; with --scheduler the cluster's "
                "workers run the replications"
            )
    if args.replications > 1 and args.trace:
        return "--trace writes the steps of one run; it cannot be given with --replications"
    return ""


def replicate(args: argparse.Namespace, day: Day, out: TextIO) -> int:
    """``--replications N``: the day on N seeds, here or on the cluster; the summary of
    their means and intervals, and its files."""
    seeds = seeds_of(args.seed, args.replications)
    jobs = min(args.jobs or cores(), len(seeds))
    label = f"{len(seeds)} replications of {day.profile.name}"
    progress = None if args.quiet else ProgressBar(sys.stderr, label)
    began = time.perf_counter()
    try:
        if args.scheduler is not None:
            where = f"on the cluster at {args.scheduler}"
            reps = replications(day, seeds, lambda d, s: on_cluster(d, s, args.scheduler, progress))
        else:
            where = f"on {jobs} process{'es' if jobs > 1 else ''}"
            reps = replications(day, seeds, lambda d, s: on_cores(d, s, jobs, progress))
    except (ValueError, ClusterError) as e:
        print(f"renkei simulate: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - began
    target = Path(args.out) if args.out else OUT / f"{day.profile.name}-replications"
    written = write_replications(reps, target, plots=not args.no_plots)
    if not args.quiet:
        print(replications_summary(reps), file=out)
        print("wrote " + ", ".join(str(p) for p in written), file=out)
    attempts = sum(t.attempts for t in reps.tallies)
    print(
        f"renkei simulate: {len(seeds)} replications ({attempts:,} attempts) {where}, "
        f"{wall:.2f} s wall",
        file=sys.stderr,
    )
    return 0


def scenario_path(profile: TrafficProfile, given: str | None) -> Path:
    """The scenario of the run: ``--scenario``, else the profile's (a file beside it or
    a shipped name), else the shipped ``load``. NotFound for a name that is neither."""
    if given is not None:
        return resources.find_scenario(given)
    named = profile.scenario_path()
    if named is None:
        return resources.find_scenario(resources.LOAD_SCENARIO)
    return named if named.parent != Path() else resources.find_scenario(str(named))


def shown_files(target: Path, written: list[Path]) -> list[str]:
    """The files written, each banks' folder once (``DIR/banks/9901/``, …) rather than
    its four files."""
    shown: list[str] = []
    for path in written:
        folder = path.parent
        if folder.parent == target / BANKS_DIR:
            if f"{folder}/" not in shown:
                shown.append(f"{folder}/")
        else:
            shown.append(str(path))
    return shown


def trace_header(twin: Twin) -> dict[str, Any]:
    """What the replayer needs besides the steps: the day, the host and the apps; on a
    platform also its banks (the trace's version 2), each step then naming its own."""
    clients = {}
    for client_id in twin.profile.clients:
        client = twin.scenario.client(client_id)
        assert client is not None
        clients[client_id] = {
            "client_secret": client.client_secret,
            "redirect_uri": client.redirect_uris[0],
            "scope": " ".join(client.scopes),
        }
    t = twin.tally
    return {
        "profile": twin.profile.name,
        "seed": twin.seed,
        "scenario": shown_path(twin.platform.source),
        "host_day": twin.profile.day.isoformat(),
        "start": twin.start.isoformat(),
        "days": twin.days,
        "journeys": t.journeys,
        "steps": len(twin.steps or []),
        "clients": clients,
        "predicted": dict(sorted(t.codes.items())),
        "outcomes": dict(sorted(t.outcomes.items())),
        **({} if twin.one_bank else {BANKS: bank_headers(twin)}),
    }


def bank_headers(twin: Twin) -> dict[str, Any]:
    """The banks of a platform trace, in the scenario's order (the first is also at
    BASE): each one's name, customers, share of the arrivals and predicted answers."""
    whole = sum(b.share for b in twin.banks)
    return {
        bank.code: {
            "name": bank.name,
            "bulk_customers": len(bank.people),
            "share": round(bank.share / whole, 6) if whole else 0.0,
            "journeys": bank.tally.journeys,
            "predicted": dict(sorted(bank.tally.codes.items())),
        }
        for bank in twin.banks
    }
