"""The Locust file plays the twin's journeys against a live server.

Locust runs headless in a child process (it patches the standard library with
gevent, which must stay out of pytest's process), for a few seconds, with a
handful of users, against ``renkei serve`` on loopback; its statistics must
show the journeys' requests and no failure.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from harness.embedded import embedded_sandbox
from renkei.contract import trace
from simulator.scenario import load_scenario
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


def test_locust_plays_the_journeys_without_failures(tmp_path: Path) -> None:
    trace_path = tmp_path / "morning.jsonl"
    morning_trace(trace_path)
    first = trace.read(trace_path).steps[0]
    assert dt.datetime.fromisoformat(first.t).hour == 10
    locust = str(Path(sys.executable).parent / "locust")
    with embedded_sandbox(("--scenario", str(DATA / "twin.yaml"))) as target:
        env = {
            **os.environ,
            "RENKEI_TRACE": str(trace_path),
            "RENKEI_SPEED": "100",
            "RENKEI_RESET": "1",
            "RENKEI_ADMIN_TOKEN": target.admin_token,
        }
        done = subprocess.run(
            [
                locust,
                "-f",
                str(ROOT / "harness" / "locustfile.py"),
                "--headless",
                "-u",
                "4",
                "-r",
                "4",
                "-t",
                "6s",
                "--host",
                target.url,
                "--csv",
                str(tmp_path / "stats"),
                "--only-summary",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    with (tmp_path / "stats_stats.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = {r["Name"] for r in rows}
    assert "/oauth/authorize [303]" in names, names
    assert any(n.startswith("/connect/customer [") for n in names), names
    assert "completed as traced" in names, names
    total = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 20
    assert int(total["Failure Count"]) == 0
