"""Crashes: SIGKILL the server in the middle of a replay.

A replay of the twin's busy test trace runs against ``renkei serve --workers
2``; after a while every server process is killed with SIGKILL (no chance to
flush or close anything). The server is started again on the same data
directory, and then:

* every grant the replay saw acknowledged (a redirect with a code) is in
  ``/admin/grants``, with a ``granted`` line in the operation log, and at most
  the steps in flight at the kill added more;
* every lock the replay saw (``locked_now``) is in ``/admin/locks``;
* the SQLite file passes ``PRAGMA integrity_check``;
* the rest of the replay goes on with the same browsers (their flow cookies):
  flows in progress resume, or fail with a clear error — never a 5xx.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from servers import TOKEN, Server

from harness.driver import Sandbox
from harness.embedded import free_port
from harness.replay import Replayer, ReplayError
from renkei.contract import trace
from simulator.scenario import load_scenario
from simulator.twin.command import trace_header
from simulator.twin.journey import run
from simulator.twin.model import Twin
from simulator.twin.profile import load_profile

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data", free_port(), DATA / "twin.yaml", workers=2)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def busy_trace(path: Path) -> trace.Trace:
    twin = Twin(
        load_scenario(DATA / "twin.yaml"), load_profile(DATA / "twin-profile.yaml"), 1, trace=True
    )
    run(twin)
    trace.write(path, trace_header(twin), twin.steps or [])
    return trace.read(path)


def test_sigkill_loses_nothing_acknowledged(server: Server, tmp_path: Path) -> None:
    recorded = busy_trace(tmp_path / "trace.jsonl")
    replayer = Replayer(recorded, server.url, TOKEN, concurrency=2)
    stopped: list[BaseException] = []

    def play() -> None:
        try:
            replayer.run()
        except (requests.RequestException, ReplayError) as error:
            stopped.append(error)

    player = threading.Thread(target=play)
    player.start()
    # Kill once a good part of the day has been replayed (grants and locks made).
    deadline = time.monotonic() + 120
    while replayer.result.observed["granted"] < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert replayer.result.observed["granted"] >= 10, "the replay made no progress"
    server.kill()
    player.join(timeout=60)
    assert stopped, "the replay should have lost its server"
    acknowledged = replayer.result.observed.copy()
    assert replayer.position < len(recorded.steps)

    integrity = sqlite3.connect(tmp_path / "data" / "renkei.db")
    try:
        assert integrity.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        integrity.close()

    server.start()
    sandbox = Sandbox(server.url, TOKEN)
    grants = sandbox.grants()
    # Every acknowledged grant is there; at most the steps in flight added one more each.
    assert acknowledged["granted"] <= len(grants) <= acknowledged["granted"] + 2
    logged = [e for e in sandbox.oplog() if e["kind"] == "granted"]
    assert sorted(e["detail"]["grant_id"] for e in logged) == sorted(g["grant_id"] for g in grants)
    if acknowledged["locked_now"]:
        assert sandbox.locks(), "an acknowledged lock was lost"

    # The rest of the day, with the same browsers: resumed or failed cleanly.
    result = replayer.run(resume=True)
    assert result.complete
    assert not [code for code in result.observed if code.startswith("http_5")]
    # Only the steps in flight at the kill (and what follows from them) may differ.
    assert len(result.mismatches) <= 6, result.mismatches
