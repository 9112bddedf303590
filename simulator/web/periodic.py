"""A job a serving process runs at an interval in a daemon thread of its own (the
sweep of expired sandboxes, the retention purge) until it is stopped. A turn that
fails is logged and the next one tries again: a background job never stops the
server."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("renkei")


class Periodic:
    """``job`` every ``seconds()`` seconds in a thread named ``name``; ``what`` names
    the job in the log line of a turn that failed."""

    def __init__(
        self, job: Callable[[], object], seconds: Callable[[], float], name: str, what: str
    ) -> None:
        self.job, self.seconds, self.name, self.what = job, seconds, name, what
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; nothing when it runs already."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No turn after the one under way, if any."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self.seconds()):
            try:
                self.job()
            except Exception:  # the next turn tries again; the server goes on
                log.exception("renkei: %s failed", self.what)
