"""Two ``renkei serve`` processes over one database give the answers of one:
the lockout count of R-ERR-HOST-2/3/4 is shared, and so is the
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
from bankdriver import CUSTOMER, TELEPHONY, Customer, PartnerApp, walk_json

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
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not come up in {seconds} s")


def serve(data_dir: Path, *extra: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "renkei", "serve", "--port", str(port),
         "--data-dir", str(data_dir), "--admin-token", ADMIN, "--telephony-secret", TELEPHONY,
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
    except AssertionError:
        stop(process)
        raise
    return url, process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    (a, first), (b, second) = serve(tmp_path), serve(tmp_path)
    try:
        yield a, b
    finally:
        stop(first)
        stop(second)


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


def test_serve_with_two_workers_completes_a_flow(tmp_path: Path) -> None:
    """``renkei serve --workers 2``: pre-forked processes on one port finish the flow,
    and SIGTERM stops them all."""
    url, process = serve(tmp_path, "--workers", "2")
    try:
        auth = {"Authorization": f"Bearer {ADMIN}"}
        requests.put(url + "/sandbox/clock", headers=auth, timeout=10,
                     json={"now": "2026-11-24T10:15:00+09:00", "frozen": True})  # fmt: skip
        app, customer = PartnerApp(url), Customer(url)
        walk_json(url, app, customer)
        done = customer.post("/connect/consent", {"decision": "allow", "agree": "1"})
        assert done.location
        token = app.exchange(done.location)
        for _ in range(6):  # spread over both workers
            assert app.api(token["access_token"], "/v1/accounts").status_code == 200
        mail = requests.get(url + "/sandbox/mail", headers=auth, timeout=10).json()["mail"]
        assert [m["to"] for m in mail] == ["taro@example.jp"]
    finally:
        stop(process)
    assert process.returncode == 0
