"""The retention purge of a serving process: a thread that, every interval, deletes
what is past its retention (simulator.store.retention) from the database.

Every serving process has one (``renkei serve`` and each of its ``--workers``), and
each interval the first of them to claim it purges (``retention.claim``, one
conditional UPDATE): the others find it taken and wait for the next, so a purge is
not done once per process. A process that dies mid-purge leaves the rest to the
next interval's. Between two batches the thread sleeps a moment, so that the
requests waiting to write (SQLite has one writer at a time) go first; after the
purge, on PostgreSQL, the tables it deleted from are vacuumed (``reclaim``).
"""

from __future__ import annotations

import logging
import time

from sqlalchemy import Engine

from simulator.core.clock import Clock, SystemClock
from simulator.store.retention import Retention, claim, purge, reclaim
from simulator.web.periodic import Periodic

log = logging.getLogger("renkei")

#: How long the purge lets the requests write between two of its batches.
PAUSE_SECONDS = 0.01


class Purger:
    """The purge of ``engine`` by ``retention``, by the real time of ``wall``."""

    def __init__(self, engine: Engine, retention: Retention, wall: Clock | None = None) -> None:
        self.engine = engine
        self.retention = retention
        self.wall = wall or SystemClock()
        self._every = Periodic(
            self.once, self.retention.interval, "renkei-purge", "the retention purge"
        )

    def once(self) -> dict[str, int] | None:
        """One interval's turn: the purge's counts if this process claimed it, else None."""
        now = self.wall.now().timestamp()
        if not claim(self.engine, now, self.retention.interval()):
            return None
        gone = purge(self.engine, self.retention, now, lambda: time.sleep(PAUSE_SECONDS))
        if any(gone.values()):
            reclaim(self.engine, gone)
            log.info("renkei: purged past their retention: %s", gone)
        return gone

    def start(self) -> None:
        """Purge every interval in a thread of this process, until :meth:`stop`."""
        self._every.start()

    def stop(self) -> None:
        self._every.stop()
