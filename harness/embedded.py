"""The embedded target: ``renkei serve`` in a child process on a free loopback port.

A separate process, not an import, so that the harness speaks to renkei only
through HTTP exactly as it would to any other implementation.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests


@dataclass(frozen=True)
class Target:
    url: str
    admin_token: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def embedded_sandbox(extra: tuple[str, ...] = (), start_seconds: float = 30) -> Iterator[Target]:
    """Start the sandbox bank on 127.0.0.1; stop it afterwards, whatever happened."""
    # Hex, so the token can never start with "-" and be read as an option.
    token = secrets.token_hex(16)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="renkei-conform-") as data:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.cli",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                data,
                f"--admin-token={token}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_seconds
            while True:
                if process.poll() is not None:
                    out = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"the embedded sandbox exited:\n{out}")
                try:
                    requests.get(url + "/.well-known/oauth-authorization-server", timeout=1)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the embedded sandbox did not start on {url}") from None
                    time.sleep(0.1)
            yield Target(url, token)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
