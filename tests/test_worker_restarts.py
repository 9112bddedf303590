"""``renkei serve --workers N`` replaces a worker that dies (simulator.workers).

Over a real server: a worker killed with SIGKILL is replaced by a new child of
the parent on the same port, said in one line, and the service goes on answering
and completes a flow (on SQLite and PostgreSQL); SIGINT then stops every worker
and the parent exits 0.
Workers that cannot start — the SQLite database's directory removed under a
running server, so that a new worker cannot open it — stop the service with exit
status 1 and one line, rather than a fork loop. The rules themselves
(:class:`~simulator.workers.Restarts`) with given times.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bankdriver import TELEPHONY, Customer, PartnerApp, walk_json
from test_server_processes import ADMIN, free_port

from simulator.workers import FAILED_STARTS, RESTART_LIMIT, RESTART_WINDOW, Restarts, ended

#: How long a test waits for what the server is about to say or do: a bound, not a
#: measurement (the machine may be slow); passing never depends on it.
PATIENCE = 60


class Server:
    """``renkei serve --workers 2`` in a process of its own, its output read in a thread."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "renkei", "serve", "--workers", "2",
             "--port", self.url.rsplit(":", 1)[1], "--data-dir", str(data_dir),
             "--admin-token", ADMIN, "--telephony-secret", TELEPHONY, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._heard = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._heard:
                self.lines.append(line.rstrip("\n"))
                self._heard.notify_all()

    def said(self, pattern: str) -> re.Match[str]:
        """The first line matching ``pattern``, once the server has said it."""
        deadline = time.monotonic() + PATIENCE
        with self._heard:
            while True:
                for line in self.lines:
                    if found := re.search(pattern, line):
                        return found
                assert time.monotonic() < deadline, f"never said {pattern!r}: {self.lines}"
                self._heard.wait(1)

    def answers(self) -> None:
        """Wait until the server answers (the metadata), or fail if it ended."""
        deadline = time.monotonic() + PATIENCE
        while True:
            assert self.process.poll() is None, self.lines
            try:
                r = requests.get(self.url + "/.well-known/oauth-authorization-server", timeout=5)
                assert r.status_code == 200
                return
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, f"{self.url} does not answer: {self.lines}"
                time.sleep(0.2)

    def workers(self) -> list[int]:
        return [int(p) for p in self.said(r"workers +2 processes: (\d+), (\d+)").groups()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=PATIENCE)


def parent_of(pid: int) -> int:
    """The parent pid of a live process (field 4 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "data")
    yield running
    running.stop()


@pytest.fixture
def on_database(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """The server over an empty database: a SQLite file, or the test PostgreSQL."""
    running = Server(tmp_path / "data", "--database-url", database_url)
    yield running
    running.stop()


def test_a_killed_worker_is_replaced_and_the_service_goes_on(on_database: Server) -> None:
    server = on_database
    server.answers()
    first, second = server.workers()
    os.kill(first, signal.SIGKILL)
    line = server.said(rf"renkei: worker {first} (.+); worker (\d+) started in its place")
    # "before serving" too if it was still starting (the metadata came from the other).
    assert line.group(1) in ("was killed by SIGKILL", "was killed by SIGKILL before serving")
    new = int(line.group(2))
    assert new not in (first, second)
    assert parent_of(new) == server.process.pid == parent_of(second)
    server.answers()
    # A whole flow afterwards, its calls spread over the workers, with its mail.
    auth = {"Authorization": f"Bearer {ADMIN}"}
    requests.put(server.url + "/sandbox/clock", headers=auth, timeout=10,
                 json={"now": "2026-11-24T10:15:00+09:00", "frozen": True})  # fmt: skip
    app, customer = PartnerApp(server.url), Customer(server.url)
    walk_json(server.url, app, customer)
    done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
    assert done.location
    token = app.exchange(done.location)
    for _ in range(6):
        assert app.api(token["access_token"], "/v1/accounts").status_code == 200
    mail = requests.get(server.url + "/sandbox/mail", headers=auth, timeout=10).json()["mail"]
    assert [m["to"] for m in mail] == ["taro@example.jp"]
    # SIGINT, as a terminal's Ctrl-C, stops every worker; the parent exits 0.
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=PATIENCE) == 0
    assert gone(second) and gone(new)
    assert not any("Traceback" in line for line in server.lines)


def test_workers_that_cannot_start_stop_the_service(server: Server, tmp_path: Path) -> None:
    """The database becomes unreachable after the parent opened it: the SQLite file's
    directory removed, a new worker cannot open it, nor can its replacements."""
    server.answers()
    first, second = server.workers()
    shutil.rmtree(tmp_path / "data")
    os.kill(first, signal.SIGKILL)
    assert server.process.wait(timeout=PATIENCE) == 1
    server.said(r"renkei: worker \d+ cannot start: cannot open the database sqlite:///")
    server.said(
        r"renkei: worker \d+ exited with status 1 before serving; .+: stopping the service$"
    )
    replaced = [line for line in server.lines if "started in its place" in line]
    assert 1 <= len(replaced) < FAILED_STARTS
    assert gone(second)
    assert not any("Traceback" in line for line in server.lines)


def test_the_restart_limits() -> None:
    """Workers dying before serving stop the service at the FAILED_STARTS-th in a row,
    unless one served in between; deaths of any kind stop it at RESTART_LIMIT within
    RESTART_WINDOW seconds, never when they are spread out."""
    failing = Restarts()
    assert [failing.died(100.0 * n, served=False) for n in range(FAILED_STARTS - 1)] == [None] * (
        FAILED_STARTS - 1
    )
    failing.serving()  # a worker served: the count starts again
    for n in range(FAILED_STARTS - 1):
        assert failing.died(1000.0 + 100 * n, served=False) is None
    assert (
        failing.died(5000.0, served=False)
        == f"{FAILED_STARTS} workers in a row died before serving"
    )

    quick = Restarts()
    step = RESTART_WINDOW / RESTART_LIMIT
    for n in range(RESTART_LIMIT - 1):
        assert quick.died(n * step, served=True) is None
    assert quick.died((RESTART_LIMIT - 1) * step, served=True) == (
        f"{RESTART_LIMIT} workers died within {RESTART_WINDOW:g} s"
    )

    spread = Restarts()
    assert all(spread.died(n * RESTART_WINDOW, served=True) is None for n in range(50))


def test_how_a_worker_ended_is_said() -> None:
    assert ended(9) == "was killed by SIGKILL"
    assert ended(1 << 8) == "exited with status 1"
    assert ended(0) == "exited with status 0"
