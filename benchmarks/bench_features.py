"""Benchmark: the whole ``renkei conform`` on the embedded sandbox, one at a time and
on parallel workers (each in a sandbox of its own, INTERFACE.md §9), side by side.

Runs ``renkei conform -n 1`` and ``renkei conform -n N`` (N: the number of cores
unless given) a few times each, alternately, and prints the wall time of each
run (the embedded server's start and stop included), the best and the median of
each. Run on demand: ``.venv/bin/python benchmarks/bench_features.py [RUNS [N]]``;
never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from renkei.args import OneLineParser, positive_int


def one_run(workers: int, out: str) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "renkei.cli", "conform", "-n", str(workers), "--out", out],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    return seconds, last, done.returncode


def main(runs: int = 3, workers: int = os.cpu_count() or 1) -> int:
    times: dict[int, list[float]] = {1: [], workers: []}
    with tempfile.TemporaryDirectory(prefix="renkei-bench-") as out:
        for i in range(runs):
            for n, taken in times.items():
                seconds, last, code = one_run(n, out)
                taken.append(seconds)
                print(f"run {i + 1}, -n {n}: {seconds:.2f} s  ({last})")
                if code != 0:
                    print(f"renkei conform -n {n} exited {code}", file=sys.stderr)
                    return 1
    for n, taken in times.items():
        print(
            f"-n {n}: best {min(taken):.2f} s, median {statistics.median(taken):.2f} s "
            f"over {runs} runs"
        )
    return 0


def parse(argv: list[str]) -> argparse.Namespace:
    parser = OneLineParser(
        prog="bench_features.py",
        description="renkei conform on the embedded sandbox: -n 1 and -n N side by side.",
    )
    parser.add_argument("runs", nargs="?", type=positive_int, default=3, help="runs of each")
    parser.add_argument(
        "workers", nargs="?", type=positive_int, default=os.cpu_count() or 1, help="N"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    sys.exit(main(args.runs, args.workers))
