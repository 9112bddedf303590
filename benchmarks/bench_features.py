"""Benchmark: the whole feature run over HTTP on loopback (the 15 s goal).

Runs ``pytest features`` (embedded sandbox started and stopped included) a few
times and prints the wall time of each run, the best and the median. Run on
demand: ``.venv/bin/python benchmarks/bench_features.py [RUNS]``; never part
of the test suite.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(runs: int = 3) -> int:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "features", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - start)
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
        print(f"run {i + 1}: {times[-1]:.2f} s  ({last})")
        if done.returncode != 0:
            print(done.stdout[-3000:], file=sys.stderr)
            return 1
    print(f"best {min(times):.2f} s, median {statistics.median(times):.2f} s over {runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
