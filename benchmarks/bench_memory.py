"""Benchmark: the twin's peak memory for one day of a traffic profile. On demand only.

    .venv/bin/python benchmarks/bench_memory.py [--arrivals 1000000] [--profile payday]
        [--scenario load] [--capacity 100000] [--limit 3600]

Runs ``renkei simulate PROFILE --customers ARRIVALS`` in a child process (no
plots, no tables) and prints the attempts it simulated, its wall time and its
peak resident memory: ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``, the
largest resident set of the children this process waited for, here that one
child (the goal: under 1 GiB for a day of 1,000,000 attempts).

The day's journeys are full ones: the scenario is written again with
``capacity_flows`` at ``--capacity`` (0 keeps the scenario's own), since at the
shipped 200 slots most of a million arrivals are answered 「混雑」 at once and
cost the twin one step each. A server worker's memory after 10,000 flows is
``bench_throughput.py --memory 10000``.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The summary line ``renkei simulate`` ends with: ``renkei simulate: 1,992 attempts, …``.
SUMMARY = re.compile(r"renkei simulate: ([\d,]+) attempts")
GIB = 1024**3


def arguments() -> argparse.Namespace:
    """The run's options, each checked: a bad one is one line and exit 2."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--arrivals", type=int, default=1_000_000, help="the day's customers")
    parser.add_argument("--profile", default="payday", help="a shipped profile or a file")
    parser.add_argument("--scenario", default="load", help="a shipped scenario (its name)")
    parser.add_argument(
        "--capacity", type=int, default=100_000, help="capacity_flows (0: the scenario's own)"
    )
    parser.add_argument(
        "--limit", type=float, default=3600, help="seconds before the child is stopped"
    )
    args = parser.parse_args()
    if not 1 <= args.arrivals <= 10_000_000:
        parser.error("--arrivals must be between 1 and 10000000")
    if not 0 < args.limit <= 86_400:
        parser.error("--limit must be more than 0 and at most 86400 seconds")
    if not 0 <= args.capacity <= 10_000_000:
        parser.error("--capacity must be between 0 and 10000000")
    if not (ROOT / "scenarios" / f"{args.scenario}.yaml").is_file():
        parser.error(f"--scenario: no scenario {args.scenario!r} in {ROOT / 'scenarios'}")
    return args


def main() -> int:
    args = arguments()
    text = (ROOT / "scenarios" / f"{args.scenario}.yaml").read_text(encoding="utf-8")
    if args.capacity:
        text, changed = re.subn(
            r"capacity_flows: \d+", f"capacity_flows: {args.capacity}", text, count=1
        )
        if not changed:
            print(f"{args.scenario}.yaml has no capacity_flows to change", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        scenario = Path(folder) / f"{args.scenario}.yaml"
        scenario.write_text(text, "utf-8")
        command = [sys.executable, "-m", "renkei", "simulate", args.profile]
        command += ["--scenario", str(scenario), "--customers", str(args.arrivals)]
        command += ["--no-plots", "--quiet", "--out", str(Path(folder) / "out")]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        began = time.perf_counter()
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=args.limit, check=False, cwd=ROOT
            )
        except subprocess.TimeoutExpired:
            # subprocess.run has killed and reaped the child: its peak until then counts.
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"renkei simulate did not finish in {args.limit:.0f} s; its peak RSS until "
                f"then: {peak:,.0f} MiB",
                file=sys.stderr,
            )
            return 1
        wall = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
    if done.returncode != 0:
        print(
            f"renkei simulate failed ({done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr
        )
        return 1
    found = SUMMARY.search(done.stdout + done.stderr)
    attempts = found.group(1) if found else "?"
    capacity = f"capacity_flows {args.capacity:,}" if args.capacity else "its own capacity"
    print(
        f"renkei simulate {args.profile} --customers {args.arrivals:,} on {args.scenario} "
        f"({capacity}): {attempts} attempts in {wall:.0f} s"
    )
    grew = "" if peak > before * 1024 else " (no larger than an earlier child's: unreliable)"
    verdict = "met" if peak < GIB else "NOT met"
    print(
        f"twin's peak RSS: {peak / 1024**2:,.0f} MiB (goal < 1 GiB: {verdict}){grew}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
