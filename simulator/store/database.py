"""Opening the database: an SQLAlchemy engine with the schema created."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Insert
from sqlalchemy.sql.schema import Table

from simulator.store.schema import metadata


def open_database(url: str) -> Engine:
    """An engine for ``url`` with every table created (idempotent)."""
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
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
    return engine


def upsert(engine: Engine, table: Table) -> Insert:
    """An INSERT that can say ON CONFLICT, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"renkei supports SQLite and PostgreSQL, not {engine.dialect.name}")
