"""Opening the database: an SQLAlchemy engine with the schema created."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

from simulator.store.schema import metadata


def open_database(url: str) -> Engine:
    """An engine for ``url`` with every table created (idempotent)."""
    # A pool as large as a worker's threads (8 by default) and the mail and sink
    # threads beside them: past the pool, SQLAlchemy closes each connection it is
    # given back, and the next request pays for a new one (and its PRAGMAs).
    engine = create_engine(url, future=True, pool_size=16, max_overflow=16)
    if engine.dialect.name == "sqlite":
        _WRITERS[engine] = threading.RLock()

        # Several server processes share one file: wait for a writer instead of
        # failing at once, and let readers go on beside it (WAL).
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    metadata.create_all(engine)
    _upgrade(engine)
    return engine


#: One writer at a time per SQLite database in each process. SQLite lets one
#: connection write at a time anyway; without this the others wait in its busy
#: handler, which sleeps in steps of up to 100 ms, and a thread holding the write
#: lock can itself wait on the GIL behind them. Waiting here instead wakes the next
#: writer as soon as the last commits. Measured with 32 clients walking flows
#: (benchmarks/bench_throughput.py, two runs each way): ⑥'s p99 in the bank went
#: from 1.2–1.7 s to 0.28–0.34 s, with the same flows per second.
#: PostgreSQL locks rows, not the database, and needs nothing of this.
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes (``engine.begin()``), committed on leaving."""
    with _WRITERS.get(engine) or nullcontext(), engine.begin() as connection:
        yield connection


def _upgrade(engine: Engine) -> None:
    """Columns added since a database was first created (create_all adds tables only)."""
    columns = {c["name"] for c in inspect(engine).get_columns("flows")}
    if "revision" not in columns:  # a store from before optimistic concurrency on flows
        with engine.begin() as c:
            c.execute(text("ALTER TABLE flows ADD COLUMN revision INTEGER NOT NULL DEFAULT 1"))


def upsert(engine: Engine, table: Table) -> Insert:
    """An INSERT that can say ON CONFLICT, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"renkei supports SQLite and PostgreSQL, not {engine.dialect.name}")
