"""Benchmark: creating and deleting sandboxes (INTERFACE.md §9) of the default scenario.

Runs on demand, never in the test suite, against a server of its own on loopback::

    .venv/bin/python benchmarks/bench_sandboxes.py [COUNT] [--database-url URL]

(default: 100 sandboxes, SQLite in a temporary directory). Creates COUNT
sandboxes one after the other with ``POST /sandboxes`` (the operator's token,
the default scenario), then deletes each with ``DELETE /sandboxes/{id}``, and
prints p50, p99 and the worst of each, as the client saw it over HTTP. On
SQLite it also prints the database space one sandbox costs: the file's used
pages after the creates, less before, over COUNT.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from renkei.contract.sandboxes import SANDBOXES_PATH, sandbox_path  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402
from simulator.web.server import start_in_thread  # noqa: E402
from simulator.web.service import ServiceConfig  # noqa: E402

TOKEN = "bench-sandboxes-operator"
#: At most this many sandboxes: the run is bounded whatever is asked.
MOST = 1000


def used_bytes(engine: Engine) -> int:
    """SQLite's pages in use (free pages left by deletes excluded)."""
    with engine.connect() as c:
        pages = c.exec_driver_sql("PRAGMA page_count").scalar_one()
        free = c.exec_driver_sql("PRAGMA freelist_count").scalar_one()
        size = c.exec_driver_sql("PRAGMA page_size").scalar_one()
    return int((pages - free) * size)


def percentiles(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return (
        f"{name:8} n={len(ms)}  p50 {statistics.median(ms):7.1f} ms  "
        f"p99 {p99:7.1f} ms  max {ms[-1]:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("count", nargs="?", type=int, default=100)
    parser.add_argument("--database-url", metavar="URL")
    args = parser.parse_args()
    count = max(1, min(args.count, MOST))
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        config = ServiceConfig(
            database_url=url, admin_token=TOKEN, pin_key=b"p" * 32, secret_key=b"s" * 32
        )
        server = start_in_thread(
            config, load_scenario(ROOT / "scenarios/default.yaml"), max_sandboxes=count
        )
        sqlite = url.startswith("sqlite")
        try:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {TOKEN}"
            before = used_bytes(server.service.db) if sqlite else 0
            created, deleted, ids = [], [], []
            for i in range(count):
                began = time.perf_counter()
                r = http.post(server.url + SANDBOXES_PATH, json={"label": f"bench {i}"}, timeout=60)
                created.append(time.perf_counter() - began)
                if r.status_code != 201:
                    raise SystemExit(f"POST {SANDBOXES_PATH}: {r.status_code} {r.text}")
                ids.append(r.json()["id"])
            after = used_bytes(server.service.db) if sqlite else 0
            for sandbox_id in ids:
                began = time.perf_counter()
                r = http.delete(server.url + sandbox_path(sandbox_id), timeout=60)
                deleted.append(time.perf_counter() - began)
                if r.status_code != 204:
                    raise SystemExit(f"DELETE {sandbox_path(sandbox_id)}: {r.status_code}")
        finally:
            server.stop()
            server.service.db.dispose()
    print(f"sandboxes of the default scenario on {url.split(':')[0]}, over loopback HTTP")
    print(percentiles("create", created))
    print(percentiles("delete", deleted))
    if sqlite:
        print(f"space    {(after - before) / count / 1024:.1f} KiB a sandbox (SQLite pages in use)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
