"""The Locust file plays the twin's journeys against a live server.

Locust runs headless in a child process (it patches the standard library with
gevent, which must stay out of pytest's process), for a few seconds, with a
handful of users, against ``renkei serve`` on loopback; its statistics must
show the journeys' requests and no failure. By default it plays in a sandbox of
its own (INTERFACE.md §9), deleted when Locust quits, and leaves the root's
world alone; ``RENKEI_ROOT=1`` loads the root; a server without §9 is one line
and exit 2 before any user starts.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
from servers import bank_without_sandboxes

from harness.embedded import Target, embedded_sandbox
from renkei.contract import trace
from simulator.scenario import load_platform, load_scenario
from simulator.twin.command import trace_header
from simulator.twin.journey import run
from simulator.twin.model import Twin
from simulator.twin.profile import load_profile, parse_profile

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


def morning_trace(path: Path) -> None:
    """40 customers between 10:00 and 11:00, when the host is open."""
    base = load_profile(DATA / "twin-profile.yaml")
    profile = parse_profile(
        {
            "name": "morning",
            "day": base.day,
            "customers": 40,
            "hourly": [0] * 10 + [1] + [0] * 13,
            "clients": {"creco": 1},
            "behaviour": _behaviour(),
        },
        "morning.yaml",
    )
    twin = Twin(load_scenario(DATA / "twin.yaml"), profile, seed=5, trace=True)
    run(twin)
    trace.write(path, trace_header(twin), twin.steps or [])


def _behaviour() -> dict[str, object]:
    return {
        "think": {"SOA201": 2, "SOA202": 2, "SOA208": 1, "SOA209": 1, "SOA211": 1, "SOA206": 1},
        "think_sigma": 0.2,
        "abandon": {},
        "account_typo": 0.1,
        "input_mistake": 0.1,
        "forgot_phone": 0.1,
        "keeps_guessing": 0.2,
        "call_median_seconds": 5,
        "call_sigma": 0.2,
        "withheld": 0.0,
        "confirm_first": 0.0,
        "wrong_pin": 0.1,
        "deny": 0.0,
        "cancel": 0.0,
        "retry_refused": 0.0,
        "max_retries": 0,
        "retry_median_minutes": 1,
        "comes_back_locked": 0.0,
        "reauthorize": 0.0,
    }


def locust(
    trace_path: Path, host: str, stats: Path, seconds: int = 6, **settings: str
) -> subprocess.CompletedProcess[str]:
    """Locust headless in a child process: 4 users for ``seconds``, ``settings`` in
    its environment."""
    env = {**os.environ, "RENKEI_TRACE": str(trace_path), "RENKEI_SPEED": "100", **settings}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "locust"),
            *("-f", str(ROOT / "harness" / "locustfile.py"), "--headless"),
            *("-u", "4", "-r", "4", "-t", f"{seconds}s", "--host", host),
            *("--csv", str(stats), "--only-summary"),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def statistics(stats: Path) -> tuple[set[str], dict[str, str]]:
    """The names of the rows of Locust's statistics, and the aggregated row."""
    with Path(f"{stats}_stats.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {r["Name"] for r in rows}, next(r for r in rows if r["Name"] == "Aggregated")


def grants(target: Target) -> list[dict[str, Any]]:
    """The root's grants (GET /admin/grants, INTERFACE.md §6)."""
    r = requests.get(
        target.url + "/admin/grants",
        headers={"Authorization": f"Bearer {target.admin_token}"},
        timeout=10,
    )
    r.raise_for_status()
    body = r.json()
    found: list[dict[str, Any]] = body["grants"] if isinstance(body, dict) else body
    return found


def test_locust_plays_the_journeys_without_failures(tmp_path: Path) -> None:
    """In a sandbox of its own: made from the trace's scenario, deleted at the end,
    the journeys' grants in it and none in the root; then RENKEI_ROOT=1 on the root."""
    trace_path = tmp_path / "morning.jsonl"
    morning_trace(trace_path)
    first = trace.read(trace_path).steps[0]
    assert dt.datetime.fromisoformat(first.t).hour == 10
    with embedded_sandbox(("--scenario", str(DATA / "twin.yaml"))) as target:
        done = locust(
            trace_path, target.url, tmp_path / "stats", RENKEI_ADMIN_TOKEN=target.admin_token
        )
        assert done.returncode == 0, done.stderr[-3000:]
        said = re.search(
            rf"renkei locust: in sandbox ([0-9a-f]{{16}}) of its own, "
            rf"{re.escape(target.url)}/s/\1 \(scenario [^,]+, admin token \S+\), "
            r"deleted at the end",
            done.stderr,
        )
        assert said, done.stderr[-3000:]
        assert f"renkei locust: sandbox {said.group(1)} deleted" in done.stderr
        listed = requests.get(
            target.url + "/sandboxes",
            headers={"Authorization": f"Bearer {target.admin_token}"},
            timeout=10,
        )
        assert listed.json()["sandboxes"] == []
        assert grants(target) == []  # the root's world saw none of the load
        names, total = statistics(tmp_path / "stats")
        assert "/oauth/authorize [303]" in names, names
        assert any(n.startswith("/connect/customer [") for n in names), names
        assert "completed as traced" in names, names
        assert int(total["Request Count"]) > 20
        assert int(total["Failure Count"]) == 0

        done = locust(
            trace_path,
            target.url,
            tmp_path / "root",
            seconds=4,
            RENKEI_ROOT="1",
            RENKEI_RESET="1",
            RENKEI_ADMIN_TOKEN=target.admin_token,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "in sandbox" not in done.stderr
        names, total = statistics(tmp_path / "root")
        assert "completed as traced" in names, names
        assert int(total["Failure Count"]) == 0
        assert grants(target) != []  # on the root this time


def test_a_server_without_sandboxes_is_one_line_and_exit_2(tmp_path: Path) -> None:
    trace_path = tmp_path / "morning.jsonl"
    morning_trace(trace_path)
    with bank_without_sandboxes() as url:
        done = locust(trace_path, url, tmp_path / "stats", seconds=2, RENKEI_ADMIN_TOKEN="t")
    assert done.returncode == 2, done.stderr[-3000:]
    line = (
        f"renkei locust: {url} does not serve POST /sandboxes (INTERFACE.md §9); set "
        "RENKEI_ROOT=1 to load its root sandbox"
    )
    assert line in done.stderr.splitlines(), done.stderr[-3000:]
    assert "Traceback" not in done.stderr


def platform_morning_trace(path: Path) -> None:
    """40 customers of the test platform's three banks between 10:00 and 11:00."""
    base = load_profile(DATA / "twin-platform-profile.yaml")
    profile = parse_profile(
        {
            "name": "platform-morning",
            "day": base.day,
            "customers": 40,
            "hourly": [0] * 10 + [1] + [0] * 13,
            "banks": {"9901": 1, "9902": 1, "9903": 1},
            "clients": {"creco": 1},
            "behaviour": _behaviour(),
        },
        "platform-morning.yaml",
    )
    twin = Twin(load_platform(DATA / "twin-platform.yaml"), profile, seed=5, trace=True)
    run(twin)
    trace.write(path, trace_header(twin), twin.steps or [])


def test_locust_plays_a_platform_trace_at_each_bank(tmp_path: Path) -> None:
    """A platform's trace (INTERFACE.md §10) in a sandbox of its own made from the
    trace's platform scenario: each journey at its bank's BASE/banks/CODE/, which the
    statistics name, and no failure."""
    trace_path = tmp_path / "platform.jsonl"
    platform_morning_trace(trace_path)
    assert set(trace.read(trace_path).banks) == {"9901", "9902", "9903"}
    with embedded_sandbox(("--scenario", str(DATA / "twin.yaml"))) as target:
        done = locust(
            trace_path, target.url, tmp_path / "stats", RENKEI_ADMIN_TOKEN=target.admin_token
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "renkei locust: in sandbox " in done.stderr, done.stderr[-3000:]
        assert grants(target) == []  # the root's world saw none of the load
    names, total = statistics(tmp_path / "stats")
    authorized = {n for n in names if re.fullmatch(r"/banks/990[123]/oauth/authorize \[303\]", n)}
    assert len(authorized) >= 2, names
    assert "completed as traced" in names, names
    assert int(total["Failure Count"]) == 0
