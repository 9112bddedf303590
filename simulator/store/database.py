"""Opening the database: an SQLAlchemy engine with the schema created."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
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
    _upgrade(engine)
    return engine


def _upgrade(engine: Engine) -> None:
    """Columns added since a database was first created (create_all adds tables only)."""
    columns = {c["name"] for c in inspect(engine).get_columns("flows")}
    if "revision" not in columns:  # issue 7: optimistic concurrency on flows
        with engine.begin() as c:
            c.execute(text("ALTER TABLE flows ADD COLUMN revision INTEGER NOT NULL DEFAULT 1"))


def upsert(engine: Engine, table: Table) -> Insert:
    """An INSERT that can say ON CONFLICT, in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"renkei supports SQLite and PostgreSQL, not {engine.dialect.name}")
