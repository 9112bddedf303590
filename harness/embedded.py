"""The embedded target: ``renkei serve`` in a child process on a free loopback port.

A separate process, not an import, so that the harness speaks to renkei only
through HTTP exactly as it would to any other implementation. The child runs
``python -m simulator.serve``, which is ``renkei serve`` without importing the
command's other subcommands.

Starting takes a second or two (the child imports Flask, SQLAlchemy and the
scenario and builds the bank), so :class:`EmbeddedSandbox` splits it in two:
making one launches the child and returns at once, and
:meth:`~EmbeddedSandbox.ready` waits until it answers. The pytest plugin starts
it while pytest is still collecting the features (harness.plugin).
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from renkei.contract.oauth import METADATA_PATH

#: How often to ask a starting child whether it answers yet.
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Target:
    """Where the implementation under test is (a server's base URL or a sandbox's,
    INTERFACE.md §9), its admin token and, when known, its telephony gateway's
    secret (§4); without it the phone gives the gateway the admin token."""

    url: str
    admin_token: str
    telephony_secret: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(
    url: str, seconds: float, gone: Callable[[], str | None] = lambda: None
) -> None:
    """Until the server at ``url`` answers on its port (its OAuth metadata, RFC 8414,
    any status); RuntimeError when ``gone`` says why it never will, or after
    ``seconds``."""
    deadline = time.monotonic() + seconds
    with requests.Session() as session:
        while True:
            if (why := gone()) is not None:
                raise RuntimeError(why)
            try:
                session.get(url + METADATA_PATH, timeout=1)
                return
            # Refused while the port is not yet open; a read timeout while the child,
            # listening already, is still importing under a loaded machine. Both
            # mean "not yet", until the deadline.
            except (requests.ConnectionError, requests.Timeout):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the sandbox did not start on {url}:") from None
                time.sleep(POLL_SECONDS)


class EmbeddedSandbox:
    """One ``renkei serve`` child with a data directory of its own, removed on stop."""

    def __init__(self, extra: tuple[str, ...] = ()) -> None:
        """Launch the child (``extra``: more ``renkei serve`` options); do not wait for it."""
        # Hex, so the token can never start with "-" and be read as an option.
        self.target = Target(
            f"http://127.0.0.1:{free_port()}", secrets.token_hex(16), secrets.token_hex(16)
        )
        self._data = tempfile.TemporaryDirectory(prefix="renkei-conform-")
        # The child's output goes to a file, not a pipe: nobody reads a pipe while
        # the features run, and a full one would stop the server mid-run.
        self._log_path = Path(self._data.name) / "serve.log"
        self._answered = False
        port = self.target.url.rsplit(":", 1)[1]
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "simulator.serve",
                    "--port",
                    port,
                    "--data-dir",
                    self._data.name,
                    f"--admin-token={self.target.admin_token}",
                    f"--telephony-secret={self.target.telephony_secret}",
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        """The child's process id (the parent of its workers under ``--workers``)."""
        return self._process.pid

    def _output(self) -> str:
        try:
            return self._log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def ready(self, start_seconds: float = 30) -> Target:
        """The target, once the child answers on its port (OAuth metadata, RFC 8414);
        RuntimeError with the child's output when it exits or does not answer in time."""
        if self._answered:
            return self.target

        def exited() -> str | None:
            if self._process.poll() is None:
                return None
            return "the embedded sandbox exited:"

        try:
            wait_until_answers(self.target.url, start_seconds, exited)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{self._output()}") from None
        self._answered = True
        return self.target

    def terminate(self) -> None:
        """Ask the child to stop (SIGTERM) without waiting: its shutdown goes on while
        the caller writes its report; :meth:`stop` then waits for it."""
        if self._process.poll() is None:
            self._process.terminate()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after 10 s) and remove its data; idempotent."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._data.cleanup()


@contextmanager
def embedded_sandbox(extra: tuple[str, ...] = (), start_seconds: float = 30) -> Iterator[Target]:
    """Start the sandbox bank on 127.0.0.1; stop it afterwards, whatever happened."""
    child = EmbeddedSandbox(extra)
    try:
        yield child.ready(start_seconds)
    finally:
        child.stop()
