"""Servers the tests control: a ``renkei serve`` process started, killed and started
again on the same data directory (crash and secrets tests), and a stand-in bank
without INTERFACE.md §9 (the tools that make sandboxes of their own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

TOKEN = "0123456789abcdef0123456789abcdef"


class Server:
    """``renkei serve`` in its own process group, so that a kill takes every worker."""

    def __init__(
        self, data: Path, port: int, scenario: Path, workers: int = 1, log: Path | None = None
    ) -> None:
        self.data, self.port, self.scenario, self.workers = data, port, scenario, workers
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "renkei",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data),
                "--scenario",
                str(self.scenario),
                "--workers",
                str(self.workers),
                f"--admin-token={TOKEN}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not isinstance(out, int):
            out.close()  # the child has its own copy
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.url + "/.well-known/oauth-authorization-server", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):
                assert self.process.poll() is None, "the server exited at start"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        # The workers are in the same group; wait until the port is free again.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=0.5)
            except requests.ConnectionError:
                return
            time.sleep(0.1)
        raise AssertionError("a server process survived SIGKILL of its group")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)


class _Without9(BaseHTTPRequestHandler):
    """A bank without INTERFACE.md §9: every path is unknown (404)."""

    def _unknown(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = _unknown

    def log_message(self, *_: Any) -> None:  # the test's output stays clean
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The URL of a loopback server answering with ``handler``, in a thread, for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def bank_without_sandboxes() -> Iterator[str]:
    """The URL of a loopback server that answers 404 to everything, POST /sandboxes
    included: a target that serves no sandboxes (and, here, no controls either)."""
    with serving(_Without9) as url:
        yield url
