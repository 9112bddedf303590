"""Two ``renkei serve`` processes over one database give the answers of one
(issue 4): the lockout count of R-ERR-HOST-2/3/4 is shared, and so is the
sandbox clock."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from bankdriver import CUSTOMER, Customer, PartnerApp, walk_json

ADMIN = "two-process-token"
LOCKOUT = {"branch_no": "115", "account_type": "1", "account_no": "3000003"}
WRONG = {**CUSTOMER, "name_kana": "ｺﾊﾞﾔｼ ﾏｺﾄ", "birth_year": "1983", "birth_month": "03",
         "birth_day": "04", "phone": "09044445555"}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            requests.get(url + "/.well-known/oauth-authorization-server", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds} s")


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port),
             "--data-dir", str(tmp_path), "--admin-token", ADMIN],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        urls.append(f"http://127.0.0.1:{port}")
        wait_until_up(urls[-1], processes[-1])
    try:
        yield urls[0], urls[1]
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_two_processes_share_one_lockout_count(two_servers: tuple[str, str]) -> None:
    """R-ERR-HOST-3/4 across processes: 2 failures on A, 2 on B, the 5th on A locks,
    and B then answers B84; both list the same lock."""
    a, b = two_servers
    auth = {"Authorization": f"Bearer {ADMIN}"}
    r = requests.put(a + "/sandbox/clock", headers=auth, timeout=10,
                     json={"now": "2026-11-24T10:15:00+09:00", "frozen": True})  # fmt: skip
    assert r.status_code == 200
    assert requests.get(b + "/sandbox/clock", headers=auth, timeout=10).json()["now"] == (
        "2026-11-24T10:15:00+09:00"
    )
    on_a, on_b = Customer(a), Customer(b)
    walk_json(a, PartnerApp(a), on_a, until="SOA202", account=LOCKOUT)
    walk_json(b, PartnerApp(b), on_b, until="SOA202", account=LOCKOUT)
    codes = []
    for customer in (on_a, on_a, on_b, on_b, on_a):
        codes.append(customer.post("/connect/customer", WRONG).codes[0])
    assert codes == ["identity_mismatch"] * 4 + ["locked_now"]
    assert on_b.post("/connect/customer", WRONG).codes == ["B84"]
    for url in (a, b):
        locks = requests.get(url + "/admin/locks", headers=auth, timeout=10).json()["locks"]
        assert [(x["account"], x["failures"]) for x in locks] == [("115-1-3000003", 5)]
